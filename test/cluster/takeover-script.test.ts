/**
 * The takeover script (runtime/cluster/keys.ts) on a real redis-server: a dead node's
 * connections and owed events move to the taker, but not those a live node's hash holds
 * already (a takeover the old primary made just before a failover, and lost).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { hubPrefix, pairs, script, TAKEOVER } from '../../runtime/cluster/keys.ts';
import { hubKeys, startRedis, type RedisProcess } from '../support/redis.ts';

let redis: RedisProcess;
let client: ReturnType<typeof createClient>;
const keys = hubKeys('takeover');

beforeAll(async () => {
  redis = await startRedis();
  client = createClient({ url: redis.url });
  await client.connect();
});

afterAll(async () => {
  await client?.close();
  await redis?.stop();
});

describe('the takeover script', () => {
  it('takes what no live node holds, and leaves to a live node what it holds already', async () => {
    const later = Date.now() + 60_000;
    await client.zAdd(keys.nodes, [
      { score: 1, value: 'dead' },
      { score: later, value: 's1' },
      { score: later, value: 's2' },
    ]);
    await client.hSet(keys.conns('dead'), { x: 'x as dead wrote it', y: 'y as dead wrote it' });
    await client.hSet(keys.events('dead'), { 'x:closed': 'owed', 'y:closed': 'owed' });
    // s1 took x before a failover lost that, and wrote it again under its name.
    await client.hSet(keys.conns('s1'), { x: 'x as s1 holds it' });
    await client.hSet(keys.events('s1'), { 'x:closed': 'owed' });

    const [, , conns, events] = (await client.sendCommand(script(TAKEOVER, hubPrefix('takeover'), 'dead', 's2').map(String))) as [string, string, string[], string[]];
    expect(pairs(conns)).toEqual([['y', 'y as dead wrote it']]);
    expect(pairs(events)).toEqual([['y:closed', 'owed']]);
    expect(await client.hGetAll(keys.conns('s2'))).toEqual({ y: 'y as dead wrote it' });
    expect(await client.hGetAll(keys.conns('s1'))).toEqual({ x: 'x as s1 holds it' });
    expect(await client.exists([keys.conns('dead'), keys.events('dead')])).toBe(0);
    expect(await client.zRange(keys.nodes, 0, -1)).toEqual(['s1', 's2']);
    // Taken once: the dead node has no lease any more.
    expect(await client.sendCommand(script(TAKEOVER, hubPrefix('takeover'), 'dead', 's1').map(String))).toBeNull();
  });
});
