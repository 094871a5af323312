/**
 * Resuming across a server restart, in one process: a server with a state file is
 * closed (keeping its connections) and a new one starts on the same port and file.
 * Real sockets on loopback; the intervals are short and every bound is stated.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type KeepaliveClient } from '../../adapters/node/client.ts';
import { startServer, type RunningServer, type ServerOptions } from '../../adapters/node/server.ts';
import { createSessionSecret } from '../../runtime/protocol/sessions.ts';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import { nextEvent } from '../support/client-events.ts';
import { poll } from './helpers.ts';
import { rawWs, upgradeStatus, type RawWs } from './peers.ts';

const SERVER = { interval: 400, count: 2 };
const CLIENT = { interval: 300, count: 3 };
/** Timer and event-loop lateness on a loaded 2-core machine; well under one interval. */
const TOLERANCE = 250;

const servers: RunningServer[] = [];
const clients: KeepaliveClient[] = [];
const peers: RawWs[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) if (client.readyState !== 3) client.close();
  for (const peer of peers.splice(0)) peer.ws.terminate();
  await Promise.all(servers.splice(0).map((server) => server.close(undefined, { keepConnections: false })));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function statePath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keepalive-resume-'));
  dirs.push(dir);
  return join(dir, 'state.db');
}

async function serve(options: ServerOptions = {}) {
  const log: string[] = [];
  const server = await startServer({ port: 0, tcpPort: 0, ...SERVER, log: (line) => log.push(line), ...options });
  servers.push(server);
  return { server, log };
}

/** Stops a server the way SIGTERM does with a state file: connections kept, sockets let go. */
async function stop(server: RunningServer): Promise<void> {
  servers.splice(servers.indexOf(server), 1);
  await server.close();
}

function resuming(url: string, options = {}) {
  const client = connect(url, { ...CLIENT, reconnect: { minDelay: 20, maxDelay: 150 }, ...options });
  clients.push(client);
  const events: string[] = [];
  client.addEventListener('reconnecting', ({ attempt, reason }) => events.push(`reconnecting ${attempt}: ${reason}`));
  client.addEventListener('open', ({ attempt, resumed }) => resumed && events.push(`resumed ${attempt}`));
  client.addEventListener('dead', ({ reason }) => events.push(`dead: ${reason}`));
  client.addEventListener('close', ({ code, reason }) => events.push(`closed ${code}: ${reason}`));
  return { client, events };
}

async function raw(url: string, answer = false): Promise<RawWs> {
  const peer = await rawWs(url, answer);
  peers.push(peer);
  return peer;
}

function elapse(ms: number): Promise<void> {
  const until = Date.now() + ms;
  return poll(() => Date.now() >= until, ms + 5_000, 20).then(() => undefined);
}

describe('a resuming client across a server restart', () => {
  it('keeps its actor, the new server resumes the same one, counters go on and nobody dies', async () => {
    const state = statePath();
    const first = await serve({ statePath: state });
    const { client, events } = resuming(first.server.wsUrl);
    await poll(() => (client.view()?.pongsReceived ?? 0) >= 2 && first.server.host.size === 1);
    const [serverId] = [...first.server.host.ids()];
    const port = first.server.port;

    await stop(first.server);
    await poll(() => events.some((e) => /^reconnecting 1: server closed the connection \(1012\): server restarting/.test(e)));
    expect(client.readyState).toBe(0);
    // Away for more than one of the client's intervals: its PINGs go nowhere, unanswered.
    const sentBefore = client.view()!.pingsSent;
    await poll(() => client.view()!.pingsSent > sentBefore && client.view()!.unanswered >= 1, CLIENT.interval * 4);

    const second = await serve({ statePath: state, port });
    expect(second.server.restored).toHaveLength(1);
    expect([...second.server.host.ids()]).toEqual([serverId]);
    await poll(() => events.some((e) => /^resumed \d+$/.test(e)));
    expect(second.log).toContain(`${serverId} resumed: its peer reattached`);
    const resumedAt = second.server.host.view(serverId!)!;

    // Several of both sides' death bounds.
    await elapse(SERVER.interval * (SERVER.count + 1) * 2);
    expect(events.filter((e) => /^(dead|closed)/.test(e))).toEqual([]);
    expect(client.view()).toMatchObject({ state: expect.stringMatching(/^alive/) });
    expect(client.view()!.unanswered).toBeLessThanOrEqual(1);
    const now = second.server.host.view(serverId!)!;
    expect(now.state).toMatch(/^alive/);
    expect(now.pingsReceived).toBeGreaterThan(resumedAt.pingsReceived + 3);
    expect([...second.server.host.ids()]).toEqual([serverId]);
    expect(second.log.filter((l) => / dead: /.test(l))).toEqual([]);
  });

  it('declares a server that stays away dead by its own rule, then keeps trying on a new actor until closed', async () => {
    const first = await serve({ statePath: statePath() });
    const { client, events } = resuming(first.server.wsUrl, { interval: 200, count: 2 });
    let lastHeard = 0;
    client.addEventListener('received', ({ at }) => (lastHeard = at));
    await poll(() => (client.view()?.pongsReceived ?? 0) >= 1);
    await stop(first.server);
    const dead = await nextEvent(client, 'dead');
    const silentFor = Number(dead.reason.match(/silent for (\d+) ms/)![1]);
    expect(silentFor).toBeGreaterThanOrEqual(200 * 3);
    expect(silentFor).toBeLessThanOrEqual(200 * 3 + TOLERANCE);
    expect(dead.at - lastHeard).toBe(silentFor);
    const before = events.filter((e) => e.startsWith('reconnecting')).length;
    expect(before).toBeGreaterThan(1);
    // The verdict ended that actor; the client goes on trying (a new actor on the next socket).
    await poll(() => events.filter((e) => e.startsWith('reconnecting')).length > before);
    expect(client.declaredDead).toBe(true);
    expect(client.readyState).toBe(0);
    client.close(1000, 'giving up');
    await poll(() => events.at(-1) === 'closed 1000: giving up');
    const attempts = events.length;
    await elapse(400);
    expect(events).toHaveLength(attempts);
  });

  it('retries through 409 and 503 answers to the upgrade, and gives up on a 400', async () => {
    const state = statePath();
    const first = await serve({ statePath: state });
    const { client, events } = resuming(first.server.wsUrl, { interval: 1000, count: 5 });
    await poll(() => client.readyState === 1);
    const port = first.server.port;
    await stop(first.server);
    // Something else answers on the port meanwhile: "attached elsewhere", then "overloaded".
    const answers = [409, 503];
    const fake = createServer((_, res) => res.writeHead(500).end());
    fake.on('upgrade', (_req, socket) => socket.end(`HTTP/1.1 ${answers[0] ?? 400} Nope\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`));
    await new Promise<void>((resolve) => fake.listen(port, '127.0.0.1', resolve));
    try {
      await poll(() => events.some((e) => /connection failed: server answered 409/.test(e)));
      answers.shift();
      await poll(() => events.some((e) => /connection failed: server answered 503/.test(e)));
    } finally {
      await new Promise((resolve) => fake.close(resolve));
      fake.closeAllConnections();
    }
    const second = await serve({ statePath: state, port });
    await poll(() => events.some((e) => e.startsWith('resumed')));
    expect(second.server.host.size).toBe(1);
    expect(client.readyState).not.toBe(3);

    // A 400 (the server rejects the secret itself) is final: no point in trying again.
    await stop(second.server);
    const refusing = createServer();
    refusing.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'));
    await new Promise<void>((resolve) => refusing.listen(port, '127.0.0.1', resolve));
    try {
      await poll(() => client.readyState === 3 && events.at(-1)?.startsWith('closed'));
      expect(events.at(-1)).toMatch(/^closed 1006: connection failed: server answered 400/);
    } finally {
      await new Promise((resolve) => refusing.close(resolve));
      refusing.closeAllConnections();
    }
  });

  it('stops reconnecting when closed meanwhile', async () => {
    const first = await serve({ statePath: statePath() });
    const { client, events } = resuming(first.server.wsUrl, { reconnect: { minDelay: 50, maxDelay: 50 } });
    await poll(() => client.readyState === 1);
    await stop(first.server);
    await poll(() => events.length > 0);
    client.close(1000, 'user gave up');
    await poll(() => events.at(-1) === 'closed 1000: user gave up');
    const attempts = events.length;
    await elapse(300);
    expect(events).toHaveLength(attempts);
  });

  it('keeps a server that lost our connection (new state file) talking: it re-ADVERTISEs on the new socket', async () => {
    const first = await serve({ statePath: statePath() });
    const { client, events } = resuming(first.server.wsUrl);
    await poll(() => (client.view()?.pongsReceived ?? 0) >= 1);
    const oldId = [...first.server.host.ids()][0];
    const port = first.server.port;
    await stop(first.server);
    const second = await serve({ statePath: statePath(), port });
    expect(second.server.restored).toHaveLength(0);
    await poll(() => events.some((e) => e.startsWith('resumed')));
    await elapse(SERVER.interval * (SERVER.count + 1) * 2);
    expect(events.filter((e) => /^(dead|closed)/.test(e))).toEqual([]);
    const [view] = second.server.host.list();
    expect(view!.id).not.toBe(oldId);
    expect(view).toMatchObject({ advertised: true, state: expect.stringMatching(/^alive/) });
    expect(view!.pongsSent + view!.pingsSent).toBeGreaterThan(2);
  });

  it('without resume, a restarting server (1012) is a clean close by the peer', async () => {
    const first = await serve({ statePath: statePath() });
    const client = connect(first.server.wsUrl, { ...CLIENT, reconnect: false });
    clients.push(client);
    await poll(() => client.id !== null);
    const closed = nextEvent(client, 'close');
    await stop(first.server);
    const { code, reason, wasClean } = await closed;
    expect([code, reason, wasClean]).toEqual([1012, 'server closed the connection (1012): server restarting', false]);
  });

  it('closes with 1012 whatever reason a keeping shutdown was given', async () => {
    const first = await serve({ statePath: statePath() });
    const peer = await raw(`${first.server.wsUrl}?session=${createSessionSecret()}`);
    servers.splice(servers.indexOf(first.server), 1);
    await first.server.close('maintenance window');
    await poll(() => peer.closed !== null);
    expect(peer.closed).toEqual({ code: 1012, reason: 'server restarting: maintenance window' });
  });

  it('refuses a peer name with a URL that has nowhere to carry it', () => {
    expect(() => connect('tcp://127.0.0.1:1', { peer: 'ada' })).toThrow(/peer needs a ws:\/\/ URL/);
  });
});

describe('session secrets on /connect', () => {
  it('refuses a second socket for an attached session (409, before the upgrade) and a malformed secret (400)', async () => {
    const { server } = await serve();
    const secret = createSessionSecret();
    const url = `${server.wsUrl}?session=${secret}`;
    const first = await raw(url);
    first.ws.send(TEXT_FRAMES.ADVERTISE);
    expect((await upgradeStatus(url)).status).toBe(409);
    expect((await upgradeStatus(`${server.wsUrl}?session=short`)).status).toBe(400);
    expect(server.host.size).toBe(1);
    // The live connection is untouched by the refused attempts.
    const [id] = [...server.host.ids()];
    await poll(() => first.received.includes(TEXT_FRAMES.PING));
    expect(server.host.view(id!)).toMatchObject({ advertised: true });

    // Once its connection ended, the secret simply opens a new one.
    first.ws.close();
    await poll(() => server.host.size === 0);
    const again = await upgradeStatus(url);
    expect(again.status).toBe(101);
    again.ws.terminate();
  });

  it('gives a session to one socket only when two race for it', async () => {
    const { server } = await serve();
    const url = `${server.wsUrl}?session=${createSessionSecret()}`;
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, () =>
        upgradeStatus(url).then(async ({ status, ws }) => {
          if (status !== 101) return String(status);
          const code = await Promise.race([
            new Promise<number>((resolve) => ws.once('close', (c) => resolve(c))),
            elapse(300).then(() => 0),
          ]);
          peers.push({ ws, received: [], closed: null });
          return code === 0 ? 'open' : `closed ${code}`;
        }),
      ),
    );
    expect(outcomes.filter((o) => o === 'open')).toHaveLength(1);
    expect(outcomes.filter((o) => o !== 'open').every((o) => o === '409' || o === 'closed 4409')).toBe(true);
    expect(server.host.size).toBe(1);
  });

  it('a graceful stop with a state file keeps every connection exactly: the next server lists the same snapshots', async () => {
    const state = statePath();
    const first = await serve({ statePath: state, interval: 5_000, count: 5 });
    const secret = createSessionSecret();
    const peer = await raw(`${first.server.wsUrl}?session=${secret}`);
    peer.ws.send(TEXT_FRAMES.ADVERTISE);
    for (let i = 0; i < 5; i++) peer.ws.send(`hello ${i}`);
    peer.ws.send(TEXT_FRAMES.PING);
    await poll(() => peer.received.includes(TEXT_FRAMES.PONG));
    const tcp = await new Promise<Socket>((resolve) => {
      const socket = tcpConnect(first.server.tcpPort!, '127.0.0.1', () => resolve(socket));
    });
    await poll(() => first.server.host.size === 2);
    const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
    const before = first.server.host.list().sort(byId);
    const port = first.server.port;
    await stop(first.server);
    await poll(() => peer.closed !== null);
    expect(peer.closed).toEqual({ code: 1012, reason: 'server restarting' });
    tcp.destroy();

    const second = await serve({ statePath: state, port, interval: 5_000, count: 5 });
    expect(second.server.restored).toHaveLength(2);
    expect(second.server.host.list().sort(byId)).toEqual(before);
    expect(before.find((v) => v.codec === 'text')).toMatchObject({ messagesReceived: 5, pingsReceived: 1, pongsSent: 1 });
  });
});
