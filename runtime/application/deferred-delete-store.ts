/**
 * The snapshot store a hub's Host writes through when an application layer records
 * events. Its `delete` is deferred, as its name says: a connection's snapshot is deleted
 * only together with the events that report its end (`deleteWith`), never before them. Otherwise a crash between the two (seen under CPU contention:
 * the process preempted between two synchronous writes) would forget a dead connection
 * without anyone being told. With a store that has `transaction` (the SQLite state file)
 * the events and the delete are one transaction; with an asynchronous one (Deno KV) the
 * delete waits for the events, and a delete lost after them is redone at the next start
 * (`Application.load`).
 */
import type { ConnectionId, SnapshotStore, StoredConnection } from '../host/index.ts';

/** A store that can run several writes as one (SQLite: BEGIN ... COMMIT). */
export interface TransactionalStore {
  transaction(writes: () => void): void;
}

export class DeferredDeleteStore implements SnapshotStore {
  readonly inner: SnapshotStore;
  /** Ended connections whose snapshot waits for their events. */
  readonly #ending = new Set<ConnectionId>();

  constructor(inner: SnapshotStore) {
    this.inner = inner;
  }

  load(): ReturnType<SnapshotStore['load']> {
    return this.inner.load();
  }

  save(record: StoredConnection): void | Promise<void> {
    return this.inner.save(record);
  }

  get savesEachStep(): boolean {
    return this.inner.savesEachStep ?? true;
  }

  /** Marks the snapshot for deletion with the events the Host's next event (same turn) records: see `deleteWith`. */
  delete(id: ConnectionId): void {
    this.#ending.add(id);
  }

  /** Runs `record` (the events' writes, returning any still in flight), then deletes the snapshot marked by `delete`. */
  deleteWith(id: ConnectionId, record: () => Promise<unknown>[]): void {
    if (!this.#ending.delete(id)) {
      record();
      return;
    }
    const run = () => {
      const writes = record();
      if (writes.length === 0) return void this.#track(this.inner.delete(id));
      void Promise.all(writes).then(() => this.inner.delete(id));
    };
    const transactional = this.inner as Partial<TransactionalStore>;
    if (typeof transactional.transaction === 'function') transactional.transaction(run);
    else run();
  }

  /** Snapshots of ended connections still waiting (none outside a step). */
  get ending(): number {
    return this.#ending.size;
  }

  #track(write: void | Promise<void>): void {
    if (write) void write.catch(() => undefined);
  }
}
