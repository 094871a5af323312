/**
 * Presence for peers on a Node server, over real sockets on loopback: our clients (two of
 * them the same peer, one behind a TCP relay the test cuts) and a raw peer that goes silent.
 * After every step each client's list equals what `/presence` says; joins and leaves come
 * once per peer; a drop within the session is no leave; a dead peer leaves within 100 ms of
 * its verdict.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type KeepaliveClient } from '../../adapters/node/client.ts';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import type { PresenceEvent } from '../../runtime/client/index.ts';
import type { PresenceEntry } from '../../runtime/application/index.ts';
import { startProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { listForm, rowsForm } from '../support/presence-lists.ts';
import { poll } from './helpers.ts';
import { rawWs, type RawWs } from './peers.ts';

const SERVER = { interval: 300, count: 2, presence: true };
const CLIENT = { interval: 300, count: 3, reconnect: { minDelay: 20, maxDelay: 100 } };

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function serve(): Promise<RunningServer> {
  const server = await startServer({ port: 0, tcpPort: null, inspector: false, ...SERVER });
  cleanup.push(() => server.close());
  return server;
}

interface Watched {
  client: KeepaliveClient;
  events: { type: string; peer: string | null; at: number }[];
}

function join(url: string, peer: string, options: object = {}): Watched {
  const client = connect(url, { ...CLIENT, peer, ...options });
  cleanup.push(() => client.readyState !== 3 && client.close());
  const events: Watched['events'] = [];
  for (const type of ['sync', 'join', 'leave', 'update'] as const) {
    client.presence.addEventListener(type, (event: PresenceEvent) => events.push({ type, peer: event.peer, at: Date.now() }));
  }
  return { client, events };
}

/** Every client's list equals the hub's `/presence`, grouped by peer. */
async function agree(server: RunningServer, clients: readonly Watched[]): Promise<string[]> {
  return poll(async () => {
    const rows = (await (await fetch(`${server.url}/presence`)).json()) as PresenceEntry[];
    const truth = rowsForm(rows);
    return clients.every(({ client }) => client.presence.available && JSON.stringify(listForm(client.presence.list())) === JSON.stringify(truth)) && truth;
  }, 5000, 10);
}

const count = (w: Watched, type: string, peer: string) => w.events.filter((e) => e.type === type && e.peer === peer).length;

describe('presence for peers on Node', () => {
  it('lists each peer once with its connections, and every client agrees with /presence after each step', async () => {
    const server = await serve();
    const proxy: TcpProxy = await startProxy(server.port);
    cleanup.push(() => proxy.close());
    const ada1 = join(server.wsUrl, 'ada');
    const ada2 = join(server.wsUrl, 'ada');
    const bob = join(`ws://127.0.0.1:${proxy.port}/connect`, 'bob');
    const all = [ada1, ada2, bob];
    expect(await agree(server, all)).toEqual([expect.stringMatching(/^ada:.+,.+$/), expect.stringMatching(/^bob:[^,]+$/)]);
    expect(ada1.client.presence.available).toBe(true);

    // A state: an update, with the server's fields as the server set them.
    ada1.client.presence.set({ typing: true });
    await poll(() => bob.client.presence.list().find((e) => e.peer === 'ada')?.state !== null);
    expect(bob.client.presence.list().find((e) => e.peer === 'ada')!.state).toEqual({ typing: true });
    expect(bob.events.filter((e) => e.type === 'update' && e.peer === 'ada').length).toBeGreaterThanOrEqual(1);

    // bob's network drops and comes back within its session: no leave, no join anywhere.
    const reopened = new Promise((resolve) => bob.client.addEventListener('open', resolve, { once: true }));
    proxy.cut();
    await reopened;
    await agree(server, all);
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const w of [ada1, ada2]) {
      expect(count(w, 'leave', 'bob')).toBe(0);
      expect(count(w, 'join', 'bob')).toBeLessThanOrEqual(1);
    }

    // A silent peer: it leaves at its verdict, within 100 ms of it on this process.
    const deaths: number[] = [];
    const unsubscribe = server.host.subscribe((event) => event.type === 'dead' && deaths.push(event.at), { frames: false });
    const silent: RawWs = await rawWs(`${server.wsUrl}?peer=carl`);
    cleanup.push(() => silent.ws.terminate());
    silent.ws.send('keepalive:ADVERTISE');
    await poll(() => count(bob, 'join', 'carl') === 1);
    await agree(server, all);
    await poll(() => count(bob, 'leave', 'carl') === 1, 5000, 5);
    unsubscribe();
    const after = bob.events.find((e) => e.type === 'leave' && e.peer === 'carl')!.at - deaths[0]!;
    console.log(`presence: a dead peer left every list ${after} ms after its verdict`);
    expect(after).toBeLessThanOrEqual(100);
    await agree(server, all);

    // ada's tabs close one by one: an update, then one leave.
    ada2.client.close();
    await agree(server, [ada1, bob]);
    expect(count(bob, 'leave', 'ada')).toBe(0);
    ada1.client.close();
    await agree(server, [bob]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(count(bob, 'leave', 'ada')).toBe(1);
    expect(count(bob, 'join', 'ada')).toBeLessThanOrEqual(1);
  });

  it('bad states are refused with a reason and disturb nothing', async () => {
    const server = await serve();
    const ada = join(server.wsUrl, 'ada');
    const bob = join(server.wsUrl, 'bob');
    await agree(server, [ada, bob]);
    const refused: string[] = [];
    ada.client.presence.addEventListener('refused', (event) => refused.push(event.reason));
    ada.client.presence.set({ big: 'x'.repeat(2000) });
    await poll(() => refused.length === 1);
    expect(refused[0]).toMatch(/^state is \d+ bytes, at most 1024$/);
    // Faster than the bound: coalesced, the last one wins.
    for (let i = 0; i < 50; i++) ada.client.presence.set({ i });
    await poll(() => JSON.stringify(bob.client.presence.list().find((e) => e.peer === 'ada')?.state) === '{"i":49}');
    expect(bob.events.filter((e) => e.type === 'update').length).toBeLessThan(10);
    expect(ada.client.readyState).toBe(1);
  });

  it('a hub without presence ignores the question: the client stays quiet', async () => {
    const server = await startServer({ port: 0, tcpPort: null, inspector: false, interval: 300, count: 2 });
    cleanup.push(() => server.close());
    const ada = join(server.wsUrl, 'ada');
    await new Promise((resolve) => ada.client.addEventListener('open', resolve, { once: true }));
    ada.client.presence.set({ here: true });
    ada.client.send('hello');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(ada.client.presence.available).toBe(false);
    expect(ada.client.readyState).toBe(1);
    expect(server.presence).toBe(null);
  });
});
