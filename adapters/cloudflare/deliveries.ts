/**
 * Delivery-mode windows in the Durable Object's storage, so hibernation and eviction lose
 * nothing: a message is written (synchronously, `ctx.storage.kv`) before `send` returns, so
 * the output gate holds its frame until it is durable.
 *
 * One row per message, in a slot that its sequence number picks modulo the window's size
 * (`w:<id>:<slot>`): a later message overwrites an acknowledged one, so an acknowledgement
 * costs no row write (deletes are billed as writes) and a connection's rows never outnumber
 * its window. A row whose sequence number is at or below the floor is acknowledged, stale and
 * ignored (a new history deletes the old one's rows). The counters (`c:<id>`) are written once per turn when the floor or
 * `received` moved; an append writes its row alone (the rows past the floor say where `next`
 * is). So a message costs one row write, plus its share of one per acknowledgement and one
 * per turn that received anything (bench figure 13).
 */
import type { DeliveryStore, LinkCounters, LinkPersistence, StoredWindow, WindowEntry } from '../../runtime/delivery/index.ts';
import { byteLength } from '../../runtime/delivery/index.ts';

const WINDOW = 'dw:';
const COUNTERS = 'dc:';

interface Row {
  seq: number;
  data: string | Uint8Array;
}

export class DurableObjectDeliveryStore implements DeliveryStore {
  readonly #kv: SyncKvStorage;
  /** Slots per connection: the window's message bound. */
  readonly #slots: number;
  /** Counters waiting for the end of the turn. */
  readonly #dirty = new Map<string, LinkCounters>();
  /** Rows written and deleted by this instance (the benchmark's and the tests' view of cost). */
  readonly counts = { writes: 0, deletes: 0 };

  constructor(kv: SyncKvStorage, slots: number) {
    this.#kv = kv;
    this.#slots = slots;
  }

  load(id: string): StoredWindow | undefined {
    const stored = this.#kv.get<LinkCounters>(COUNTERS + id);
    if (!stored) return undefined;
    const entries: WindowEntry[] = [];
    for (const [, row] of this.#kv.list<Row>({ prefix: `${WINDOW}${id}:` })) {
      if (row.seq > stored.floor) entries.push({ seq: row.seq, data: row.data, bytes: byteLength(row.data) });
    }
    entries.sort((a, b) => a.seq - b.seq);
    // An append writes its row alone: the rows past the floor say where `next` is.
    const next = Math.max(stored.next, (entries.at(-1)?.seq ?? 0) + 1);
    return { counters: { ...stored, next }, entries };
  }

  persistence(id: string): LinkPersistence {
    return {
      // One row write per message: its own seq says where `next` is (load), so the counters wait
      // for what moves them otherwise (an acknowledgement, a message received).
      append: (entry) => {
        this.#kv.put(`${WINDOW}${id}:${entry.seq % this.#slots}`, { seq: entry.seq, data: entry.data } satisfies Row);
        this.counts.writes++;
      },
      release: (_upTo, counters) => this.#later(id, counters),
      received: (counters) => this.#later(id, counters),
      renumbered: (entries, counters) => {
        // The old history's rows go: past the floor they would read as this one's.
        for (const [key] of this.#kv.list({ prefix: `${WINDOW}${id}:` })) {
          this.#kv.delete(key);
          this.counts.deletes++;
        }
        for (const entry of entries) {
          this.#kv.put(`${WINDOW}${id}:${entry.seq % this.#slots}`, { seq: entry.seq, data: entry.data } satisfies Row);
          this.counts.writes++;
        }
        this.#write(id, counters);
      },
    };
  }

  delete(id: string): void {
    this.#dirty.delete(id);
    for (const [key] of this.#kv.list({ prefix: `${WINDOW}${id}:` })) {
      this.#kv.delete(key);
      this.counts.deletes++;
    }
    this.#kv.delete(COUNTERS + id);
    this.counts.deletes++;
  }

  /** Writes the counters still waiting. */
  async flush(): Promise<void> {
    for (const [id, counters] of [...this.#dirty]) this.#write(id, counters);
  }

  #later(id: string, counters: LinkCounters): void {
    const first = this.#dirty.size === 0;
    this.#dirty.set(id, counters);
    // Still inside the turn (a microtask): the output gate holds this turn's frames until it commits.
    if (first) queueMicrotask(() => void this.flush());
  }

  #write(id: string, counters: LinkCounters): void {
    this.#dirty.delete(id);
    this.#kv.put(COUNTERS + id, counters);
    this.counts.writes++;
  }
}
