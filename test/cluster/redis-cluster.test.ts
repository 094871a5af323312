/**
 * One hub on a real Redis Cluster (three primaries, three replicas), over three Node
 * processes and a Deno process given `redis+cluster://` seeds: everything a hub does on one
 * Redis (presence, broadcast, send, close, a session resumed on another process, a killed
 * process taken over), its keys on the primary serving its slot and its channels sharded
 * there; then that primary SIGKILLed under 1,000 answering peers (primary-failover.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../adapters/node/client.ts';
import type { KeepaliveClient } from '../../runtime/client/keepalive-client.ts';
import { killAll, until } from '../node/helpers.ts';
import { startBalancer, type Balancer } from '../support/balancer.ts';
import { nextEvent } from '../support/client-events.ts';
import { events, health, presence, startHubProcess, type HubProcess } from '../support/hub-process.ts';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.ts';
import { hubKeys } from '../support/redis.ts';
import { primaryFailover } from './primary-failover.ts';

const INTERVAL = 1000;
const COUNT = 2;
const BOUND = INTERVAL * (COUNT + 1);
const LEASE = 3000;

let cluster: RedisCluster;
let balancer: Balancer;
const processes = new Map<string, HubProcess>();
let routeTo: HubProcess[] = [];
const clients: KeepaliveClient[] = [];
const received = new Map<string, string[]>();

const start = async (runtime: 'node' | 'deno', name: string) => {
  const process = await startHubProcess(runtime, name, cluster.url, { interval: INTERVAL, count: COUNT });
  processes.set(name, process);
  return process;
};
const get = (name: string) => processes.get(name)!;

function join(peer: string, url: string, options: { reconnect: boolean } = { reconnect: false }): KeepaliveClient {
  const client = connect(url, { peer, interval: options.reconnect ? 2 * INTERVAL : INTERVAL, count: COUNT, reconnect: options.reconnect ? { minDelay: 50 } : false });
  received.set(peer, []);
  client.addEventListener('message', (event) => received.get(peer)!.push(String((event as unknown as { data: unknown }).data)));
  clients.push(client);
  return client;
}

beforeAll(async () => {
  cluster = await startRedisCluster();
  await Promise.all([start('node', 'a'), start('node', 'b'), start('node', 'c'), start('deno', 'd')]);
  balancer = await startBalancer(() => routeTo.map((process) => process.port));
}, 90_000);

afterAll(async () => {
  for (const client of clients) client.close();
  killAll();
  await balancer?.close();
  await cluster?.stop();
});

describe('a hub on a Redis Cluster', () => {
  it('serves one hub over Node and Deno processes: presence, broadcast, send and close', async () => {
    for (const name of ['a', 'b', 'c', 'd']) await nextEvent(join(`on-${name}`, get(name).ws), 'open');
    const expected = { 'on-a': 'a', 'on-b': 'b', 'on-c': 'c', 'on-d': 'd' };
    for (const process of processes.values()) {
      const rows = await until(async () => {
        const rows = await presence(process);
        return rows.length === 4 && rows;
      }, `four rows on ${process.name}`, 5000);
      expect(Object.fromEntries(rows.map((row) => [row.peer, row.node]))).toEqual(expected);
    }
    const ids = Object.fromEntries((await presence(get('d'))).map((row) => [row.peer!, row.connection]));
    for (const [i, name] of ['a', 'b', 'c', 'd'].entries()) clients[i]!.send(`bc:from-${name}`);
    for (const [peer, messages] of received) {
      await until(() => ['from-a', 'from-b', 'from-c', 'from-d'].every((m) => messages.includes(m)), `every broadcast at ${peer}`, 5000);
    }
    // Deno to a peer on Node b, Node a to the peer on Deno; then closes both ways.
    clients[3]!.send(`send:${ids['on-b']}:hello-b`);
    clients[0]!.send(`send:${ids['on-d']}:hello-d`);
    await until(() => received.get('on-b')!.includes('hello-b') && received.get('on-d')!.includes('hello-d'), 'the sends', 5000);
    const cClosed = nextEvent(clients[2]!, 'close');
    clients[3]!.send(`close:${ids['on-c']}`);
    expect((await cClosed).reason).toContain('closed from deno');
    const dClosed = nextEvent(clients[3]!, 'close');
    clients[1]!.send(`close:${ids['on-d']}`);
    expect((await dClosed).reason).toContain('closed from node b');
    for (const process of processes.values()) await until(async () => (await presence(process)).length === 2, `two rows left on ${process.name}`, 5000);

    // Where it lives: on the primary serving the hub's slot, its channels sharded there.
    const primary = await cluster.primaryOf('default');
    expect((await health(get('a'))).cluster).toMatchObject({ topology: 'cluster', redisAt: `127.0.0.1:${primary}`, redis: 'up', failovers: 0 });
    expect(await cluster.command(primary, ['EXISTS', hubKeys().nodes])).toBe(1);
    expect(await cluster.command(primary, ['PUBSUB', 'SHARDNUMSUB', hubKeys().hubChannel])).toEqual([hubKeys().hubChannel, 4]);
    expect(await cluster.command(primary, ['PUBSUB', 'NUMSUB', hubKeys().hubChannel])).toEqual([hubKeys().hubChannel, 0]);
  });

  it('resumes a session on another process: the same connection, handed over', async () => {
    routeTo = [get('a')];
    const client = join('roamer', balancer.url, { reconnect: true });
    await nextEvent(client, 'open');
    const id = await until(async () => (await presence(get('d'))).find((row) => row.peer === 'roamer')?.connection, 'the roamer in presence');
    routeTo = [get('b')];
    const reopened = nextEvent(client, 'open');
    balancer.cut();
    expect((await reopened).resumed).toBe(true);
    for (const process of processes.values()) {
      await until(async () => (await presence(process)).find((row) => row.connection === id)?.node === 'b', `the roamer held by b on ${process.name}`, 5000);
    }
    client.close();
  });

  it('takes over a SIGKILLed process: its peers that come back resume on a survivor, the others are declared dead', async () => {
    routeTo = [get('c')];
    const back = [join('back-0', balancer.url, { reconnect: true }), join('back-1', balancer.url, { reconnect: true })];
    const gone = [join('gone-0', get('c').ws), join('gone-1', get('c').ws)];
    await Promise.all([...back, ...gone].map((client) => nextEvent(client, 'open')));
    const rows = await until(async () => {
      const rows = (await presence(get('a'))).filter((row) => row.node === 'c');
      return rows.length === 4 && rows;
    }, "c's four rows on a");
    const id = (peer: string) => rows.find((row) => row.peer === peer)!.connection;
    const resumed = back.map((client) => nextEvent(client, 'open'));
    routeTo = [get('a'), get('b')];
    get('c').proc.kill('SIGKILL');
    expect((await Promise.all(resumed)).every((event) => event.resumed)).toBe(true);
    const survivors = [get('a'), get('b'), get('d')];
    const dead = await until(() => {
      const dead = survivors.flatMap((process) => events(process.stdout, 'dead'));
      return dead.length >= 2 && dead;
    }, 'the silent peers declared dead', LEASE + BOUND + 2000);
    expect(dead.sort()).toEqual([id('gone-0'), id('gone-1')].sort());
    for (const process of survivors) {
      await until(async () => {
        const now = await presence(process);
        return !now.some((row) => row.node === 'c') && ['back-0', 'back-1'].every((peer) => now.some((row) => row.connection === id(peer)));
      }, `c's rows taken over on ${process.name}`, 5000);
    }
    expect(survivors.flatMap((process) => process.stdout.filter((line) => /took over 4 connection\(s\).* of node c:/.test(line)))).toHaveLength(1);
  });

  it('survives the SIGKILL of the primary serving the hub, with 1,000 peers answering and a process killed during the failover', async () => {
    for (const client of clients) client.close();
    const e = await start('node', 'e');
    const outcome = await primaryFailover({
      processes: [get('a'), get('b'), get('d'), e],
      balancer,
      route: (to) => (routeTo = [...to]),
      failover: () => cluster.failover('default'),
      command: (port, args) => cluster.command(port, args),
      peers: 1000,
      interval: INTERVAL,
      count: COUNT,
      lease: LEASE,
    });
    console.log(`Redis Cluster failover: new primary answering ${outcome.failover.answeredAt - outcome.failover.killedAt} ms after the SIGKILL; presence whole ${outcome.wholeMs} ms after that; the killed process taken over ${outcome.takenOverMs} ms after it`);
    expect(outcome.wholeMs).toBeLessThan(3000);
  }, 90_000);
});
