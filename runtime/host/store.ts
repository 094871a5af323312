import type { Snapshot } from 'xstate';
import type { CodecSpec } from '../codec/index.ts';

export type ConnectionId = string;

/** What survives a restart or an eviction: plain JSON, nothing live. */
export interface StoredConnection {
  id: ConnectionId;
  codec: CodecSpec;
  /** Frames arrive as a byte stream and are split by length word (TCP, UNIX sockets). */
  stream: boolean;
  /** XState's persisted snapshot of the keepalive actor. */
  snapshot: Snapshot<unknown>;
  meta?: Record<string, string>;
}

/**
 * Where a host keeps snapshots. A write may be asynchronous; the host calls `save`
 * before it carries out the effects of the step that produced the snapshot, and
 * `Host.flush()` waits for every write still in flight.
 */
export interface SnapshotStore {
  /**
   * Whether the host writes each connection's snapshot after every statechart step that
   * changed it (default true: what survives a crash is as of the last step). false: the
   * store reads the host's live connections when loaded (a host's own memory store).
   */
  readonly savesEachStep?: boolean;
  load(): Iterable<StoredConnection> | Promise<Iterable<StoredConnection>>;
  save(record: StoredConnection): void | Promise<void>;
  delete(id: ConnectionId): void | Promise<void>;
}

/**
 * The default: snapshots in memory, which is all a single process needs. The store a
 * `Host` makes for itself (given none) reads the host's live connections when loaded
 * instead of being written on every statechart step: the same records, without a
 * persisted snapshot built per step. Its `records` are brought up to date by `load()`.
 */
export class MemorySnapshotStore implements SnapshotStore {
  readonly records = new Map<ConnectionId, StoredConnection>();
  #live: (() => Iterable<StoredConnection>) | undefined;

  /** A store that reads `live` (its host's connections, as stored records) at each `load()`. */
  static following(live: () => Iterable<StoredConnection>): MemorySnapshotStore {
    const store = new MemorySnapshotStore();
    store.#live = live;
    return store;
  }

  /** False for a host's own store: it reads the live connections instead of being written per step. */
  get savesEachStep(): boolean {
    return this.#live === undefined;
  }

  load(): Iterable<StoredConnection> {
    if (this.#live) for (const record of this.#live()) this.records.set(record.id, record);
    return [...this.records.values()].map((record) => structuredClone(record));
  }
  save(record: StoredConnection): void {
    this.records.set(record.id, record);
  }
  delete(id: ConnectionId): void {
    this.records.delete(id);
  }
}
