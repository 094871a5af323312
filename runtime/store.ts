import type { Snapshot } from 'xstate';
import type { CodecSpec } from './codec/index.ts';

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
  load(): Iterable<StoredConnection> | Promise<Iterable<StoredConnection>>;
  save(record: StoredConnection): void | Promise<void>;
  delete(id: ConnectionId): void | Promise<void>;
}

/**
 * A host's default: keeps nothing. A host never restores its own live connections
 * (`restore` skips ids it holds), so a copy in the same process could only cost memory
 * (~0.3 KiB per idle connection, measured) and a persisted snapshot per step; a host
 * given this store skips building snapshots for it. Pass a real store to survive restarts.
 */
export const NO_SNAPSHOT_STORE: SnapshotStore = Object.freeze({ load: () => [], save: () => {}, delete: () => {} });

/** Snapshots in memory: tests, and restoring one host's connections into another in the same process. */
export class MemorySnapshotStore implements SnapshotStore {
  readonly records = new Map<ConnectionId, StoredConnection>();
  load(): Iterable<StoredConnection> {
    return [...this.records.values()].map((record) => structuredClone(record));
  }
  save(record: StoredConnection): void {
    this.records.set(record.id, record);
  }
  delete(id: ConnectionId): void {
    this.records.delete(id);
  }
}
