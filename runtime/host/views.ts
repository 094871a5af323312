/**
 * A connection as others see it: its view (`/actors`, the inspector, `stepped` events) and
 * its stored record (what survives a restart). Both read the statechart's snapshot; neither
 * folds anything, so callers fold pending signs of life first.
 */
import type { Connection } from './connection.ts';
import type { ConnectionView } from './types.ts';
import type { StoredConnection } from './store.ts';

/** `{ alive: 'watching' }` as `alive.watching`: how views and events name a state. */
export function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  const [key, child] = Object.entries(value as Record<string, unknown>)[0] ?? ['?', undefined];
  return child === undefined ? key : `${key}.${stateName(child)}`;
}

export function viewOf(conn: Connection): ConnectionView {
  const snapshot = conn.stepper.snapshot;
  const c = snapshot.context;
  return {
    id: conn.id,
    state: stateName(snapshot.value),
    codec: conn.spec.name,
    meta: conn.meta,
    role: c.role,
    interval: c.interval,
    count: c.count,
    sendPings: c.sendPings,
    lastSignOfLife: c.lastSignOfLife,
    unanswered: c.unanswered,
    wakeAt: c.wakeAt,
    advertised: c.advertised,
    pingsSent: c.pingsSent,
    pongsSent: c.pongsSent,
    pingsReceived: c.pingsReceived,
    pongsReceived: c.pongsReceived,
    messagesReceived: c.messagesReceived,
  };
}

export function recordOf(conn: Connection): StoredConnection {
  return {
    id: conn.id,
    codec: conn.spec,
    stream: conn.reader !== null,
    snapshot: conn.stepper.persisted(),
    ...(Object.keys(conn.meta).length > 0 ? { meta: conn.meta } : {}),
  };
}
