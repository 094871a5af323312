/**
 * Durable snapshots for the Node server: one SQLite file (Node's built-in `node:sqlite`),
 * one row per connection, written synchronously, so a snapshot is in the file before the
 * host carries out the effects of the step that made it (the `SnapshotStore` contract).
 *
 * WAL journal, `synchronous = NORMAL` by default: a write that returned survives the
 * process being killed (it is in the OS's page cache), not a power cut; `full` adds an
 * fsync per write for that. The file is locked exclusively while open, so a second
 * server on the same state file refuses to start instead of resuming the same
 * connections twice. A killed process's lock goes with it.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { ConnectionId, SnapshotStore, StoredConnection } from '../../runtime/host/index.ts';

export interface SqliteStoreOptions {
  /** `normal` (default): survives a killed process. `full`: also a power cut, one fsync per write. */
  synchronous?: 'normal' | 'full';
}

/** The layout this code writes; a newer file is refused rather than misread. */
const SCHEMA_VERSION = 1;

export class SqliteSnapshotStore implements SnapshotStore {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #save: StatementSync;
  readonly #delete: StatementSync;
  #closed = false;
  #inTransaction = false;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.path = path;
    // Loaded here, not imported: `keepalive-actors/node` re-exports this class, and Node
    // 22.12 (our engines floor) has no node:sqlite without a flag.
    const sqlite = process.getBuiltinModule('node:sqlite') as typeof import('node:sqlite') | undefined;
    if (sqlite === undefined) throw new Error(`cannot open ${path} as a state file: node:sqlite needs Node >= 22.13`);
    try {
      this.#db = new sqlite.DatabaseSync(path);
    } catch (error) {
      throw new Error(`cannot open ${path} as a state file: ${error instanceof Error ? error.message : String(error)}`);
    }
    try {
      // Exclusive before WAL: no shared-memory index, and the lock is held from the first write on.
      this.#db.exec('PRAGMA locking_mode = EXCLUSIVE');
      const { journal_mode: journal } = this.#db.prepare('PRAGMA journal_mode = WAL').get() as { journal_mode: string };
      if (journal !== 'wal' && journal !== 'memory') throw new Error(`could not switch to WAL (journal mode ${journal})`);
      this.#db.exec(`PRAGMA synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      const { user_version: version } = this.#db.prepare('PRAGMA user_version').get() as { user_version: number };
      if (version > SCHEMA_VERSION) throw new Error(`written by a newer version (schema ${version}, this one reads ${SCHEMA_VERSION})`);
      // A write right away, so the exclusive lock is taken now and not at the first step.
      this.#db.exec(`CREATE TABLE IF NOT EXISTS connections (id TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
        PRAGMA user_version = ${SCHEMA_VERSION};`);
      this.#save = this.#db.prepare('INSERT INTO connections (id, record) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record');
      this.#delete = this.#db.prepare('DELETE FROM connections WHERE id = ?');
    } catch (error) {
      this.#db.close();
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(
        /database is locked/.test(message)
          ? `state file ${path} is in use by another process`
          : `cannot use ${path} as a state file: ${message}`,
      );
    }
  }

  /** Every stored connection; a row that does not parse is an error naming it, never skipped. */
  load(): StoredConnection[] {
    const rows = this.#db.prepare('SELECT id, record FROM connections ORDER BY id').all() as { id: string; record: string }[];
    return rows.map(({ id, record }) => {
      let parsed: StoredConnection;
      try {
        parsed = JSON.parse(record) as StoredConnection;
      } catch (error) {
        throw new Error(`state file ${this.path}: connection ${id} is unreadable: ${String(error)}`);
      }
      if (parsed.id !== id || typeof parsed.snapshot !== 'object' || parsed.snapshot === null) {
        throw new Error(`state file ${this.path}: connection ${id} is not a stored connection`);
      }
      return parsed;
    });
  }

  save(record: StoredConnection): void {
    if (!this.#closed) this.#save.run(record.id, JSON.stringify(record));
  }

  delete(id: ConnectionId): void {
    if (!this.#closed) this.#delete.run(id);
  }

  get size(): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM connections').get() as { n: number }).n;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs `writes` as one transaction: a connection's last snapshot delete and the events
   * reporting its end commit together (DeferredDeleteStore). Nested calls join the outer one.
   */
  transaction(writes: () => void): void {
    if (this.#closed || this.#inTransaction) return writes();
    this.#db.exec('BEGIN');
    this.#inTransaction = true;
    try {
      writes();
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    } finally {
      this.#inTransaction = false;
    }
  }

  /** The open file, for the event outbox that shares it (sqlite-events.ts). */
  get database(): DatabaseSync {
    return this.#db;
  }

  /**
   * Checkpoints and releases the file. Writes after this are ignored: a process going
   * down lets go of its sockets without forgetting the connections stored here.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}
