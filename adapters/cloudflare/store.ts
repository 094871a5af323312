/**
 * Snapshots in the Durable Object's own SQLite-backed storage, one key per connection.
 * The synchronous `ctx.storage.kv` API means a snapshot is written before the host
 * carries out the step's effects, and the output gate holds every frame those effects
 * send until the write is durable: an eviction or crash between any two events finds
 * storage at least as new as anything the peer saw.
 *
 * A row write costs more than the wake-up that caused it, so a step that only folded
 * in signs of life is not written: its news is kept by the platform anyway (each
 * socket's attachment holds its latest frame's time, the runtime its latest
 * auto-answered PING), and a rebuilt object hands both back before its first step.
 * Whatever else a step changes (state, advertised, unanswered PINGs, PINGs sent) is
 * written. After an eviction, received-frame counters may lag; liveness is exact.
 */
import type { KeepaliveContext } from '../../actors/keepalive.ts';
import type { ConnectionId, SnapshotStore, StoredConnection } from '../../runtime/host/index.ts';

const PREFIX = 'conn:';

export class DurableObjectSnapshotStore implements SnapshotStore {
  readonly #kv: SyncKvStorage;
  /** What each connection's stored row says, as far as a rebuild cannot work it out. */
  readonly #written = new Map<ConnectionId, string>();
  /** Rows written and saves skipped by this instance (a test's and the benchmark's view of cost). */
  readonly counts = { writes: 0, skipped: 0, deletes: 0 };

  constructor(kv: SyncKvStorage) {
    this.#kv = kv;
  }

  load(): StoredConnection[] {
    const records = [...this.#kv.list<StoredConnection>({ prefix: PREFIX })].map(([, record]) => record);
    for (const record of records) this.#written.set(record.id, essence(record));
    return records;
  }

  save(record: StoredConnection): void {
    const now = essence(record);
    if (this.#written.get(record.id) === now) {
      this.counts.skipped++;
      return;
    }
    this.#kv.put(PREFIX + record.id, record);
    this.#written.set(record.id, now);
    this.counts.writes++;
  }

  delete(id: ConnectionId): void {
    this.#kv.delete(PREFIX + id);
    this.#written.delete(id);
    this.counts.deletes++;
  }
}

type StoredSnapshot = { status?: string; value?: unknown; context?: Partial<KeepaliveContext> };

/**
 * The part of a snapshot that signs of life kept by the platform cannot restore. Left
 * out: `lastSignOfLife`, `intervalStart` while watching, `wakeAt` (all follow from the
 * latest sign of life) and the received-frame counters.
 */
function essence(record: StoredConnection): string {
  const { status, value, context: c = {} } = record.snapshot as StoredSnapshot;
  return JSON.stringify([status, value, c.advertised, c.unanswered, c.pingsSent, c.interval, c.count, c.sendPings]);
}
