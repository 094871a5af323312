/**
 * Durable Object storage writes per delivery-mode message, counted in the object's own
 * deliveries store (adapters/cloudflare/deliveries.ts, its `counts`), driven by two real
 * delivery links in this process: the object's (with the store, on an in-memory stand-in for
 * `ctx.storage.kv`) and a client's. Every frame arrives in a turn of its own, as every
 * WebSocket message is an event of its own for a Durable Object, and the store's counter
 * write at the end of a turn happens as it does there (a microtask). Not workerd: billing
 * and the output gate are not in it, only the store's row writes.
 */
import type { DeliveryStore } from '../../runtime/delivery/index.ts';
import { DeliveryLink } from '../../runtime/delivery/index.ts';
import type { AppData } from '../../runtime/application/index.ts';
import { benchFile } from './paths.ts';

/** The part of `SyncKvStorage` the store uses. */
class MemoryKv {
  readonly #map = new Map<string, unknown>();
  get<T>(key: string): T | undefined {
    return this.#map.get(key) as T | undefined;
  }
  put(key: string, value: unknown): void {
    this.#map.set(key, value);
  }
  delete(key: string): boolean {
    return this.#map.delete(key);
  }
  *list<T>(options: { prefix?: string } = {}): IterableIterator<[string, T]> {
    for (const [key, value] of [...this.#map].sort(([a], [b]) => (a < b ? -1 : 1))) if (key.startsWith(options.prefix ?? '')) yield [key, value as T];
  }
}

type CountingStore = DeliveryStore & { counts: { writes: number; deletes: number } };

async function storeClass(): Promise<new (kv: MemoryKv, slots: number) => CountingStore> {
  // Loaded by path: the module is typed for workerd (SyncKvStorage), not Node.
  const path = benchFile('../adapters/cloudflare/deliveries.ts');
  return ((await import(path)) as { DurableObjectDeliveryStore: new (kv: MemoryKv, slots: number) => CountingStore }).DurableObjectDeliveryStore;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface WritesRun {
  /** Messages the object sent and received. */
  messages: number;
  writes: number;
  perMessage: number;
}

/**
 * `intervals` keepalive intervals on a virtual clock; per interval the object sends
 * `perInterval` messages (each in a turn of its own, or all in one turn: `batched`), and with
 * `bothWays` the client sends as many, each arriving in a turn of its own. The client PINGs
 * once per interval (carrying its acknowledgement when owed) and the object answers.
 */
export async function durableObjectWrites(options: { perInterval: number; intervals: number; bothWays: boolean; batched: boolean }): Promise<WritesRun> {
  const Store = await storeClass();
  const store = new Store(new MemoryKv(), 10_000);
  const interval = 1000;
  let now = 0;
  const limits = { messages: 10_000, bytes: 1 << 20 };
  const toClient: AppData[] = [];
  const toServer: AppData[] = [];
  const fail = (error: { message: string }) => {
    throw new Error(`delivery error: ${error.message}`);
  };
  const server = new DeliveryLink({ role: 'server', limits, interval, now: () => now, persistence: store.persistence('c1'), deliver: () => {}, fail });
  server.epoch = 'c1';
  const client = new DeliveryLink({ role: 'client', limits, interval, now: () => now, deliver: () => {}, fail });
  server.attach((frame) => toClient.push(frame));
  client.attach((frame) => toServer.push(frame));
  /** Every frame in flight arrives, each in a turn of its own, until none is left. */
  const drain = async () => {
    while (toClient.length > 0 || toServer.length > 0) {
      const down = toClient.shift();
      if (down !== undefined) {
        client.receive(down);
        await turn();
      }
      const up = toServer.shift();
      if (up !== undefined) {
        const heard = server.receive(up);
        if (heard === 'PING') toClient.push(server.keepalive('PONG'));
        await turn();
      }
    }
  };
  await drain();
  const before = store.counts.writes;
  let messages = 0;
  for (let k = 0; k < options.intervals; k++) {
    for (let i = 0; i < options.perInterval; i++) {
      now = k * interval + (i * interval) / options.perInterval;
      if (!server.send(`s${k}:${i}`)) throw new Error('window full');
      messages++;
      if (options.bothWays) {
        client.send(`c${k}:${i}`);
        messages++;
      }
      if (!options.batched) await drain();
    }
    await drain();
    now = (k + 1) * interval - 1;
    toServer.push(client.keepalive('PING'));
    await drain();
  }
  const writes = store.counts.writes - before;
  return { messages, writes, perMessage: writes / messages };
}
