/**
 * Redis faults under a clustered hub (two Node servers, a real redis-server): Redis killed
 * and restarted empty, then frozen with SIGSTOP for 3 s. The processes keep judging their
 * own peers (no connection is lost, no peer declared dead, no takeover), say Redis is away
 * on `/healthz` and in their log, and presence is whole again on both within 3 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import { connect } from '../../adapters/node/client.ts';
import type { HostEvent } from '../../runtime/host/types.ts';
import type { KeepaliveClient } from '../../runtime/client/keepalive-client.ts';
import { hubKeys, startRedis, type RedisProcess } from '../support/redis.ts';
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
});
