/**
 * Undelivered application events in the Durable Object's storage, beside the snapshots.
 * Written with the synchronous `ctx.storage.kv` API in the same turn as the verdict's own
 * snapshot delete, so both commit together (one implicit transaction): an eviction never
 * keeps one without the other. A rebuilt object loads them and delivers what is owed.
 */
import { isOutboxRecord, type EventStore, type OutboxRecord } from '../../runtime/application/index.ts';

const PREFIX = 'event:';

export class DurableObjectEventStore implements EventStore {
  readonly #kv: SyncKvStorage;

  constructor(kv: SyncKvStorage) {
    this.#kv = kv;
  }

  load(): OutboxRecord[] {
    const records: OutboxRecord[] = [];
    for (const [, value] of this.#kv.list<unknown>({ prefix: PREFIX })) if (isOutboxRecord(value)) records.push(value);
    return records.sort((a, b) => a.seq - b.seq);
  }

  put(record: OutboxRecord): void {
    this.#kv.put(PREFIX + record.event.id, record);
  }

  delete(id: string): void {
    this.#kv.delete(PREFIX + id);
  }
}
