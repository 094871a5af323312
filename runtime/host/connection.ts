/**
 * One connection as the host keeps it, and the pure functions over it: its view, its
 * stored record, the PING-flood count. The statechart's snapshot holds the protocol's
 * state; what is here is the host's bookkeeping around it (the fast path's pending signs
 * of life, the socket's fate).
 */
import type { KeepaliveEmitted, KeepaliveEvent, KeepaliveOptions } from '../../actors/keepalive.ts';
import type { Codec, CodecSpec, FrameReader, Inbound } from '../codec/index.ts';
import type { ConnectionView } from './types.ts';
import type { Stepper } from './stepper.ts';
import type { ConnectionId, StoredConnection } from './store.ts';

export const NOTHING_PENDING = -Infinity;

// Shared by every connection that has no codec or meta of its own: an idle connection is ~1.5 KiB, each empty object ~50 bytes of it.
export const TEXT_SPEC: CodecSpec = Object.freeze({ name: 'text' });
export const NO_META: Record<string, string> = Object.freeze({});

export interface Connection {
  readonly id: ConnectionId;
  readonly spec: CodecSpec;
  readonly codec: Codec;
  readonly reader: FrameReader | null;
  stepper: Stepper;
  readonly eager: boolean;
  readonly meta: Readonly<Record<string, string>>;
  readonly effects: KeepaliveEmitted[];
  /** Our interval: the window the PING-flood limit counts in. */
  interval: number;
  answersPing: boolean;
  floodWindowStart: number;
  floodPings: number;
  /** The peer's socket is already gone: a `closed` effect needs no transport close. */
  peerGone: boolean;
  /** Kept for whoever handles the connection's application frames (`Host.tag`), undefined until set. */
  tag: unknown;
  /** Latest unfolded sign of life, or NOTHING_PENDING (any finite time is a valid clock reading). */
  pendingAt: number;
  pendingPings: number;
  pendingPongs: number;
  pendingMessages: number;
}

export const INBOUND_EVENT = {
  ADVERTISE: 'peer.advertise',
  PING: 'peer.ping',
  PONG: 'peer.pong',
  MESSAGE: 'peer.message',
} as const satisfies Record<Inbound, KeepaliveEvent['type']>;

export function validateKeepalive(options: KeepaliveOptions): void {
  if (!Number.isFinite(options.interval) || options.interval <= 0) {
    throw new RangeError(`keepalive interval must be a positive number of ms, got ${options.interval}`);
  }
  if (!Number.isInteger(options.count) || options.count < 0) {
    throw new RangeError(`keepalive count must be a whole number >= 0, got ${options.count}`);
  }
  const timeout = options.advertiseTimeout;
  if (timeout !== undefined && timeout !== null && (!Number.isFinite(timeout) || timeout < 0)) {
    throw new RangeError(`advertiseTimeout must be a number of ms >= 0 (0 or null: none), got ${timeout}`);
  }
}

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

/** Counts PINGs per window of our interval (a backward clock step starts a new window): true past `max`. */
export function flooding(conn: Connection, at: number, max: number): boolean {
  if (at - conn.floodWindowStart >= conn.interval || at < conn.floodWindowStart) {
    conn.floodWindowStart = at;
    conn.floodPings = 0;
  }
  return ++conn.floodPings > max;
}
