/**
 * A clustered hub's stores, in Redis under the node that holds each connection.
 *
 * Snapshots are written behind: a connection's first record at once (a survivor must know
 * it exists), then at most once per flush (about a second), so an idle answering peer
 * costs one field of one HSET per flush, not a write per PING. What a survivor finds is
 * therefore up to a flush old: it only ever judges from an older sign of life, which makes
 * a verdict later, never earlier, than the rule. Events are written through: an event is in
 * Redis before a hook or the webhook hears of it.
 *
 * Neither store ever rejects: while Redis is away a write fails quietly and the cluster
 * re-registers everything the process holds when Redis answers again.
 */
import { isOutboxRecord, type EventStore, type OutboxRecord } from '../application/index.ts';
import { SESSION_META } from '../protocol/index.ts';
import type { ConnectionId, SnapshotStore, StoredConnection } from '../host/index.ts';
import { keys, pairs } from './keys.ts';
import type { RedisLink } from './link.ts';

interface Place {
  link: RedisLink;
  prefix: string;
  node: string;
  /** A write failed: what this process holds must be written again when Redis is back. */
  lost: () => void;
}

export class ClusterSnapshots implements SnapshotStore {
  readonly savesEachStep = true;
  readonly #place: Place;
  /** Ids whose record is in Redis under this node. */
  readonly #written = new Set<ConnectionId>();
  readonly #dirty = new Map<ConnectionId, StoredConnection>();
  readonly #sessions = new Map<ConnectionId, string>();
  /** The top-level state last written: a change of it (awaiting ADVERTISE to alive) is written at once, not at the next flush. */
  readonly #phases = new Map<ConnectionId, string>();
  /** Connections opened since the last flush: their presence row goes out soon, not in a second. */
  onNew: (() => void) | undefined;

  constructor(place: Place) {
    this.#place = place;
  }

  async load(): Promise<StoredConnection[]> {
    const { link, prefix, node } = this.#place;
    const records: StoredConnection[] = [];
    for (const [, json] of pairs(await link.command(['HGETALL', keys.conns(prefix, node)]))) {
      const record = parseRecord(json);
      if (!record) continue;
      records.push(record);
      this.#note(record);
    }
    return records;
  }

  save(record: StoredConnection): void | Promise<void> {
    const phase = phaseOf(record);
    if (this.#written.has(record.id) && this.#phases.get(record.id) === phase) {
      this.#dirty.set(record.id, record);
      return;
    }
    this.#dirty.delete(record.id);
    this.#note(record);
    this.onNew?.();
    const { link, prefix, node } = this.#place;
    const hash = record.meta?.[SESSION_META];
    const writes = [link.command(['HSET', keys.conns(prefix, node), record.id, JSON.stringify(record)])];
    if (hash !== undefined) writes.push(link.command(['HSET', keys.sessions(prefix), hash, record.id]));
    return quietly(Promise.all(writes), this.#place);
  }

  delete(id: ConnectionId): void | Promise<void> {
    this.#dirty.delete(id);
    this.#phases.delete(id);
    if (!this.#written.delete(id)) return;
    const { link, prefix, node } = this.#place;
    const hash = this.#sessions.get(id);
    this.#sessions.delete(id);
    const writes = [link.command(['HDEL', keys.conns(prefix, node), id])];
    if (hash !== undefined) writes.push(link.command(['HDEL', keys.sessions(prefix), hash]));
    return quietly(Promise.all(writes), this.#place);
  }

  /** Ids whose record changed since the last flush. */
  get dirty(): ReadonlyMap<ConnectionId, StoredConnection> {
    return this.#dirty;
  }

  /** Writes every changed record in one HSET. Returns the ids written. */
  async flush(): Promise<ConnectionId[]> {
    if (this.#dirty.size === 0) return [];
    const { link, prefix, node } = this.#place;
    const args: string[] = ['HSET', keys.conns(prefix, node)];
    const ids = [...this.#dirty.keys()];
    for (const record of this.#dirty.values()) args.push(record.id, JSON.stringify(record));
    this.#dirty.clear();
    await quietly(link.command(args), this.#place);
    return ids;
  }

  /** Writes every record given (the process's whole set): after Redis lost them, or at start. */
  async writeAll(records: Iterable<StoredConnection>): Promise<void> {
    const { link, prefix, node } = this.#place;
    const conns: string[] = [];
    const sessions: string[] = [];
    for (const record of records) {
      this.#note(record);
      this.#dirty.delete(record.id);
      conns.push(record.id, JSON.stringify(record));
      const hash = record.meta?.[SESSION_META];
      if (hash !== undefined) sessions.push(hash, record.id);
    }
    if (conns.length > 0) await link.command(['HSET', keys.conns(prefix, node), ...conns]);
    if (sessions.length > 0) await link.command(['HSET', keys.sessions(prefix), ...sessions]);
  }

  /** Records now in this node's hash that it did not write (taken over, handed over). */
  adopt(records: Iterable<StoredConnection>): void {
    for (const record of records) this.#note(record);
  }

  /** A connection another node now holds: nothing more is written or deleted for it here. */
  forget(id: ConnectionId): void {
    this.#dirty.delete(id);
    this.#written.delete(id);
    this.#sessions.delete(id);
    this.#phases.delete(id);
  }

  #note(record: StoredConnection): void {
    this.#written.add(record.id);
    this.#phases.set(record.id, phaseOf(record));
    const hash = record.meta?.[SESSION_META];
    if (hash !== undefined) this.#sessions.set(record.id, hash);
  }
}

export class ClusterEvents implements EventStore {
  readonly #place: Place;

  constructor(place: Place) {
    this.#place = place;
  }

  async load(): Promise<OutboxRecord[]> {
    const { link, prefix, node } = this.#place;
    const records: OutboxRecord[] = [];
    for (const [, json] of pairs(await link.command(['HGETALL', keys.events(prefix, node)]))) {
      const record = parseEvent(json);
      if (record) records.push(record);
    }
    return records;
  }

  put(record: OutboxRecord): Promise<void> {
    const { link, prefix, node } = this.#place;
    return quietly(link.command(['HSET', keys.events(prefix, node), record.event.id, JSON.stringify(record)]), this.#place);
  }

  delete(id: string): Promise<void> {
    const { link, prefix, node } = this.#place;
    return quietly(link.command(['HDEL', keys.events(prefix, node), id]), this.#place);
  }

  async writeAll(records: Iterable<OutboxRecord>): Promise<void> {
    const { link, prefix, node } = this.#place;
    const fields: string[] = [];
    for (const record of records) fields.push(record.event.id, JSON.stringify(record));
    if (fields.length > 0) await link.command(['HSET', keys.events(prefix, node), ...fields]);
  }
}

/** A write that never rejects: a failure only marks what this process holds as lost, to be written again. */
async function quietly(write: Promise<unknown>, place: Place): Promise<void> {
  try {
    await write;
  } catch {
    place.lost();
  }
}

/** `awaitingAdvertise`, `alive`: what a survivor must not find out of date. */
function phaseOf(record: StoredConnection): string {
  const value = (record.snapshot as { value?: unknown }).value;
  return typeof value === 'string' ? value : value !== null && typeof value === 'object' ? (Object.keys(value)[0] ?? '') : '';
}

export function parseRecord(json: string): StoredConnection | undefined {
  try {
    const value = JSON.parse(json) as Partial<StoredConnection>;
    return typeof value.id === 'string' && typeof value.snapshot === 'object' && value.codec ? (value as StoredConnection) : undefined;
  } catch {
    return undefined;
  }
}

export function parseEvent(json: string): OutboxRecord | undefined {
  try {
    const value: unknown = JSON.parse(json);
    return isOutboxRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
