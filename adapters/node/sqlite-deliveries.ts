/**
 * Delivery-mode windows in the server's state file, beside the snapshots: each message a
 * connection sent and its peer has not acknowledged, and the connection's counters. A send
 * is written before `send` returns (synchronously, as the snapshots are), so a restart under
 * `--state` replays everything the application was told went out; an acknowledgement
 * deletes what it covers. `received` is written at most once per turn per connection: a
 * lost one only means a message comes again, with its sequence number (docs/delivery.md).
 */
import type { StatementSync } from 'node:sqlite';
import type { DeliveryStore, LinkCounters, LinkPersistence, StoredWindow, WindowEntry } from '../../runtime/delivery/index.ts';
import { byteLength } from '../../runtime/delivery/index.ts';
import type { SqliteSnapshotStore } from './sqlite-store.ts';

export class SqliteDeliveryStore implements DeliveryStore {
  readonly #snapshots: SqliteSnapshotStore;
  readonly #append: StatementSync;
  readonly #release: StatementSync;
  readonly #counters: StatementSync;
  readonly #loadCounters: StatementSync;
  readonly #loadEntries: StatementSync;
  readonly #deleteEntries: StatementSync;
  readonly #deleteCounters: StatementSync;
  /** Connections whose counters wait for the end of the turn. */
  readonly #dirty = new Map<string, LinkCounters>();

  constructor(snapshots: SqliteSnapshotStore) {
    this.#snapshots = snapshots;
    const db = snapshots.database;
    db.exec(`CREATE TABLE IF NOT EXISTS delivery_window (connection TEXT NOT NULL, seq INTEGER NOT NULL, text TEXT, bytes BLOB, PRIMARY KEY (connection, seq)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS delivery_counters (connection TEXT PRIMARY KEY, epoch TEXT, received INTEGER NOT NULL, floor INTEGER NOT NULL, next INTEGER NOT NULL) WITHOUT ROWID;`);
    this.#append = db.prepare('INSERT OR REPLACE INTO delivery_window (connection, seq, text, bytes) VALUES (?, ?, ?, ?)');
    this.#release = db.prepare('DELETE FROM delivery_window WHERE connection = ? AND seq <= ?');
    this.#counters = db.prepare(
      'INSERT INTO delivery_counters (connection, epoch, received, floor, next) VALUES (?, ?, ?, ?, ?) ON CONFLICT (connection) DO UPDATE SET epoch = excluded.epoch, received = excluded.received, floor = excluded.floor, next = excluded.next',
    );
    this.#loadCounters = db.prepare('SELECT epoch, received, floor, next FROM delivery_counters WHERE connection = ?');
    this.#loadEntries = db.prepare('SELECT seq, text, bytes FROM delivery_window WHERE connection = ? ORDER BY seq');
    this.#deleteEntries = db.prepare('DELETE FROM delivery_window WHERE connection = ?');
    this.#deleteCounters = db.prepare('DELETE FROM delivery_counters WHERE connection = ?');
  }

  load(id: string): StoredWindow | undefined {
    const counters = this.#loadCounters.get(id) as { epoch: string | null; received: number; floor: number; next: number } | undefined;
    if (!counters) return undefined;
    const rows = this.#loadEntries.all(id) as { seq: number; text: string | null; bytes: Uint8Array | null }[];
    const entries: WindowEntry[] = rows.map(({ seq, text, bytes }) => {
      const data = text ?? new Uint8Array(bytes ?? new Uint8Array(0));
      return { seq, data, bytes: byteLength(data) };
    });
    return { counters: { epoch: counters.epoch, received: counters.received, floor: counters.floor, next: counters.next }, entries };
  }

  persistence(id: string): LinkPersistence {
    const write = (counters: LinkCounters) => this.#writeCounters(id, counters);
    return {
      append: (entry, counters) => {
        if (this.#closed) return;
        this.#snapshots.transaction(() => {
          this.#append.run(id, entry.seq, typeof entry.data === 'string' ? entry.data : null, typeof entry.data === 'string' ? null : entry.data);
          write(counters);
        });
      },
      release: (upTo, counters) => {
        if (this.#closed) return;
        this.#snapshots.transaction(() => {
          this.#release.run(id, upTo);
          write(counters);
        });
      },
      received: (counters) => this.#later(id, counters),
      renumbered: (entries, counters) => {
        if (this.#closed) return;
        this.#snapshots.transaction(() => {
          this.#deleteEntries.run(id);
          for (const entry of entries) this.#append.run(id, entry.seq, typeof entry.data === 'string' ? entry.data : null, typeof entry.data === 'string' ? null : entry.data);
          write(counters);
        });
      },
    };
  }

  delete(id: string): void {
    this.#dirty.delete(id);
    if (this.#closed) return;
    this.#snapshots.transaction(() => {
      this.#deleteEntries.run(id);
      this.#deleteCounters.run(id);
    });
  }

  prune(live: ReadonlySet<string>): void {
    if (this.#closed) return;
    const stored = (this.#snapshots.database.prepare('SELECT connection FROM delivery_counters').all() as { connection: string }[]).map((row) => row.connection);
    const orphans = new Set(stored.filter((id) => !live.has(id)));
    for (const row of this.#snapshots.database.prepare('SELECT DISTINCT connection FROM delivery_window').all() as { connection: string }[]) {
      if (!live.has(row.connection)) orphans.add(row.connection);
    }
    for (const id of orphans) this.delete(id);
  }

  /** Writes the counters still waiting (a shutdown that keeps the connections). */
  async flush(): Promise<void> {
    this.#writeDirty();
  }

  get #closed(): boolean {
    return this.#snapshots.closed;
  }

  #writeCounters(id: string, counters: LinkCounters): void {
    this.#dirty.delete(id);
    this.#counters.run(id, counters.epoch, counters.received, counters.floor, counters.next);
  }

  /** `received` moves per message: written once at the end of the turn, not per message. */
  #later(id: string, counters: LinkCounters): void {
    const first = this.#dirty.size === 0;
    this.#dirty.set(id, counters);
    if (first) queueMicrotask(() => this.#writeDirty());
  }

  #writeDirty(): void {
    if (this.#closed || this.#dirty.size === 0) return;
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    this.#snapshots.transaction(() => {
      for (const [id, counters] of dirty) this.#counters.run(id, counters.epoch, counters.received, counters.floor, counters.next);
    });
  }
}
