/**
 * The host's writes to its `SnapshotStore`: after each step when the store asks for it,
 * a delete when a connection ends, and every write still in flight, so `flush` can wait
 * for them. A write may be asynchronous; a step's snapshot is handed to the store before
 * the step's effects are carried out.
 */
import type { Connection } from './connection.ts';
import { recordOf } from './views.ts';
import type { ConnectionId, SnapshotStore } from './store.ts';

export class SnapshotWrites {
  readonly store: SnapshotStore;
  /** False for the host's own in-memory store, which reads the live connections instead. */
  readonly perStep: boolean;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(store: SnapshotStore) {
    this.store = store;
    this.perStep = store.savesEachStep ?? true;
  }

  /** A live connection was stepped: its new snapshot is stored if the store wants each one. */
  stepped(conn: Connection): void {
    if (this.perStep) this.save(conn);
  }

  save(conn: Connection): void {
    this.#track(this.store.save(recordOf(conn)));
  }

  ended(id: ConnectionId): void {
    this.#track(this.store.delete(id));
  }

  /** Waits for every write still in flight, including those started meanwhile. */
  async flush(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  #track(write: void | Promise<void>): void {
    if (!write) return;
    const tracked = write.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }
}
