/**
 * Application events: what `onOpen`/`onDead`/`onClose` and webhooks are told, and how an
 * event not yet delivered is kept. An event's id is derived from its connection and type,
 * so the same event recorded twice (a verdict written again after a crash between the
 * snapshot and the event) keeps its id, and a receiver that de-duplicates by id sees it once.
 */
import type { ConnectionId } from '../host/index.ts';
import type { EndCause } from '../protocol/index.ts';
import type { DataOnWire } from '../codec/index.ts';

interface EventBase {
  /** Stable across retries and restarts: `<connection>:<type>`. */
  id: string;
  hub: string;
  connection: ConnectionId;
  peer: string | null;
  /** ms since the epoch. */
  at: number;
  /** The connection's meta, as hooks see it. */
  meta: Record<string, string>;
}

/** Delivery mode's unacknowledged messages as an event keeps them (JSON: bytes as base64). */
export interface UndeliveredRecord {
  count: number;
  first: number;
  last: number;
  messages: DataOnWire[];
}

export type ApplicationEvent =
  | (EventBase & { type: 'open' })
  | (EventBase & { type: 'dead'; silentFor: number; unanswered: number; undelivered?: UndeliveredRecord })
  /** `cause` is why, as a value (runtime/protocol/end-cause.ts); `reason` is its sentence, for people. */
  | (EventBase & { type: 'closed'; cause: EndCause; reason: string; dead: boolean; undelivered?: UndeliveredRecord });

export type ApplicationEventType = ApplicationEvent['type'];

export function eventId(connection: ConnectionId, type: ApplicationEventType): string {
  return `${connection}:${type}`;
}

/** Who is still owed an event: this process's hooks, and the webhook receiver. */
export type Delivery = 'hooks' | 'webhook';

/** An event with what is still owed on it: what an `EventStore` keeps. */
export interface OutboxRecord {
  event: ApplicationEvent;
  /** Order of recording; hooks of one connection and webhooks go out in this order. */
  seq: number;
  owed: Delivery[];
  /** Webhook tries that failed so far. */
  attempts: number;
  /** The next webhook try is not before this (ms since the epoch). */
  retryAt: number;
}

/**
 * Where undelivered events wait. Same shape as `SnapshotStore`: a write may be
 * asynchronous; a durable one (Node `--state`, Deno KV, Durable Object storage) is what
 * carries an event across a crash.
 */
export interface EventStore {
  load(): Iterable<OutboxRecord> | Promise<Iterable<OutboxRecord>>;
  put(record: OutboxRecord): void | Promise<void>;
  delete(id: string): void | Promise<void>;
}

/** Events in memory: delivered at least once while the process lives. */
export class MemoryEventStore implements EventStore {
  readonly records = new Map<string, OutboxRecord>();
  load(): OutboxRecord[] {
    return [...this.records.values()].map((record) => structuredClone(record));
  }
  put(record: OutboxRecord): void {
    this.records.set(record.event.id, structuredClone(record));
  }
  delete(id: string): void {
    this.records.delete(id);
  }
}

export function isOutboxRecord(value: unknown): value is OutboxRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Partial<OutboxRecord>;
  return (
    typeof record.seq === 'number' &&
    Array.isArray(record.owed) &&
    typeof record.event === 'object' &&
    record.event !== null &&
    typeof record.event.id === 'string' &&
    typeof record.event.type === 'string'
  );
}
