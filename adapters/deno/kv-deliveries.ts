/**
 * Delivery-mode windows in Deno KV, beside the snapshots and events, so a new process (or a
 * new Deno Deploy isolate) replays what the previous one had sent and not had acknowledged.
 * Writes wait for the end of the turn and go as one atomic commit (a few, past KV's 1,000
 * mutations per commit): a `send` is durable by the end of its turn's commit, not when it
 * returns (docs/delivery.md). A value is at most 64 KiB in KV, so a larger message is
 * written in parts. Failed writes are reported, never thrown.
 *
 *   [...prefix, id, 'c']               the connection's counters
 *   [...prefix, id, 'w', seq, part]    a message of its window (part 0, 1, ... of it)
 */
import type { DeliveryStore, LinkCounters, LinkPersistence, StoredWindow, WindowEntry } from '../../runtime/delivery/index.ts';
import { byteLength } from '../../runtime/delivery/index.ts';

export const DEFAULT_KV_DELIVERIES_PREFIX: Deno.KvKey = ['keepalive', 'deliveries'];

/** Below KV's 65,536-byte value limit, with room for the structured-clone header. */
const PART_BYTES = 60 * 1024;
/** Deno KV's limit of mutations in one atomic operation. */
const MUTATIONS_PER_COMMIT = 1000;

type Mutation = { key: Deno.KvKey; value: unknown } | { key: Deno.KvKey; value?: undefined };

export class KvDeliveryStore implements DeliveryStore {
  readonly prefix: Deno.KvKey;
  /** Commits made, for tests and the benchmark. */
  commits = 0;
  readonly #kv: Deno.Kv;
  readonly #onError: (error: unknown) => void;
  /** What is stored, per connection: read at start, kept in step with every write. */
  readonly #windows = new Map<string, { counters: LinkCounters; parts: Map<number, number> }>();
  #pending: Mutation[] = [];
  #flushing: Promise<void> = Promise.resolve();

  constructor(kv: Deno.Kv, options: { prefix?: Deno.KvKey; onError?: (error: unknown) => void } = {}) {
    this.#kv = kv;
    this.prefix = options.prefix ?? DEFAULT_KV_DELIVERIES_PREFIX;
    this.#onError = options.onError ?? ((error) => console.error('keepalive kv deliveries:', error));
  }

  /** Read at start, handed to each connection's link once. */
  readonly #loaded = new Map<string, StoredWindow>();

  /** Reads every window (KV is asynchronous; `load` is not). */
  async preload(): Promise<void> {
    const parts = new Map<string, Map<number, Uint8Array[] | string[]>>();
    for await (const entry of this.#kv.list<unknown>({ prefix: this.prefix })) {
      const [id, kind, seq, part] = entry.key.slice(this.prefix.length) as [string, string, number?, number?];
      if (kind === 'c' && isCounters(entry.value)) {
        this.#windows.set(id, { counters: entry.value, parts: new Map() });
      } else if (kind === 'w' && typeof seq === 'number' && typeof part === 'number') {
        const window = parts.get(id) ?? parts.set(id, new Map()).get(id)!;
        const pieces = window.get(seq) ?? window.set(seq, []).get(seq)!;
        (pieces as unknown[])[part] = entry.value;
      }
    }
    for (const [id, stored] of this.#windows) {
      const entries: WindowEntry[] = [];
      for (const [seq, pieces] of [...(parts.get(id) ?? new Map<number, Uint8Array[] | string[]>())].sort((a, b) => a[0] - b[0])) {
        const data = joinParts(pieces);
        stored.parts.set(seq, pieces.length);
        entries.push({ seq, data, bytes: byteLength(data) });
      }
      this.#loaded.set(id, { counters: stored.counters, entries });
    }
  }

  load(id: string): StoredWindow | undefined {
    const loaded = this.#loaded.get(id);
    this.#loaded.delete(id);
    return loaded;
  }

  persistence(id: string): LinkPersistence {
    return {
      // The message goes to the socket once its turn's commit settled (runtime/delivery/link.ts).
      append: (entry, counters) => {
        this.#append(id, entry);
        return this.#counters(id, counters);
      },
      release: (upTo, counters) => {
        this.#release(id, upTo);
        this.#counters(id, counters);
      },
      received: (counters) => this.#counters(id, counters),
      renumbered: (entries, counters) => {
        this.#release(id, Infinity);
        for (const entry of entries) this.#append(id, entry);
        this.#counters(id, counters);
      },
    };
  }

  delete(id: string): void {
    this.#release(id, Infinity);
    this.#queue({ key: [...this.prefix, id, 'c'] });
    this.#windows.delete(id);
    this.#loaded.delete(id);
  }

  prune(live: ReadonlySet<string>): void {
    for (const id of [...this.#windows.keys()]) if (!live.has(id)) this.delete(id);
  }

  /** Waits for every write so far. */
  async flush(): Promise<void> {
    while (this.#pending.length > 0) await this.#commit();
    await this.#flushing;
  }

  #window(id: string) {
    let window = this.#windows.get(id);
    if (!window) this.#windows.set(id, (window = { counters: { epoch: null, received: 0, floor: 0, next: 1 }, parts: new Map() }));
    return window;
  }

  #append(id: string, entry: WindowEntry): void {
    const pieces = splitParts(entry.data);
    this.#window(id).parts.set(entry.seq, pieces.length);
    pieces.forEach((value, part) => this.#queue({ key: [...this.prefix, id, 'w', entry.seq, part], value }));
  }

  #release(id: string, upTo: number): void {
    const parts = this.#window(id).parts;
    for (const [seq, count] of parts) {
      if (seq > upTo) continue;
      for (let part = 0; part < count; part++) this.#queue({ key: [...this.prefix, id, 'w', seq, part] });
      parts.delete(seq);
    }
  }

  #counters(id: string, counters: LinkCounters): Promise<void> {
    this.#window(id).counters = counters;
    // Several writes of one key in a turn: only the last is committed (see #commit).
    return this.#queue({ key: [...this.prefix, id, 'c'], value: counters });
  }

  /** The turn's commit, settled once it is done (or failed and reported). */
  #turn: Promise<void> | null = null;

  #queue(mutation: Mutation): Promise<void> {
    if (this.#pending.length === 0) {
      this.#turn = new Promise<void>((resolve) => queueMicrotask(() => void this.#commit().then(resolve)));
    }
    this.#pending.push(mutation);
    return this.#turn!;
  }

  #commit(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return this.#flushing;
    // The last write of each key wins, as it would applied in order.
    const last = new Map<string, Mutation>();
    for (const mutation of batch) last.set(JSON.stringify(mutation.key), mutation);
    const mutations = [...last.values()];
    this.#flushing = this.#flushing.then(async () => {
      for (let i = 0; i < mutations.length; i += MUTATIONS_PER_COMMIT) {
        const atomic = this.#kv.atomic();
        for (const mutation of mutations.slice(i, i + MUTATIONS_PER_COMMIT)) {
          if (mutation.value === undefined) atomic.delete(mutation.key);
          else atomic.set(mutation.key, mutation.value);
        }
        try {
          const result = await atomic.commit();
          if (!result.ok) this.#onError(new Error('a delivery window commit was refused'));
          this.commits++;
        } catch (error) {
          this.#onError(error);
        }
      }
    });
    return this.#flushing;
  }
}

function splitParts(data: string | Uint8Array): string[] | Uint8Array[] {
  if (typeof data !== 'string') {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < data.length || i === 0; i += PART_BYTES) parts.push(data.slice(i, i + PART_BYTES));
    return parts;
  }
  // A third of the byte budget in UTF-16 units: at most 3 bytes of UTF-8 each.
  const step = Math.floor(PART_BYTES / 3);
  const parts: string[] = [];
  let start = 0;
  do {
    let end = Math.min(data.length, start + step);
    // Never split a surrogate pair.
    if (end < data.length && data.charCodeAt(end - 1) >= 0xd800 && data.charCodeAt(end - 1) <= 0xdbff) end--;
    parts.push(data.slice(start, end));
    start = end;
  } while (start < data.length);
  return parts;
}

function joinParts(parts: readonly (string | Uint8Array)[]): string | Uint8Array {
  if (parts.every((part) => typeof part === 'string')) return (parts as string[]).join('');
  const bytes = parts as Uint8Array[];
  const out = new Uint8Array(bytes.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of bytes) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function isCounters(value: unknown): value is LinkCounters {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Partial<LinkCounters>;
  return (c.epoch === null || typeof c.epoch === 'string') && typeof c.received === 'number' && typeof c.floor === 'number' && typeof c.next === 'number';
}
