/**
 * Figure 11's columns per Redis topology (issue 36), in one run: the same three hubs on one
 * Redis, on a Redis Cluster (three primaries, a replica each, chosen hub names landing on
 * each primary) and on a primary with a replica under three Sentinels; per topology:
 *
 * - Redis commands per second on each primary in steady state, idle answering peers: the
 *   hubs' own commands, summed from `INFO commandstats` (replication's REPLCONF, the
 *   Sentinels' PING and INFO, and what a connection sends once at connect are left out;
 *   the Sentinels' hello PUBLISHes, 1.5 a second, are in);
 * - the failover's gap: from the SIGKILL of the first hub's primary (one Redis: restarted
 *   at once, empty, as a supervisor would) to that hub whole again: every process on the
 *   new primary, every record written there again, presence whole on every process; and the
 *   part of it after the new primary first answered (the hub's own part);
 * - false deaths: deaths counted by the servers plus closes seen by the peers, all hubs.
 *
 * A part of figure 11 (11-cluster.ts calls it), in a file of its own for its size.
 */
import { benchFile } from '../lib/paths.ts';
import type { Measurement } from '../lib/result.ts';
import { spawnNode, type NodeChild } from '../lib/spawn.ts';
import { measure } from '../lib/stats.ts';
import { hubPrefix, keys } from '../../runtime/cluster/keys.ts';
import { startRedisCluster } from '../../test/support/redis-cluster.ts';
import { startRedisSentinel } from '../../test/support/redis-sentinel.ts';
import { startRedis, redisCommand } from '../../test/support/redis.ts';

const HUBS = 3;

/** A Redis deployment as this figure drives it. */
interface Deployment {
  label: string;
  url: string;
  primaries(): Promise<number[]>;
  /** SIGKILLs the hub's primary; resolves once a server answers as its primary again. */
  kill(hub: string): Promise<{ killedAt: number; answeredAt: number; primary: number }>;
  stop(): Promise<void>;
}

interface Outcome {
  label: string;
  perPrimary: number[];
  gapMs: number;
  afterAnswerMs: number;
  falseDeaths: number;
  peers: number;
}

/** Commands a hub never sends in steady state, or another part of the deployment does. */
const NOT_THE_HUBS = new Set(['ping', 'info', 'replconf', 'client', 'hello', 'config', 'cluster', 'sentinel', 'command', 'role', 'psync', 'sync']);

const command = (port: number, args: string[]) => redisCommand(port, args, 2000);

async function hubCommands(port: number): Promise<number> {
  let calls = 0;
  for (const match of String(await command(port, ['INFO', 'commandstats'])).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (!NOT_THE_HUBS.has(match[1]!.split('|')[0]!)) calls += Number(match[2]);
  }
  return calls;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function deployments(): Promise<{ list: Deployment[]; hubs: string[] }> {
  const [single, cluster, sentinel] = await Promise.all([startRedis(), startRedisCluster(['--cluster-require-full-coverage', 'no']), startRedisSentinel()]);
  // Hub names on each of the cluster's primaries: the same names on every topology.
  const hubs: string[] = [];
  const taken = new Set<number>();
  for (let i = 0; hubs.length < HUBS; i++) {
    const primary = await cluster.primaryOf(`hub-${i}`);
    if (!taken.has(primary)) {
      taken.add(primary);
      hubs.push(`hub-${i}`);
    }
  }
  return {
    hubs,
    list: [
      {
        label: 'one Redis',
        url: single.url,
        primaries: async () => [single.port],
        async kill() {
          const killedAt = Date.now();
          await single.restart();
          return { killedAt, answeredAt: Date.now(), primary: single.port };
        },
        stop: () => single.stop(),
      },
      {
        label: 'Redis Cluster',
        url: cluster.url,
        primaries: () => cluster.primaries(),
        async kill(hub) {
          const failover = await cluster.failover(hub);
          return { killedAt: failover.killedAt, answeredAt: failover.answeredAt, primary: failover.promoted };
        },
        stop: () => cluster.stop(),
      },
      {
        label: 'Sentinel',
        url: sentinel.url,
        primaries: async () => [await sentinel.primary()],
        async kill() {
          const failover = await sentinel.failover();
          return { killedAt: failover.killedAt, answeredAt: failover.answeredAt, primary: failover.promoted };
        },
        stop: () => sentinel.stop(),
      },
    ],
  };
}

async function measureOne(deployment: Deployment, hubs: readonly string[], sizes: { perProcess: number; seconds: number; quick: boolean }, log: (line: string) => void): Promise<Outcome> {
  const children: NodeChild[] = [];
  try {
    // Two processes for the first hub (its presence must be whole on both), and for every hub at full size.
    const servers = await Promise.all(
      hubs.flatMap((hub, i) =>
        Array.from({ length: i === 0 || !sizes.quick ? 2 : 1 }, async (_, j) => {
          const child = spawnNode(benchFile('workers/cluster-node.ts'), [deployment.url, `n${j + 1}`, hub], { onLine: log });
          children.push(child);
          const ready = await child.next<{ type: string; url: string; http: string }>('ready', 60_000);
          return { hub, node: `n${j + 1}`, child, ...ready };
        }),
      ),
    );
    const clients = servers.map((server) => spawnNode(benchFile('workers/live-clients.ts'), [server.url, String(sizes.perProcess), 'keepalive']));
    children.push(...clients);
    const opened = await Promise.all(clients.map((client) => client.next<{ type: string; open: number }>('connected', 300_000)));
    const peers = opened.reduce((sum, o) => sum + o.open, 0);
    const first = servers.filter((server) => server.hub === hubs[0]);
    const firstPeers = opened.filter((_, i) => servers[i]!.hub === hubs[0]).reduce((sum, o) => sum + o.open, 0);
    const presence = async (http: string) => ((await (await fetch(`${http}/presence`)).json()) as unknown[]).length;
    for (const [i, server] of servers.entries()) {
      const total = opened.filter((_, j) => servers[j]!.hub === server.hub).reduce((sum, o) => sum + o.open, 0);
      for (let t = Date.now(); (await presence(server.http)) !== total; await sleep(50)) if (Date.now() - t > 30_000) throw new Error(`${deployment.label}: presence of ${server.hub} not whole on ${i}`);
    }
    // Write-behind and presence reports settle into their once-a-second rhythm.
    await sleep(sizes.quick ? 1000 : 3000);

    // Steady state: the hubs' commands on each primary.
    const primaries = await deployment.primaries();
    const before = await Promise.all(primaries.map(hubCommands));
    const t0 = performance.now();
    await sleep(sizes.seconds * 1000);
    const after = await Promise.all(primaries.map(hubCommands));
    const elapsed = (performance.now() - t0) / 1000;
    const perPrimary = primaries.map((_, i) => (after[i]! - before[i]!) / elapsed);
    log(`${deployment.label}: ${peers} peers over ${hubs.length} hubs; hub commands/s per primary ${perPrimary.map((r) => r.toFixed(1)).join(', ')}`);

    // The first hub's primary SIGKILLed: to that hub whole again.
    const killing = deployment.kill(hubs[0]!);
    const { killedAt, answeredAt, primary } = await killing;
    const prefix = hubPrefix(hubs[0]!);
    const whole = async () => {
      for (const server of first) {
        const health = (await (await fetch(`${server.http}/healthz`)).json()) as { cluster: { redis: string; redisAt: string } };
        if (health.cluster.redis !== 'up' || health.cluster.redisAt !== `127.0.0.1:${primary}`) return false;
        if ((await presence(server.http)) !== firstPeers) return false;
      }
      let stored = 0;
      for (const server of first) stored += Number(await command(primary, ['HLEN', keys.conns(prefix, server.node)]));
      return stored === firstPeers;
    };
    while (!(await whole().catch(() => false))) {
      if (Date.now() - killedAt > 30_000) throw new Error(`${deployment.label}: ${hubs[0]} not whole within 30 s of the SIGKILL`);
      await sleep(25);
    }
    const wholeAt = Date.now();
    log(`${deployment.label}: new primary answering ${answeredAt - killedAt} ms after the SIGKILL, ${hubs[0]} whole ${wholeAt - answeredAt} ms after that`);

    const stats = await Promise.all(servers.map((server) => (server.child.send({ type: 'stats' }), server.child.next<{ type: string; deaths: number }>('stats'))));
    const clientStats = await Promise.all(clients.map((client) => (client.send({ type: 'stats' }), client.next<{ type: string; unexpectedCloses: number }>('stats'))));
    const falseDeaths = stats.reduce((sum, s) => sum + s.deaths, 0) + clientStats.reduce((sum, s) => sum + s.unexpectedCloses, 0);
    return { label: deployment.label, perPrimary, gapMs: wholeAt - killedAt, afterAnswerMs: wholeAt - answeredAt, falseDeaths, peers };
  } finally {
    for (const child of children) child.kill();
    await Promise.all(children.map((child) => child.exited(10_000).catch(() => undefined)));
  }
}

/** The parts of figure 11 for each topology, and its notes. */
export async function topologyParts(quick: boolean, log: (line: string) => void): Promise<{ parts: Measurement[]; notes: string[]; scale: string }> {
  const sizes = { perProcess: quick ? 25 : 500, seconds: quick ? 2 : 20, quick };
  const { list, hubs } = await deployments();
  const outcomes: Outcome[] = [];
  try {
    for (const deployment of list) outcomes.push(await measureOne(deployment, hubs, sizes, log));
  } finally {
    await Promise.all(list.map((deployment) => deployment.stop()));
  }
  const parts: Measurement[] = [];
  for (const outcome of outcomes) {
    const { label } = outcome;
    parts.push(
      measure({ name: `Redis commands per second on the busiest primary, ${HUBS} hubs, ${outcome.peers} idle peers (${label})`, unit: 'commands/s', samples: [Math.max(...outcome.perPrimary)] }),
      measure({ name: `Redis commands per second, every primary (${label})`, unit: 'commands/s', samples: [outcome.perPrimary.reduce((sum, r) => sum + r, 0)] }),
      measure({ name: `failover gap: SIGKILL of a hub's primary to the hub whole again (${label})`, unit: 'ms', samples: [outcome.gapMs] }),
      measure({
        name: `failover gap after the new primary first answered (${label})`,
        unit: 'ms',
        samples: [outcome.afterAnswerMs],
        target: '<= 3000 ms',
        meets: (value) => value <= 3000,
      }),
    );
  }
  const falseDeaths = outcomes.reduce((sum, o) => sum + o.falseDeaths, 0);
  parts.push(measure({ name: 'false deaths through the three failovers', unit: 'peers', samples: [falseDeaths], target: '0', meets: (value) => value === 0 }));
  return {
    parts,
    scale: `per topology ${hubs.length} hubs (${hubs.join(', ')}), ${quick ? '4' : '6'} processes, ${sizes.perProcess} peers per process, ${sizes.seconds} s steady`,
    notes: [
      `Topologies: one redis-server; a Redis Cluster of 3 primaries and 3 replicas (--cluster-node-timeout 1000, --cluster-require-full-coverage no); a primary and a replica under 3 Sentinels (down-after-milliseconds 1000). Hub names chosen to land on each cluster primary; the same names everywhere.`,
      `Commands per primary: ${outcomes.map((o) => `${o.label} ${o.perPrimary.map((r) => r.toFixed(1)).join(' / ')}`).join('; ')}. From INFO commandstats, without REPLCONF, PING, INFO and connect-time commands; Sentinel's count holds its 3 Sentinels' hello PUBLISHes (1.5/s).`,
      'Failover gap: from the SIGKILL of the first hub\'s primary (one Redis: restarted at once, empty) until every process of that hub says Redis is up on the new primary, presence is whole on each, and the new primary holds every one of its connection records again.',
    ],
  };
}
