/**
 * Snapshots in Deno KV: one key per connection under a prefix, so a new process (or a new
 * Deno Deploy isolate) resumes every connection the previous one held.
 *
 * Writes for one connection run one at a time, in order, and coalesce: while one is in
 * flight only the newest waiting record is kept, so a burst of steps costs two writes,
 * and a `delete` is never overtaken by an older `save`. A write never rejects (the Host
 * does not await it): a failure is reported and the next write for that id tries again.
 */
import type { ConnectionId, SnapshotStore, StoredConnection } from '../../runtime/host/index.ts';

export const DEFAULT_KV_PREFIX: Deno.KvKey = ['keepalive', 'connections'];

export interface KvSnapshotStoreOptions {
  /** Key prefix; one server instance per prefix. Default `['keepalive', 'connections']`. */
  prefix?: Deno.KvKey;
  onError?: (error: unknown) => void;
}

/** `null` deletes. */
type Write = StoredConnection | null;

interface Slot {
  waiting: Write | undefined;
  drained: Promise<void>;
}

export class KvSnapshotStore implements SnapshotStore {
  readonly prefix: Deno.KvKey;
  /** Writes committed, for tests and logs. */
  writes = 0;
  readonly #kv: Deno.Kv;
  readonly #onError: (error: unknown) => void;
  readonly #slots = new Map<ConnectionId, Slot>();
  #sealed = false;

  constructor(kv: Deno.Kv, options: KvSnapshotStoreOptions = {}) {
    this.#kv = kv;
    this.prefix = options.prefix ?? DEFAULT_KV_PREFIX;
    this.#onError = options.onError ?? ((error) => console.error('keepalive kv store:', error));
  }

  async load(): Promise<StoredConnection[]> {
    const records: StoredConnection[] = [];
    for await (const entry of this.#kv.list<unknown>({ prefix: this.prefix })) {
      if (isStoredConnection(entry.value)) records.push(entry.value);
      else this.#onError(new Error(`ignoring a malformed record at ${JSON.stringify(entry.key)}`));
    }
    return records;
  }

  save(record: StoredConnection): Promise<void> {
    return this.#write(record.id, record);
  }

  delete(id: ConnectionId): Promise<void> {
    return this.#write(id, null);
  }

  /**
   * Waits for every write, then ignores the rest: what is stored stays as it was. A
   * server that keeps its state across a restart seals the store after `persistAll`,
   * so closing its sockets on the way out does not delete the snapshots it just wrote.
   */
  async seal(): Promise<void> {
    this.#sealed = true;
    await Promise.all([...this.#slots.values()].map((slot) => slot.drained));
  }

  #write(id: ConnectionId, write: Write): Promise<void> {
    if (this.#sealed) return Promise.resolve();
    const slot = this.#slots.get(id);
    if (slot) {
      slot.waiting = write;
      return slot.drained;
    }
    const fresh: Slot = { waiting: write, drained: Promise.resolve() };
    this.#slots.set(id, fresh);
    fresh.drained = this.#drain(id, fresh);
    return fresh.drained;
  }

  async #drain(id: ConnectionId, slot: Slot): Promise<void> {
    try {
      while (slot.waiting !== undefined) {
        const write = slot.waiting;
        slot.waiting = undefined;
        try {
          if (write === null) await this.#kv.delete([...this.prefix, id]);
          else await this.#kv.set([...this.prefix, id], write);
          this.writes++;
        } catch (error) {
          this.#onError(error);
        }
      }
    } finally {
      this.#slots.delete(id);
    }
  }
}

function isStoredConnection(value: unknown): value is StoredConnection {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Partial<StoredConnection>;
  return typeof record.id === 'string' && typeof record.stream === 'boolean' && typeof record.snapshot === 'object' && record.snapshot !== null && typeof record.codec === 'object';
}
