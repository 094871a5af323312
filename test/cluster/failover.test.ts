/**
 * A process of a clustered hub killed with SIGKILL (real Node CLI processes, a real
 * redis-server, a load balancer in front): its peers that come back resume on a survivor
 * under the same connection ids, never missing from presence; those that do not are
 * declared dead by a survivor within `max(lastSignOfLife + interval × (count + 1), lease
 * expiry) + 1 s`, each with one `closed` event id, delivered by the survivor's webhook.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { connect } from '../../adapters/node/client.ts';
import type { KeepaliveClient } from '../../runtime/client/keepalive-client.ts';
import { killAll, spawnCli, spawnServer, until } from '../node/helpers.ts';
import { startBalancer, type Balancer } from '../support/balancer.ts';
import { nextEvent } from '../support/client-events.ts';
import { hubKeys, startRedis, type RedisProcess } from '../support/redis.ts';
import { WebhookReceiver } from '../support/webhook-receiver.ts';

const INTERVAL = 1000;
const COUNT = 2;
const BOUND = INTERVAL * (COUNT + 1);
const LEASE = 3000;

type Server = Awaited<ReturnType<typeof spawnServer>>;
let redis: RedisProcess;
let receiver: WebhookReceiver;
let balancer: Balancer;
const servers = new Map<string, Server>();
let routeTo: string[] = [];
const clients: KeepaliveClient[] = [];
let resumingIds: string[] = [];
const trail: string[] = [];

const portOf = (server: Server) => Number(new URL(server.http).port);

async function presence(server: Server): Promise<{ connection: string; peer: string | null; node: string }[]> {
  return (await (await fetch(`${server.http}/presence`)).json()) as { connection: string; peer: string | null; node: string }[];
}

async function start(node: string): Promise<Server> {
  const server = await spawnServer(['--redis', redis.url, '--node', node, '--interval', String(INTERVAL), '--count', String(COUNT), '--webhook', receiver.url]);
  servers.set(node, server);
  // The banner's last line: what it restored.
  await server.line(/^\s+state\s+Redis/);
  return server;
}

beforeAll(async () => {
  redis = await startRedis();
  receiver = await new WebhookReceiver().start();
  for (const node of ['a', 'b', 'c']) await start(node);
  balancer = await startBalancer(() => routeTo.map((node) => portOf(servers.get(node)!)));
}, 30_000);

afterAll(async () => {
  for (const client of clients) client.close();
  killAll();
  await balancer?.close();
  await receiver?.stop();
  await redis?.stop();
});

describe('SIGKILL of a process with peers on it', () => {
  it('resumes the peers that come back on a survivor, and declares the others dead within the bound', async () => {
    routeTo = ['a'];
    const resuming: KeepaliveClient[] = [];
    const silent: KeepaliveClient[] = [];
    for (let i = 0; i < 6; i++) {
      // Their own bound (6 s) outlasts a failover (lease 3 s): they see the server as alive throughout.
      const client = connect(balancer.url, { peer: `back-${i}`, interval: 2 * INTERVAL, count: COUNT, reconnect: { minDelay: 50 } });
      for (const type of ['dead', 'reconnecting', 'open', 'close'] as const) client.addEventListener(type, (event) => trail.push(`${Date.now() % 100000} back-${i} ${type} ${JSON.stringify(event)} ${(event as { reason?: string }).reason ?? ''}`));
      resuming.push(client);
      clients.push(client);
      await nextEvent(client, 'open');
    }
    for (let i = 0; i < 3; i++) {
      const client = connect(balancer.url, { peer: `gone-${i}`, interval: INTERVAL, count: COUNT, reconnect: false });
      silent.push(client);
      clients.push(client);
      await nextEvent(client, 'open');
    }
    const b = servers.get('b')!;
    const c = servers.get('c')!;
    // Everyone sees all nine, held by a.
    for (const server of [b, c]) await until(async () => (await presence(server)).filter((row) => row.node === 'a').length === 9, 'nine rows of a');
    const before = new Map((await presence(b)).map((row) => [row.peer!, row.connection]));
    const ids = new Set(resuming.map((_, i) => before.get(`back-${i}`)!));
    const silentIds = silent.map((_, i) => before.get(`gone-${i}`)!);
    const clientIds = resuming.map((client) => client.id);

    let lost: string[] = [];
    const resumed = resuming.map((client) => nextEvent(client, 'open'));
    const deaths = resuming.map((client) => new Promise<void>((resolve) => client.addEventListener('dead', () => resolve(), { once: true })));
    let sampling = true;
    // Presence sampled on both survivors through the whole failover: a resumed peer never leaves it.
    const samples = (async () => {
      let n = 0;
      while (sampling) {
        for (const server of [b, c]) {
          const rows = new Set((await presence(server)).map((row) => row.connection));
          lost = lost.concat([...ids].filter((id) => !rows.has(id)).map((id) => `${id} missing on sample ${n}`));
        }
        n++;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return n;
    })();

    routeTo = ['b', 'c'];
    const killedAt = Date.now();
    servers.get('a')!.proc.kill('SIGKILL');
    const opened = await Promise.all(resumed);
    expect(opened.every((event) => event.resumed)).toBe(true);
    // The same actors on both ends: the clients' own too (none declared its server dead).
    expect(resuming.map((client) => client.id)).toEqual(clientIds);

    // The silent ones: dead on a survivor, no earlier than the rule, no later than the lease's expiry + 1 s.
    const closed = await until(() => {
      const events = receiver.delivered.filter((event) => event.type === 'closed' && silentIds.includes(event.connection));
      return new Set(events.map((event) => event.connection)).size === silentIds.length && events;
    }, 'closed events of the silent peers', 10_000);
    const dead = receiver.delivered.filter((event) => event.type === 'dead' && silentIds.includes(event.connection));
    if (dead.length !== 3) console.log(JSON.stringify(closed), [...b.stdout, ...c.stdout].filter((l) => /dead|closed|took|resumed/.test(l)));
    expect(new Set(dead.map((event) => event.connection)).size).toBe(3);
    for (const event of dead) {
      if (event.type !== 'dead') continue;
      expect(event.silentFor).toBeGreaterThanOrEqual(BOUND);
      expect(event.at).toBeLessThanOrEqual(Math.max(event.at - event.silentFor + BOUND, killedAt + LEASE) + 1000 + 100);
    }
    for (const id of silentIds) expect(new Set(closed.filter((event) => event.connection === id).map((event) => event.id))).toEqual(new Set([`${id}:closed`]));
    // Gone from every survivor's presence; the resumed ones still there, none ended.
    for (const server of [b, c]) {
      await until(async () => !(await presence(server)).some((row) => silentIds.includes(row.connection)), 'silent rows gone', 2000);
    }
    sampling = false;
    expect(await samples).toBeGreaterThan(10);
    expect(lost).toEqual([]);
    const rows = await presence(b);
    expect(rows.filter((row) => ids.has(row.connection)).map((row) => row.node).every((node) => node === 'b' || node === 'c')).toBe(true);
    expect(receiver.delivered.filter((event) => ids.has(event.connection) && event.type !== 'open')).toEqual([]);
    expect(await Promise.race([Promise.race(deaths).then(() => 'a client declared its server dead'), new Promise((resolve) => setTimeout(() => resolve('none'), 10))])).toBe('none');
    const took = [...(b.stdout), ...(c.stdout)].filter((line) => /took over \d+ connection/.test(line));
    expect(took).toHaveLength(1);
    resumingIds = [...ids];
  }, 30_000);

  it('carries the same peers through two more kills, and a process restarted under its own name', async () => {
    expect(resumingIds).toHaveLength(6);
    const resumingClients = clients.slice(0, 6);
    const clientIds = resumingClients.map((client) => client.id);
    // a comes back under its own name: a survivor took its connections, so it starts empty.
    const a = await start('a');
    expect(a.stdout.join('\n')).toMatch(/as node "a"\s+\(0 connection\(s\) restored\)/);
    routeTo = ['a', 'b', 'c'];
    const holders = async () => new Map((await presence(a)).filter((row) => resumingIds.includes(row.connection)).map((row) => [row.connection, row.node]));
    await until(async () => (await holders()).size === 6, 'a seeing the six');

    // b killed: its peers resume on a or c.
    servers.get('b')!.proc.kill('SIGKILL');
    routeTo = ['a', 'c'];
    const settled = async (live: string[]) => {
      const held = await holders();
      // Held by a live process with their sockets back: the failover is over.
      const open = await Promise.all(live.map(async (node) => (await (await fetch(`${servers.get(node)!.http}/actors`)).json()) as { id: string }[]));
      const attached = new Set(open.flat().map((row) => row.id));
      return held.size === 6 && [...held.values()].every((node) => live.includes(node)) && resumingClients.every((client) => client.readyState === 1) && attached.size >= 6;
    };
    await until(() => settled(['a', 'c']), 'b\'s peers back on a or c', 10_000);

    // c killed and restarted at once under its own name: it takes its connections back from Redis.
    const cHeld = [...(await holders())].filter(([, node]) => node === 'c').map(([id]) => id);
    servers.get('c')!.proc.kill('SIGKILL');
    const c = await start('c');
    // What Redis says c held (a peer may have moved between the look and the kill).
    expect(cHeld.length).toBeGreaterThan(0);
    expect(Number(/\((\d+) connection\(s\) restored\)/.exec(c.stdout.join('\n'))?.[1])).toBeGreaterThan(0);
    routeTo = ['a', 'c'];
    await until(() => settled(['a', 'c']), 'all six live again', 10_000).catch(async (error: unknown) => {
      console.log(trail.join('\n'), [...servers.values()].map((s) => s.stdout.filter((l) => !/^  /.test(l)).join('\n')).join('\n----\n'));
      throw error;
    });

    expect(resumingClients.map((client) => client.id)).toEqual(clientIds);
    expect(receiver.delivered.filter((event) => resumingIds.includes(event.connection) && event.type !== 'open')).toEqual([]);
    for (const server of [a, c]) expect(server.stderr.join('\n')).not.toMatch(/error/i);
  }, 40_000);

  it('delivers what a killed process still owed, from the survivor that took it over', async () => {
    // e's webhook receiver is down: the events of its peer wait in Redis under e.
    const down = await new WebhookReceiver().reserve();
    const e = await spawnServer(['--redis', redis.url, '--node', 'e', '--interval', String(INTERVAL), '--count', String(COUNT), '--webhook', down.url]);
    servers.set('e', e);
    routeTo = ['e'];
    const client = connect(balancer.url, { peer: 'owed', interval: INTERVAL, count: COUNT, reconnect: false });
    clients.push(client);
    await nextEvent(client, 'open');
    const id = await until(async () => (await presence(servers.get('a')!)).find((row) => row.peer === 'owed')?.connection, 'the owed peer in presence');
    client.close();
    await e.line(new RegExp(`${id} closed`));
    // Killed only once its closed event is in Redis: a kill before that write is a crash
    // before the end was recorded, and the survivor then judges the connection itself.
    const check = createClient({ url: redis.url });
    await check.connect();
    await until(async () => (await check.hExists(hubKeys().events('e'), `${id}:closed`)) === 1, 'the closed event in Redis');
    await check.close();
    e.proc.kill('SIGKILL');
    routeTo = ['a', 'c'];
    // A survivor takes e's events with its connections and delivers them to its own webhook.
    const delivered = await until(() => {
      const events = receiver.delivered.filter((event) => event.connection === id);
      return events.some((event) => event.type === 'closed') && events;
    }, 'the owed events delivered by a survivor', 10_000);
    // At least once: each id arrives, open before closed (a retry may repeat one).
    const order = [...new Set(delivered.map((event) => event.id))];
    if (order.length !== 2) console.log(delivered);
    expect(order).toEqual([`${id}:open`, `${id}:closed`]);
    const took = [...servers.get('a')!.stdout, ...servers.get('c')!.stdout].filter((line) => /took over \d+ connection\(s\) and 2 undelivered event\(s\) of node e/.test(line));
    expect(took).toHaveLength(1);
  }, 30_000);

  it('hands its connections to the others at once when stopped with SIGTERM', async () => {
    const f = await spawnServer(['--redis', redis.url, '--node', 'f', '--interval', String(INTERVAL), '--count', String(COUNT), '--webhook', receiver.url]);
    servers.set('f', f);
    routeTo = ['f'];
    const moving = [0, 1].map((i) => connect(balancer.url, { peer: `moving-${i}`, interval: 2 * INTERVAL, count: COUNT, reconnect: { minDelay: 50 } }));
    clients.push(...moving);
    await Promise.all(moving.map((client) => nextEvent(client, 'open')));
    const a = servers.get('a')!;
    const ids = await until(async () => {
      const rows = (await presence(a)).filter((row) => row.peer?.startsWith('moving-'));
      return rows.length === 2 && rows.every((row) => row.node === 'f') && rows.map((row) => row.connection);
    }, 'the moving peers on f');
    routeTo = ['a', 'c'];
    const resumed = moving.map((client) => nextEvent(client, 'open'));
    const stoppedAt = Date.now();
    f.proc.kill('SIGTERM');
    expect((await Promise.all(resumed)).every((event) => event.resumed)).toBe(true);
    expect(Date.now() - stoppedAt).toBeLessThan(1500);
    expect(await f.exited()).toBe(0);
    const rows = (await presence(a)).filter((row) => ids.includes(row.connection));
    expect(rows.map((row) => row.node).sort()).not.toContain('f');
    expect(rows).toHaveLength(2);
    expect(receiver.delivered.filter((event) => ids.includes(event.connection) && event.type !== 'open')).toEqual([]);
  }, 20_000);

  it('exits non-zero, saying why, when Redis cannot be reached or the settings conflict', async () => {
    const unreachable = spawnCli(['serve', '--port', '0', '--redis', 'redis://127.0.0.1:1']);
    expect(await unreachable.exited()).toBe(1);
    expect(unreachable.stderr.join('\n')).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
    const both = spawnCli(['serve', '--port', '0', '--redis', redis.url, '--state', '/tmp/never.sqlite']);
    expect(await both.exited()).toBe(1);
    expect(both.stderr.join('\n')).toMatch(/Redis URL or a state store, not both/);
    const nameless = spawnCli(['serve', '--port', '0', '--node', 'x']);
    expect(await nameless.exited()).toBe(1);
    expect(nameless.stderr.join('\n')).toMatch(/--node names this process in a hub over Redis/);
  }, 20_000);
});
