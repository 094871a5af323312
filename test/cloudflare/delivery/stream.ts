/** The stream hub's routes (worker.ts) and the object's own view, for the workerd delivery tests. */
import { evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import type { HubStats, KeepaliveHub } from '../../../adapters/cloudflare/hub.ts';
import type { Heard } from './worker.ts';

export type Stub = DurableObjectStub<KeepaliveHub>;

export const hubStub = (hub: string): Stub => env.KEEPALIVE_HUB.get(env.KEEPALIVE_HUB.idFromName(hub)) as unknown as Stub;

/** The hub sends `count` more messages to its connection (`s<k>`, k counting on across instances). */
export async function hubSends(hub: string, count: number): Promise<{ sent: number; refused: number }> {
  return (await (await exports.default.fetch(`http://hub.test/stream/${hub}/send?count=${count}`, { method: 'POST' })).json()) as { sent: number; refused: number };
}

export async function heard(hub: string): Promise<Heard[]> {
  return (await (await exports.default.fetch(`http://hub.test/stream/${hub}/heard`)).json()) as Heard[];
}

export const stats = (stub: Stub): Promise<HubStats> => runInDurableObject(stub, (o: KeepaliveHub) => o.stats());

/** The instance goes (as when it hibernates or is evicted); its sockets stay. Retried while a request is still in flight. */
export async function evict(stub: Stub): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await evictDurableObject(stub);
    } catch (error) {
      if (attempt >= 20 || !/active references/.test(String(error))) throw error;
      await scheduler.wait(10);
    }
  }
}

/** `c<from>` ... `c<to - 1>` with sequence numbers from + 1 ...: what the hook should have heard. */
export const numbered = (prefix: string, from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ data: `${prefix}${from + i}`, seq: from + i + 1 }));
