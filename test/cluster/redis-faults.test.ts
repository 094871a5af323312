/**
 * Redis faults under a clustered hub (two Node servers, a real redis-server): Redis killed
 * and restarted empty, then frozen with SIGSTOP for 3 s. The processes keep judging their
 * own peers (no connection is lost, no peer declared dead, no takeover), say Redis is away
 * on `/healthz` and in their log, and presence is whole again on both within 3 s. And a
 * process cut from Redis (through a relay) while a peer of it closes: when Redis is back,
 * its record is gone from Redis too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import { connect } from '../../adapters/node/client.ts';
import type { HostEvent } from '../../runtime/host/types.ts';
import type { KeepaliveClient } from '../../runtime/client/keepalive-client.ts';
import { hubKeys, startRedis, type RedisProcess } from '../support/redis.ts';
import { startProxy } from '../support/tcp-proxy.ts';
import { nextEvent } from '../support/client-events.ts';
import { until } from '../node/helpers.ts';

const INTERVAL = 500;
const COUNT = 2;
let redis: RedisProcess;
const servers: RunningServer[] = [];
const clients: KeepaliveClient[] = [];
const ended: HostEvent[] = [];
const logs: string[] = [];

const whole = () => servers.every((server) => server.hub.presence().length === 6);
const health = async (server: RunningServer) => ((await (await fetch(`${server.url}/healthz`)).json()) as { cluster: { redis: string } }).cluster.redis;

async function stored(): Promise<number> {
  const client = createClient({ url: redis.url });
  await client.connect();
  try {
    return (await client.hLen(hubKeys().conns('a'))) + (await client.hLen(hubKeys().conns('b')));
  } finally {
    await client.close();
  }
}

beforeAll(async () => {
  redis = await startRedis();
  for (const node of ['a', 'b']) {
    servers.push(
      await startServer({
        port: 0,
        tcpPort: null,
        interval: INTERVAL,
        count: COUNT,
        cluster: { redis: redis.url, node },
        log: (line) => logs.push(`${node} ${line}`),
        onEvent: (event) => void ((event.type === 'dead' || event.type === 'closed') && ended.push(event)),
      }),
    );
  }
  for (const server of servers) {
    for (let i = 0; i < 3; i++) {
      const client = connect(server.wsUrl, { interval: INTERVAL, count: COUNT, reconnect: false });
      clients.push(client);
      await nextEvent(client, 'open');
    }
  }
  await until(whole, 'presence of six on both', 5000);
}, 30_000);

afterAll(async () => {
  for (const client of clients) client.close();
  for (const server of servers) await server.close();
  await redis?.stop();
});

describe('Redis faults', () => {
  it('rides out a Redis restarted empty: presence whole again within 3 s, nothing lost', async () => {
    expect(await stored()).toBe(6);
    await redis.kill();
    await until(async () => (await health(servers[0]!)) === 'down' && (await health(servers[1]!)) === 'down', 'healthz saying Redis is down', 3000);
    // Two intervals without Redis: the peers are still judged, and alive.
    await new Promise((resolve) => setTimeout(resolve, 2 * INTERVAL));
    await redis.restart();
    const back = Date.now();
    await until(async () => (await stored()) === 6 && whole() && (await health(servers[0]!)) === 'up', 'everything registered again', 3000);
    expect(Date.now() - back).toBeLessThan(3000);
    expect(ended).toEqual([]);
    expect(servers.map((server) => server.host.size)).toEqual([3, 3]);
    expect(logs.some((line) => /^a redis unreachable/.test(line))).toBe(true);
    expect(logs.some((line) => /^a redis back after \d+ ms/.test(line))).toBe(true);
  }, 20_000);

  it('rides out Redis frozen for 3 s: no false death, no takeover, presence whole within 3 s', async () => {
    redis.freeze();
    await until(async () => (await health(servers[1]!)) === 'down', 'healthz saying Redis is down', 3000);
    await new Promise((resolve) => setTimeout(resolve, 3000 - 1000));
    redis.thaw();
    const thawed = Date.now();
    await until(async () => whole() && (await health(servers[0]!)) === 'up' && (await health(servers[1]!)) === 'up' && (await stored()) === 6, 'presence whole', 3000);
    expect(Date.now() - thawed).toBeLessThan(3000);
    // A lease and a bit more: long enough for a wrong takeover to have happened.
    await new Promise((resolve) => setTimeout(resolve, 3500));
    expect(servers.map((server) => server.cluster!.stats.takeovers)).toEqual([0, 0]);
    expect(ended).toEqual([]);
    expect(servers.map((server) => server.host.size)).toEqual([3, 3]);
    expect(whole()).toBe(true);
  }, 20_000);

  it('leaves no record in Redis of a peer that closed while its process was cut from Redis', async () => {
    // A process of another hub, reaching Redis through a relay that can cut it off.
    const proxy = await startProxy(redis.port);
    const cutLogs: string[] = [];
    const server = await startServer({ port: 0, tcpPort: null, hub: 'cut', interval: INTERVAL, count: COUNT, cluster: { redis: `redis://127.0.0.1:${proxy.port}`, node: 'c' }, log: (line) => cutLogs.push(line) });
    const peers = [connect(server.wsUrl, { interval: INTERVAL, count: COUNT, reconnect: false }), connect(server.wsUrl, { interval: INTERVAL, count: COUNT, reconnect: false })];
    try {
      await Promise.all(peers.map((peer) => nextEvent(peer, 'open')));
      const held = async () => {
        const client = createClient({ url: redis.url });
        await client.connect();
        try {
          return await client.hLen(hubKeys('cut').conns('c'));
        } finally {
          await client.close();
        }
      };
      await until(async () => (await held()) === 2, 'both records in Redis');
      // Cut, and no way back until thawed: the closed peer's delete fails.
      proxy.freeze();
      proxy.cut();
      await until(async () => (await health(server)) === 'down', 'healthz saying Redis is down', 3000);
      peers[0]!.close();
      await until(() => server.host.size === 1, 'the closed peer gone');
      proxy.thaw();
      await until(async () => (await health(server)) === 'up' && (await held()) === 1, "the process's hash what it holds", 5000);
      expect(cutLogs.some((line) => /^removed 1 record\(s\) and event\(s\) Redis still held/.test(line))).toBe(true);
    } finally {
      for (const peer of peers) peer.close();
      await server.close();
      await proxy.close();
    }
  }, 20_000);
});
