/**
 * The object counts its own wake-ups: what a deployment pays for and what hibernation
 * saves. Kept in memory; with `KEEPALIVE_COUNT_WAKES` also in storage (one row write
 * per wake-up), so they add up across evictions for tests and the benchmark.
 */
export interface WakeCounts {
  /** Instances constructed: the first start plus one per wake from hibernation or eviction. */
  constructed: number;
  /** `alarm()` runs. */
  alarms: number;
  /** `webSocketMessage` deliveries, and of them the keepalive PINGs (auto-response answers text PINGs without one). */
  messages: number;
  pings: number;
  /** `webSocketClose` and `webSocketError` deliveries. */
  closes: number;
  /** HTTP requests: WebSocket upgrades, /actors, /stats. */
  fetches: number;
}

const KEY = 'wakes';

export class WakeCounter {
  readonly counts: WakeCounts;
  readonly #kv: SyncKvStorage;
  readonly #durable: boolean;

  constructor(kv: SyncKvStorage, durable: boolean) {
    this.#kv = kv;
    this.#durable = durable;
    const stored = durable ? kv.get<WakeCounts>(KEY) : undefined;
    this.counts = { constructed: 0, alarms: 0, messages: 0, pings: 0, closes: 0, fetches: 0, ...stored };
  }

  count(...kinds: (keyof WakeCounts)[]): void {
    for (const kind of kinds) this.counts[kind]++;
    if (this.#durable) this.#kv.put(KEY, this.counts);
  }
}
