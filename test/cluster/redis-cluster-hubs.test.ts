/**
 * Many hubs on one real Redis Cluster: each hub's keys share one hash tag, so a hub lives on
 * one slot's primary and hubs spread over all of them. Thirty hub names land on every
 * primary (none takes all), as the cluster computes and as the link finds them; three hubs
 * served at once, each on another primary, each ride out their own primary's SIGKILL
 * while the others go on, not even seeing Redis away.
 *
 * The cluster runs with `--cluster-require-full-coverage no`, as docs/cluster.md advises:
 * with the default (yes) every node refuses every slot (CLUSTERDOWN) from the moment a
 * primary is flagged failed until its replica is elected, so the hubs on the other
 * primaries saw Redis away too, for 127 to 1,012 ms (measured here over 3 kills; no false
 * death, no takeover: they ride it out as any cut).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../adapters/node/client.ts';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import type { KeepaliveClient } from '../../runtime/client/keepalive-client.ts';
import { hubPrefix, keys } from '../../runtime/cluster/keys.ts';
import { topologyOf } from '../../runtime/cluster/topology.ts';
import { redisTarget } from '../../runtime/config/redis-url.ts';
import type { HostEvent } from '../../runtime/host/types.ts';
import { until } from '../node/helpers.ts';
import { nextEvent } from '../support/client-events.ts';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.ts';

const INTERVAL = 500;
const COUNT = 2;
const NAMES = Array.from({ length: 30 }, (_, i) => `hub-${i}`);

let cluster: RedisCluster;
/** Three hubs, each on another primary, with two processes each. */
const hubs: { name: string; servers: RunningServer[]; clients: KeepaliveClient[]; deaths: HostEvent[]; logs: string[] }[] = [];

const health = async (server: RunningServer) => ((await (await fetch(`${server.url}/healthz`)).json()) as { cluster: { redis: string; redisAt: string; failovers: number } }).cluster;
const peersOf = (hub: (typeof hubs)[number]) => hub.servers.reduce((sum, server) => sum + server.host.size, 0);
const whole = (hub: (typeof hubs)[number]) => hub.servers.every((server) => server.hub.presence().length === peersOf(hub));

beforeAll(async () => {
  cluster = await startRedisCluster(['--cluster-require-full-coverage', 'no']);
  const byPrimary = new Map<number, string>();
  for (const name of NAMES) {
    const primary = await cluster.primaryOf(name);
    if (!byPrimary.has(primary)) byPrimary.set(primary, name);
  }
  for (const name of byPrimary.values()) {
    const hub = { name, servers: [] as RunningServer[], clients: [] as KeepaliveClient[], deaths: [] as HostEvent[], logs: [] as string[] };
    for (const node of ['a', 'b']) {
      const server = await startServer({
        port: 0,
        tcpPort: null,
        inspector: false,
        hub: name,
        interval: INTERVAL,
        count: COUNT,
        cluster: { redis: cluster.url, node },
        log: (line) => hub.logs.push(`${node} ${line}`),
        onEvent: (event) => void (event.type === 'dead' && hub.deaths.push(event)),
      });
      hub.servers.push(server);
      for (let i = 0; i < 3; i++) {
        const client = connect(server.wsUrl, { interval: INTERVAL, count: COUNT, reconnect: false });
        hub.clients.push(client);
        await nextEvent(client, 'open');
      }
    }
    hubs.push(hub);
  }
  for (const hub of hubs) await until(() => whole(hub), `presence of ${hub.name} whole`, 5000);
}, 90_000);

afterAll(async () => {
  for (const hub of hubs) {
    for (const client of hub.clients) client.close();
    for (const server of hub.servers) await server.close();
  }
  await cluster?.stop();
});

describe('hubs over a Redis Cluster', () => {
  it('spreads 30 hub names over every primary, none taking all, where the link finds them', async () => {
    const primaries = await cluster.primaries();
    expect(primaries).toHaveLength(3);
    const counts = new Map(primaries.map((port) => [port, 0]));
    const target = redisTarget(cluster.url);
    for (const name of NAMES) {
      const primary = await cluster.primaryOf(name);
      counts.set(primary, counts.get(primary)! + 1);
      // The link's own way to the hub's primary agrees with the cluster.
      expect(await topologyOf(target, keys.nodes(hubPrefix(name))).primary()).toEqual({ host: '127.0.0.1', port: primary });
    }
    for (const count of counts.values()) {
      expect(count).toBeGreaterThan(0);
      expect(count).toBeLessThan(NAMES.length);
    }
    expect(hubs).toHaveLength(3);
    for (const hub of hubs) {
      const primary = `127.0.0.1:${await cluster.primaryOf(hub.name)}`;
      for (const server of hub.servers) expect(await health(server)).toMatchObject({ redis: 'up', redisAt: primary, failovers: 0 });
    }
  });

  it("rides out each hub's own primary's SIGKILL in turn, while the other hubs go on", async () => {
    for (const [i, hub] of hubs.entries()) {
      const failing = cluster.failover(hub.name);
      await until(async () => (await Promise.all(hub.servers.map(health))).every((h) => h.redis === 'down'), `${hub.name} seeing its primary gone`, 5000);
      // While it is away a peer leaves and another comes: presence must catch up when it is back.
      hub.clients.shift()!.close();
      const joiner = connect(hub.servers[1]!.wsUrl, { interval: INTERVAL, count: COUNT, reconnect: false });
      hub.clients.push(joiner);
      await nextEvent(joiner, 'open');
      const failover = await failing;
      await until(async () => whole(hub) && (await Promise.all(hub.servers.map(health))).every((h) => h.redis === 'up'), `presence of ${hub.name} whole again`, 5000).catch(async (error: unknown) => {
        // What each process lists and says, for the one who reads the failure.
        const listed = hub.servers.map((server) => server.hub.presence().length).join(', ');
        throw new Error(`${String(error)}: ${peersOf(hub)} peers, listed ${listed}; health ${JSON.stringify(await Promise.all(hub.servers.map(health)))}\n${hub.logs.slice(-15).join('\n')}`);
      });
      expect(Date.now() - failover.answeredAt).toBeLessThan(3000);
      for (const server of hub.servers) expect(await health(server)).toMatchObject({ redisAt: `127.0.0.1:${failover.promoted}`, failovers: 1 });
      // The hubs on the other primaries: not moved, none of their peers lost.
      for (const [j, other] of hubs.entries()) {
        if (j === i) continue;
        expect(whole(other)).toBe(true);
        for (const server of other.servers) expect((await health(server)).failovers).toBe(j < i ? 1 : 0);
      }
      const noticed = hubs.filter((other) => other !== hub && other.logs.some((line) => line.includes('redis unreachable'))).map((other) => other.name);
      expect(noticed).toEqual([]);
      for (const other of hubs) other.logs.length = 0;
    }
    // No false death anywhere, no takeover, every peer still served.
    for (const hub of hubs) {
      expect(hub.deaths).toEqual([]);
      expect(hub.servers.map((server) => server.cluster!.stats.takeovers)).toEqual([0, 0]);
      expect(peersOf(hub)).toBe(6);
    }
  }, 60_000);
});
