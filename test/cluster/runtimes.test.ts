/**
 * One hub over three Node servers and a real `deno` process, meeting in one redis-server:
 * presence from each lists all four peers with their process, a broadcast from Deno and
 * from each Node server reaches every peer, and send and close cross the runtimes both ways.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import { connect } from '../../adapters/node/client.ts';
import type { KeepaliveClient } from '../../runtime/client/keepalive-client.ts';
import { DENO } from '../deno/helpers.ts';
import { killAll, spawnProcess, until, withUrls } from '../node/helpers.ts';
import { nextEvent } from '../support/client-events.ts';
import { startRedis, type RedisProcess } from '../support/redis.ts';

let redis: RedisProcess;
const servers: RunningServer[] = [];
let deno: Awaited<ReturnType<typeof withUrls>>;
const clients = new Map<string, KeepaliveClient>();
const received = new Map<string, string[]>();

type Row = { peer: string; connection: string; node: string };
const denoPresence = async () => (await (await fetch(`${deno.http}/presence`)).json()) as Row[];

async function join(peer: string, url: string): Promise<void> {
  const client = connect(url, { peer, interval: 500, count: 2, reconnect: false });
  received.set(peer, []);
  client.addEventListener('message', (event) => received.get(peer)!.push(String((event as unknown as { data: unknown }).data)));
  clients.set(peer, client);
  await nextEvent(client, 'open');
}

beforeAll(async () => {
  redis = await startRedis();
  deno = await withUrls(
    spawnProcess(DENO, ['run', '--allow-net', '--allow-env', '--allow-read', 'test/cluster/deno-hub.ts'], { REDIS: redis.url, NODE: 'd', NO_COLOR: '1' }),
  );
  for (const node of ['a', 'b', 'c']) servers.push(await startServer({ port: 0, tcpPort: null, interval: 500, count: 2, cluster: { redis: redis.url, node } }));
  for (const [i, server] of servers.entries()) await join(`on-${'abc'[i]}`, server.wsUrl);
  await join('on-d', deno.ws);
}, 60_000);

afterAll(async () => {
  for (const client of clients.values()) client.close();
  for (const server of servers) await server.close();
  killAll();
  await redis?.stop();
});

describe('a hub over Node and Deno processes', () => {
  it('lists all four peers on every process, Deno included', async () => {
    const expected = { 'on-a': 'a', 'on-b': 'b', 'on-c': 'c', 'on-d': 'd' };
    for (const server of servers) {
      await until(() => server.hub.presence().length === 4, 'four rows', 5000);
      expect(Object.fromEntries(server.hub.presence().map((row) => [row.peer, row.node]))).toEqual(expected);
    }
    const rows = await until(async () => {
      const rows = await denoPresence();
      return rows.length === 4 && rows;
    }, 'four rows on Deno', 5000);
    expect(Object.fromEntries(rows.map((row) => [row.peer, row.node]))).toEqual(expected);
  });

  it('broadcasts from Deno and from each Node server to every peer', async () => {
    clients.get('on-d')!.send('bc:from-d');
    for (const [i, server] of servers.entries()) server.hub.broadcast(`from-${'abc'[i]}`);
    for (const [peer, messages] of received) {
      await until(() => ['from-a', 'from-b', 'from-c', 'from-d'].every((m) => messages.includes(m)), `every broadcast at ${peer}`, 5000);
    }
  });

  it('sends and closes across runtimes, both ways', async () => {
    const rows = await denoPresence();
    const id = (peer: string) => rows.find((row) => row.peer === peer)!.connection;
    // Deno to a peer on Node b.
    clients.get('on-d')!.send(`send:${id('on-b')}:hello-b`);
    await until(() => received.get('on-b')!.includes('hello-b'), 'hello-b', 5000);
    // Node a to the peer on Deno.
    expect(servers[0]!.hub.connection(id('on-d'))!.send('hello-d')).toBe(true);
    await until(() => received.get('on-d')!.includes('hello-d'), 'hello-d', 5000);
    // Deno closes the peer on Node c; Node b closes the peer on Deno.
    const cClosed = nextEvent(clients.get('on-c')!, 'close');
    clients.get('on-d')!.send(`close:${id('on-c')}`);
    expect((await cClosed).reason).toContain('closed from deno');
    const dClosed = nextEvent(clients.get('on-d')!, 'close');
    servers[1]!.hub.connection(id('on-d'))!.close('closed from node b');
    expect((await dClosed).reason).toContain('closed from node b');
    await until(() => servers.every((server) => server.hub.presence().length === 2), 'two rows left everywhere', 5000);
  });
});
