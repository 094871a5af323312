/**
 * The failover scenario the Redis Cluster and Sentinel tests share: the hub's Redis
 * primary SIGKILLed under a hub with many answering peers, a replica promoted in its
 * place, and one of the hub's processes SIGKILLed while Redis is away. What must hold:
 *
 * - no false death: no peer of a live process is declared dead, none of their sockets
 *   closes, and no live process is taken over;
 * - presence whole on every live process within 3 s of the new primary answering, though
 *   peers opened and closed while Redis was away (their rows were published into the void);
 * - the new primary holds every live connection's record again (each process wrote again
 *   what it holds, as after a Redis restart), and `/healthz` names it;
 * - the process killed during the failover is taken over by one survivor once the survivors
 *   have seen the new primary for a lease: its peers that come back resume there under the
 *   same ids, the others are declared dead once each.
 */
import { expect } from 'vitest';
import { connect } from '../../adapters/node/client.ts';
import type { KeepaliveClient } from '../../runtime/client/keepalive-client.ts';
import { until } from '../node/helpers.ts';
import { AnsweringPeers } from '../support/answering-peers.ts';
import type { Balancer } from '../support/balancer.ts';
import { nextEvent } from '../support/client-events.ts';
import { events, health, presence, type HubProcess } from '../support/hub-process.ts';
import type { Failover } from '../support/redis-cluster.ts';
import { hubKeys } from '../support/redis.ts';

export interface Scenario {
  /** The hub's processes; the last is SIGKILLed during the failover. */
  processes: readonly HubProcess[];
  balancer: Balancer;
  /** Where the balancer sends new connections from now on. */
  route(to: readonly HubProcess[]): void;
  /** SIGKILLs the hub's primary; resolves once a replica answers in its place. */
  failover(): Promise<Failover>;
  /** One command to one Redis server. */
  command(port: number, args: string[]): Promise<unknown>;
  /** Answering peers spread over the processes. */
  peers: number;
  interval: number;
  count: number;
  lease: number;
}

export interface Outcome {
  failover: Failover;
  /** From the new primary answering to presence whole on every live process. */
  wholeMs: number;
  /** From the new primary answering to the killed process's rows gone from every survivor. */
  takenOverMs: number;
}

const RESUMING = 4;
const CHURN = 20;

export async function primaryFailover(scenario: Scenario): Promise<Outcome> {
  const { processes, interval, count, lease } = scenario;
  const victim = processes.at(-1)!;
  const survivors = processes.slice(0, -1);
  const peers = new AnsweringPeers();
  const resuming: KeepaliveClient[] = [];
  // What the survivors print from here on.
  const marks = new Map(survivors.map((process) => [process, process.stdout.length]));
  const since = (process: HubProcess) => process.stdout.slice(marks.get(process));
  try {
    // Answering peers over every process, and a few clients that resume, on the one to be killed.
    const share = Math.floor(scenario.peers / processes.length);
    for (const process of processes) await peers.open(process.ws, Array.from({ length: share }, (_, i) => `${process.name}-${i}`));
    scenario.route([victim]);
    for (let i = 0; i < RESUMING; i++) {
      // Their own bound (12 s) outlasts the failover and the lease after it.
      const client = connect(scenario.balancer.url, { peer: `resume-${i}`, interval: 2000, count: 5, reconnect: { minDelay: 50 } });
      resuming.push(client);
      await nextEvent(client, 'open');
    }
    const total = share * processes.length + RESUMING;
    for (const process of processes) await until(async () => (await presence(process)).length === total, `${total} rows on ${process.name}`, 20_000);
    const before = new Map((await presence(survivors[0]!)).map((row) => [row.peer!, row]));
    const resumingIds = resuming.map((_, i) => before.get(`resume-${i}`)!.connection);
    const victimIds = peers.names().filter((name) => name.startsWith(`${victim.name}-`)).map((name) => before.get(name)!.connection);
    const resumed = resuming.map((client) => nextEvent(client, 'open'));
    const clientDeaths: string[] = [];
    for (const [i, client] of resuming.entries()) client.addEventListener('dead', () => clientDeaths.push(`resume-${i}`));

    // The primary dies; while Redis is away peers come and go, and a process dies too.
    scenario.route(survivors);
    const failing = scenario.failover();
    for (const process of processes) await until(async () => (await health(process)).cluster.redis === 'down', `${process.name} seeing Redis away`, 5000);
    victim.proc.kill('SIGKILL');
    const [first, second] = survivors as [HubProcess, HubProcess];
    const closedNames = peers.names().filter((name) => name.startsWith(`${second.name}-`)).slice(0, CHURN);
    peers.close(closedNames);
    const newNames = Array.from({ length: CHURN }, (_, i) => `${first.name}-new-${i}`);
    await peers.open(first.ws, newNames);
    const failover = await failing;

    // Presence whole on every survivor: every peer of theirs, the new ones too, none of the closed.
    const expected = new Map<string, string>();
    for (const name of peers.names()) if (!name.startsWith(`${victim.name}-`)) expected.set(name, name.startsWith(`${first.name}-new-`) ? first.name : name.replace(/-\d+$/, ''));
    const wholeOn = async (process: HubProcess) => {
      const rows = (await presence(process)).filter((row) => row.node !== victim.name && !row.peer!.startsWith('resume-') && !row.peer!.startsWith(`${victim.name}-`));
      return rows.length === expected.size && rows.every((row) => expected.get(row.peer!) === row.node);
    };
    await until(async () => (await Promise.all(survivors.map(wholeOn))).every(Boolean), 'presence whole on every survivor', 10_000);
    const wholeMs = Date.now() - failover.answeredAt;

    // Redis holds again what every survivor holds, and they say where it is.
    const promoted = `127.0.0.1:${failover.promoted}`;
    await until(async () => (await Promise.all(survivors.map(health))).every((h) => h.cluster.redis === 'up' && h.cluster.redisAt === promoted), 'every survivor on the new primary', 5000);
    for (const process of survivors) {
      const { cluster } = await health(process);
      expect(cluster).toMatchObject({ failovers: 1, redisAt: promoted });
      expect(cluster.failedOverAt).toBeGreaterThanOrEqual(failover.killedAt);
      const metrics = await (await fetch(`${process.http}/metrics`)).text();
      expect(metrics).toContain(`keepalive_cluster_redis_failovers_total 1`);
      expect(metrics).toMatch(new RegExp(`keepalive_cluster_redis_info\\{topology="\\w+",address="${promoted}"\\} 1`));
    }

    // The process killed meanwhile: one survivor takes it over; its resuming peers resume, the others are declared dead once each.
    const reopened = await Promise.all(resumed);
    await until(async () => (await Promise.all(survivors.map(presence))).every((rows) => !rows.some((row) => row.node === victim.name || victimIds.includes(row.connection))), `${victim.name}'s rows gone everywhere`, 3 * lease + interval * (count + 1));
    const takenOverMs = Date.now() - failover.answeredAt;
    const rows = await presence(first);
    // What the survivors said about Redis, takeovers and verdicts, for a failure's message.
    const story = survivors.map((p) => `${p.name}:\n${since(p).filter((line) => /redis|took over|resumed|dead:/.test(line)).slice(0, 40).join('\n')}`).join('\n');
    expect(reopened.map((event) => event.resumed), story).toEqual(resuming.map(() => true));
    for (const id of resumingIds) expect(survivors.map((p) => p.name), story).toContain(rows.find((row) => row.connection === id)?.node);
    expect(clientDeaths).toEqual([]);
    const deaths = survivors.flatMap((process) => events(since(process), 'dead'));
    expect(deaths.sort(), story).toEqual([...victimIds].sort());
    const took = survivors.flatMap((process) => since(process).filter((line) => /took over \d+ connection/.test(line)));
    expect(took, story).toHaveLength(1);
    expect(took[0]).toMatch(new RegExp(`took over ${victimIds.length + RESUMING} connection\\(s\\) and \\d+ undelivered event\\(s\\) of node ${victim.name}:`));

    // No false death: the survivors' peers never dropped; every live record is in Redis.
    expect(peers.dropped.filter((name) => !name.startsWith(`${victim.name}-`))).toEqual([]);
    const held = (await Promise.all(survivors.map(presence)))[0]!.length;
    await until(async () => {
      let stored = 0;
      for (const process of survivors) stored += Number(await scenario.command(failover.promoted, ['HLEN', hubKeys().conns(process.name)]));
      return stored === held;
    }, 'every live record on the new primary', 5000);
    return { failover, wholeMs, takenOverMs };
  } finally {
    for (const client of resuming) client.close();
    peers.closeAll();
  }
}
