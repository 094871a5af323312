/**
 * One hub on a real primary under Sentinel (a primary, its replica, three Sentinels) over
 * two Node processes, a Deno process and one more Node process, given `redis+sentinel://`:
 * the primary SIGKILLed under 1,000 answering peers, the Sentinels promote the replica, and
 * the hub rides it out as on a Redis Cluster (primary-failover.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll } from '../node/helpers.ts';
import { startBalancer, type Balancer } from '../support/balancer.ts';
import { health, startHubProcess, type HubProcess } from '../support/hub-process.ts';
import { startRedisSentinel, type RedisSentinel } from '../support/redis-sentinel.ts';
import { primaryFailover } from './primary-failover.ts';

const INTERVAL = 1000;
const COUNT = 2;
const LEASE = 3000;

let sentinel: RedisSentinel;
let balancer: Balancer;
let processes: HubProcess[] = [];
let routeTo: readonly HubProcess[] = [];

beforeAll(async () => {
  sentinel = await startRedisSentinel();
  const settings = { interval: INTERVAL, count: COUNT };
  processes = await Promise.all([
    startHubProcess('node', 'a', sentinel.url, settings),
    startHubProcess('node', 'b', sentinel.url, settings),
    startHubProcess('deno', 'd', sentinel.url, settings),
    startHubProcess('node', 'e', sentinel.url, settings),
  ]);
  balancer = await startBalancer(() => routeTo.map((process) => process.port));
}, 90_000);

afterAll(async () => {
  killAll();
  await balancer?.close();
  await sentinel?.stop();
});

describe('a hub on a primary under Sentinel', () => {
  it('uses the primary the Sentinels name', async () => {
    const primary = await sentinel.primary();
    for (const process of processes) expect((await health(process)).cluster).toMatchObject({ topology: 'sentinel', redisAt: `127.0.0.1:${primary}`, redis: 'up', failovers: 0 });
  });

  it('survives the SIGKILL of the primary, with 1,000 peers answering and a process killed during the failover', async () => {
    const outcome = await primaryFailover({
      processes,
      balancer,
      route: (to) => (routeTo = to),
      failover: () => sentinel.failover(),
      command: (port, args) => sentinel.command(port, args),
      peers: 1000,
      interval: INTERVAL,
      count: COUNT,
      lease: LEASE,
    });
    console.log(`Sentinel failover: new primary answering ${outcome.failover.answeredAt - outcome.failover.killedAt} ms after the SIGKILL; presence whole ${outcome.wholeMs} ms after that; the killed process taken over ${outcome.takenOverMs} ms after it`);
    expect(outcome.wholeMs).toBeLessThan(3000);
  }, 90_000);
});
