/**
 * Presence for peers across a clustered hub (real Node CLI processes with `--presence`, a real
 * redis-server, a balancer in front): a watcher on process c subscribes; peers on process a
 * set their states; a is SIGKILLed. The peers that resume on a survivor are no leave and no
 * join to the watcher, their states kept; the ones that do not each leave once, at the bound
 * of docs/cluster.md (`max(lastSignOfLife + interval × (count + 1), lease expiry) + 1 s`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../adapters/node/client.ts';
import type { KeepaliveClient, PresenceEvent } from '../../runtime/client/index.ts';
import { killAll, spawnServer, until } from '../node/helpers.ts';
import { startBalancer, type Balancer } from '../support/balancer.ts';
import { nextEvent } from '../support/client-events.ts';
import { startRedis, type RedisProcess } from '../support/redis.ts';
import { listForm, rowsForm } from '../support/presence-lists.ts';
import type { PresenceEntry } from '../../runtime/application/index.ts';

const INTERVAL = 1000;
const COUNT = 2;
const BOUND = INTERVAL * (COUNT + 1);
const LEASE = 3000;

type Server = Awaited<ReturnType<typeof spawnServer>>;
let redis: RedisProcess;
let balancer: Balancer;
const servers = new Map<string, Server>();
let routeTo: string[] = [];
const clients: KeepaliveClient[] = [];

const portOf = (server: Server) => Number(new URL(server.http).port);
const rows = async (server: Server) => (await (await fetch(`${server.http}/presence`)).json()) as PresenceEntry[];

beforeAll(async () => {
  redis = await startRedis();
  for (const node of ['a', 'b', 'c']) {
    const server = await spawnServer(['--redis', redis.url, '--node', node, '--interval', String(INTERVAL), '--count', String(COUNT), '--presence']);
    servers.set(node, server);
    await server.line(/^\s+state\s+Redis/);
  }
  balancer = await startBalancer(() => routeTo.map((node) => portOf(servers.get(node)!)));
}, 30_000);

afterAll(async () => {
  for (const client of clients) client.close();
  killAll();
  await balancer?.close();
  await redis?.stop();
});

describe('presence across processes when one is SIGKILLed', () => {
  it('no leave and no join for the peers that resume elsewhere, one leave each at the bound for the others', async () => {
    const c = servers.get('c')!;
    const watcher = connect(c.ws, { peer: 'watcher', interval: INTERVAL, count: COUNT });
    clients.push(watcher);
    const heard: { type: string; peer: string | null; at: number }[] = [];
    for (const type of ['join', 'leave', 'update'] as const) {
      watcher.presence.addEventListener(type, (event: PresenceEvent) => heard.push({ type, peer: event.peer, at: Date.now() }));
    }
    await nextEvent(watcher, 'open');

    routeTo = ['a'];
    const back: KeepaliveClient[] = [];
    for (let i = 0; i < 4; i++) {
      const client = connect(balancer.url, { peer: `back-${i}`, interval: 2 * INTERVAL, count: COUNT, reconnect: { minDelay: 50 } });
      back.push(client);
      clients.push(client);
      await nextEvent(client, 'open');
      client.presence.set({ n: i });
    }
    const gone: KeepaliveClient[] = [];
    for (let i = 0; i < 2; i++) {
      const client = connect(balancer.url, { peer: `gone-${i}`, interval: INTERVAL, count: COUNT, reconnect: false });
      gone.push(client);
      clients.push(client);
      await nextEvent(client, 'open');
    }
    // The watcher lists all six (and itself) as c does, with the states they set.
    await until(async () => JSON.stringify(listForm(watcher.presence.list())) === JSON.stringify(rowsForm(await rows(c))) && watcher.presence.list().length === 7, 'the watcher agreeing with /presence');
    await until(() => back.every((_, i) => JSON.stringify(watcher.presence.list().find((e) => e.peer === `back-${i}`)?.state) === `{"n":${i}}`), 'the states');
    const before = heard.length;

    routeTo = ['b'];
    const killedAt = Date.now();
    const resumed = back.map((client) => nextEvent(client, 'open'));
    servers.get('a')!.proc.kill('SIGKILL');
    for (const client of gone) client.close();
    expect((await Promise.all(resumed)).every((event) => event.resumed)).toBe(true);

    await until(() => heard.filter((e) => e.type === 'leave').length === 2, 'two leaves', LEASE + BOUND + 5000);
    const after = heard.slice(before);
    const leaves = after.filter((e) => e.type === 'leave');
    console.log(`presence (cluster): the two peers that did not come back left the watcher's list ${leaves.map((e) => e.at - killedAt).join(', ')} ms after the SIGKILL`);
    expect(leaves.map((e) => e.peer).sort()).toEqual(['gone-0', 'gone-1']);
    for (const leave of leaves) expect(leave.at - killedAt).toBeLessThanOrEqual(Math.max(BOUND, LEASE) + 1000 + 1000);
    await until(async () => JSON.stringify(listForm(watcher.presence.list())) === JSON.stringify(rowsForm(await rows(c))), 'agreeing after the failover');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const late = heard.slice(before);
    // The resumed ones: never left, never joined again; their states as they were.
    expect(late.filter((e) => e.peer?.startsWith('back-') && e.type !== 'update')).toEqual([]);
    expect(late.filter((e) => e.type === 'leave')).toHaveLength(2);
    expect(back.map((_, i) => JSON.stringify(watcher.presence.list().find((e) => e.peer === `back-${i}`)?.state))).toEqual(back.map((_, i) => `{"n":${i}}`));
    expect(watcher.presence.list().filter((e) => e.peer?.startsWith('back-')).every((e) => e.connections.every((conn) => conn.node === 'b'))).toBe(true);
  }, 40_000);
});
