/**
 * Undelivered application events in Deno KV, beside the snapshots, so a new process (or a
 * new Deno Deploy isolate) delivers what the previous one owed, under the same ids.
 * Writes for one event run in order (a `put` is never overtaken by its own `delete`); a
 * failed write is reported, never thrown (the outbox does not await it).
 */
import { isOutboxRecord, type EventStore, type OutboxRecord } from '../../runtime/application/index.ts';

export const DEFAULT_KV_EVENTS_PREFIX: Deno.KvKey = ['keepalive', 'events'];

export class KvEventStore implements EventStore {
  readonly prefix: Deno.KvKey;
  readonly #kv: Deno.Kv;
  readonly #onError: (error: unknown) => void;
  readonly #chains = new Map<string, Promise<void>>();

  constructor(kv: Deno.Kv, options: { prefix?: Deno.KvKey; onError?: (error: unknown) => void } = {}) {
    this.#kv = kv;
    this.prefix = options.prefix ?? DEFAULT_KV_EVENTS_PREFIX;
    this.#onError = options.onError ?? ((error) => console.error('keepalive kv events:', error));
  }

  async load(): Promise<OutboxRecord[]> {
    const records: OutboxRecord[] = [];
    for await (const entry of this.#kv.list<unknown>({ prefix: this.prefix })) {
      if (isOutboxRecord(entry.value)) records.push(entry.value);
      else this.#onError(new Error(`ignoring a malformed event at ${JSON.stringify(entry.key)}`));
    }
    return records.sort((a, b) => a.seq - b.seq);
  }

  put(record: OutboxRecord): Promise<void> {
    // Copied now: the outbox goes on changing its record.
    const value = structuredClone(record);
    return this.#chain(record.event.id, () => this.#kv.set([...this.prefix, record.event.id], value));
  }

  delete(id: string): Promise<void> {
    return this.#chain(id, () => this.#kv.delete([...this.prefix, id]));
  }

  #chain(id: string, write: () => Promise<unknown>): Promise<void> {
    const next = (this.#chains.get(id) ?? Promise.resolve())
      .then(write)
      .then(
        () => undefined,
        (error: unknown) => this.#onError(error),
      )
      .finally(() => {
        if (this.#chains.get(id) === next) this.#chains.delete(id);
      });
    this.#chains.set(id, next);
    return next;
  }
}
