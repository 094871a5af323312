/**
 * Snapshots in the Durable Object's own SQLite-backed storage, one key per connection.
 * The synchronous `ctx.storage.kv` API means a snapshot is written before the host
 * carries out the step's effects, and the output gate holds every frame those effects
 * send until the write is durable: an eviction or crash between any two events finds
 * storage at least as new as anything the peer saw.
 */
import type { ConnectionId, SnapshotStore, StoredConnection } from '../../runtime/index.ts';

const PREFIX = 'conn:';

export class DurableObjectSnapshotStore implements SnapshotStore {
  readonly #kv: SyncKvStorage;

  constructor(kv: SyncKvStorage) {
    this.#kv = kv;
  }

  load(): StoredConnection[] {
    return [...this.#kv.list<StoredConnection>({ prefix: PREFIX })].map(([, record]) => record);
  }

  save(record: StoredConnection): void {
    this.#kv.put(PREFIX + record.id, record);
  }

  delete(id: ConnectionId): void {
    this.#kv.delete(PREFIX + id);
  }
}
