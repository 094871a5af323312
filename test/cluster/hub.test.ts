/**
 * One hub over three Node servers and one Redis (real redis-server, real sockets): presence
 * on every process lists every peer with the process that holds it, a broadcast from any
 * process reaches every peer, and send and close reach a connection on another process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import { connect } from '../../adapters/node/client.ts';
import type { KeepaliveClient } from '../../runtime/client/keepalive-client.ts';
import { startRedis, type RedisProcess } from '../support/redis.ts';
import { nextEvent } from '../support/client-events.ts';
import { until } from '../node/helpers.ts';

let redis: RedisProcess;
const servers: RunningServer[] = [];
const clients: KeepaliveClient[] = [];
const received = new Map<string, string[]>();

beforeAll(async () => {
  redis = await startRedis();
  for (const node of ['a', 'b', 'c']) {
    servers.push(await startServer({ port: 0, tcpPort: null, interval: 500, count: 2, cluster: { redis: redis.url, node } }));
  }
  for (const [i, server] of servers.entries()) {
    for (const n of [1, 2]) {
      const peer = `peer-${'abc'[i]}${n}`;
      const client = connect(server.wsUrl, { peer, interval: 500, count: 2, reconnect: false });
      received.set(peer, []);
      client.addEventListener('message', (event) => received.get(peer)!.push(String((event as unknown as { data: unknown }).data)));
      clients.push(client);
      await nextEvent(client, 'open');
    }
  }
}, 30_000);

afterAll(async () => {
  for (const client of clients) client.close();
  for (const server of servers) await server.close();
  await redis?.stop();
});

describe('a hub over three processes', () => {
  it('lists every peer on every process, each with the process that holds it', async () => {
    for (const server of servers) {
      const rows = await until(() => {
        const presence = server.hub.presence();
        return presence.length === 6 && presence;
      }, `six rows on ${server.cluster!.node}`, 2000);
      const byPeer = Object.fromEntries(rows.map((row) => [row.peer, row.node]));
      expect(byPeer).toEqual({ 'peer-a1': 'a', 'peer-a2': 'a', 'peer-b1': 'b', 'peer-b2': 'b', 'peer-c1': 'c', 'peer-c2': 'c' });
    }
    const response = await fetch(`${servers[1]!.url}/presence`);
    expect((await response.json()) as unknown[]).toHaveLength(6);
    const actors = (await (await fetch(`${servers[2]!.url}/actors`)).json()) as { node: string }[];
    expect(actors.map((row) => row.node)).toEqual(['c', 'c']);
    const page = await (await fetch(`${servers[1]!.url}/inspect`)).text();
    expect(page).toContain('data-testid="node" title="In a hub over many processes, this page shows the connections this one holds">process b</span>');
    const health = (await (await fetch(`${servers[0]!.url}/healthz`)).json()) as { cluster: { node: string; redis: string; nodes: number } };
    expect(health.cluster).toMatchObject({ node: 'a', redis: 'up', nodes: 3 });
  });

  it('shows a connection opened or ended on one process on every other within 1 s', async () => {
    const client = connect(servers[0]!.wsUrl, { peer: 'brief', interval: 500, count: 2, reconnect: false });
    await nextEvent(client, 'open');
    const opened = Date.now();
    for (const server of servers) await until(() => server.hub.presence().some((row) => row.peer === 'brief'), 'the new row', 1000);
    expect(Date.now() - opened).toBeLessThan(1000);
    client.close();
    await nextEvent(client, 'close');
    const closed = Date.now();
    for (const server of servers) await until(() => !server.hub.presence().some((row) => row.peer === 'brief'), 'the row gone', 1000);
    expect(Date.now() - closed).toBeLessThan(1000);
  });

  it('broadcasts from any process to every peer, but the ones excepted', async () => {
    for (const [i, server] of servers.entries()) {
      const except = server.hub.connections().find((conn) => conn.peer === `peer-${'abc'[i]}1`)!;
      server.hub.broadcast(`hello from ${i}`, { except });
    }
    for (const [peer, messages] of received) {
      const expected = [0, 1, 2].filter((i) => peer !== `peer-${'abc'[i]}1`).map((i) => `hello from ${i}`);
      await until(() => expected.every((m) => messages.includes(m)), `broadcasts at ${peer}`, 2000);
      expect(messages.filter((m) => m.startsWith('hello from')).sort()).toEqual(expected);
    }
  });

  it('sends to and closes a connection held by another process', async () => {
    const target = servers[0]!.hub.presence().find((row) => row.peer === 'peer-c2')!;
    expect(target.node).toBe('c');
    expect(servers[0]!.hub.connection(target.connection)?.send('direct')).toBe(true);
    await until(() => received.get('peer-c2')!.includes('direct'), 'the direct message', 5000);
    const closed = nextEvent(clients[5]!, 'close');
    servers[1]!.hub.connection(target.connection)!.close('closed from b');
    expect((await closed).reason).toContain('closed from b');
    for (const server of servers) await until(() => !server.hub.presence().some((row) => row.connection === target.connection), 'the row gone', 1000);
  });
});
