/**
 * Undelivered application events in the server's state file, beside the snapshots: a
 * verdict and the event that reports it live (and die) together with the file. Written
 * synchronously, so an event is in the file before any hook or webhook is told.
 */
import type { StatementSync } from 'node:sqlite';
import { isOutboxRecord, type EventStore, type OutboxRecord } from '../../runtime/application/index.ts';
import type { SqliteSnapshotStore } from './sqlite-store.ts';

export class SqliteEventStore implements EventStore {
  readonly #snapshots: SqliteSnapshotStore;
  readonly #put: StatementSync;
  readonly #delete: StatementSync;
  readonly #all: StatementSync;

  constructor(snapshots: SqliteSnapshotStore) {
    this.#snapshots = snapshots;
    const db = snapshots.database;
    db.exec('CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, record TEXT NOT NULL) WITHOUT ROWID');
    this.#put = db.prepare('INSERT INTO events (id, seq, record) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record');
    this.#delete = db.prepare('DELETE FROM events WHERE id = ?');
    this.#all = db.prepare('SELECT id, record FROM events ORDER BY seq');
  }

  load(): OutboxRecord[] {
    const rows = this.#all.all() as { id: string; record: string }[];
    return rows.map(({ id, record }) => {
      const parsed: unknown = JSON.parse(record);
      if (!isOutboxRecord(parsed)) throw new Error(`state file ${this.#snapshots.path}: event ${id} is not an event record`);
      return parsed;
    });
  }

  put(record: OutboxRecord): void {
    // Closed on shutdown: what is owed stays as last written, for the next process.
    if (!this.#snapshots.closed) this.#put.run(record.event.id, record.seq, JSON.stringify(record));
  }

  delete(id: string): void {
    if (!this.#snapshots.closed) this.#delete.run(id);
  }

  get size(): number {
    return (this.#snapshots.database.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  }
}
