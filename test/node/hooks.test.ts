/**
 * The application API on the Node server, over real sockets on loopback: authorize before
 * the upgrade, peer identity, onOpen/onMessage/onDead/onClose in order, send and
 * broadcast, presence and its token rule, hooks that throw, and application traffic at
 * 10,000 messages a second with no false death.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import type { AppData, CloseInfo, Connection, DeadVerdict, Hooks } from '../../runtime/application/types.ts';
import { startServer, type RunningServer, type ServerOptions } from '../../adapters/node/server.ts';
import { connect, type KeepaliveClient } from '../../adapters/node/client.ts';
import { poll } from './helpers.ts';
import { rawWs, upgradeStatus, type RawWs } from './peers.ts';

const INTERVAL = 100;
const COUNT = 2;
const servers: RunningServer[] = [];
const closers: (() => void)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function server(options: ServerOptions = {}) {
  const log: string[] = [];
  const running = await startServer({ port: 0, tcpPort: 0, interval: INTERVAL, count: COUNT, log: (line) => log.push(line), ...options });
  servers.push(running);
  return { running, log };
}

async function ws(url: string, answer = true): Promise<RawWs> {
  const peer = await rawWs(url, answer);
  closers.push(() => peer.ws.terminate());
  return peer;
}

function client(url: string, options: Parameters<typeof connect>[1] = {}): KeepaliveClient {
  const c = connect(url, { interval: INTERVAL, count: COUNT, reconnect: false, ...options });
  closers.push(() => c.close());
  return c;
}

type Call =
  | { hook: 'onOpen'; conn: Connection }
  | { hook: 'onMessage'; conn: Connection; data: AppData }
  | { hook: 'onDead'; conn: Connection; verdict: DeadVerdict }
  | { hook: 'onClose'; conn: Connection; info: CloseInfo };

function recording(extra: Partial<Hooks> = {}): { calls: Call[]; hooks: Hooks } {
  const calls: Call[] = [];
  return {
    calls,
    hooks: {
      onOpen: (conn) => void calls.push({ hook: 'onOpen', conn }),
      onMessage: (conn, data) => void calls.push({ hook: 'onMessage', conn, data }),
      onDead: (conn, verdict) => void calls.push({ hook: 'onDead', conn, verdict }),
      onClose: (conn, info) => void calls.push({ hook: 'onClose', conn, info }),
      ...extra,
    },
  };
}

describe('authorize and peer identity', () => {
  it('a refusal from authorize reaches the client with its status, and no socket opens', async () => {
    const { calls, hooks } = recording({
      authorize: (request) => (new URL(request.url).searchParams.get('token') === 'good' ? { peer: 'alice', meta: { room: 'lobby' } } : new Response('no', { status: 401 })),
    });
    const { running } = await server({ hooks });
    expect((await upgradeStatus(`${running.wsUrl}?token=bad`)).status).toBe(401);
    expect(running.host.size).toBe(0);
    expect(running.openSockets().ws).toBe(0);

    const peer = await ws(`${running.wsUrl}?token=good`);
    peer.ws.send(TEXT_FRAMES.ADVERTISE);
    const open = await poll(() => calls.find((c) => c.hook === 'onOpen'));
    expect(open.conn.peer).toBe('alice');
    // Our own meta keys (the session hash, the peer) stay hidden; the app's and the transport's show (as on every runtime).
    expect(open.conn.meta).toEqual({ room: 'lobby', transport: 'websocket', codec: 'text' });
    expect(calls.filter((c) => c.hook === 'onOpen')).toHaveLength(1);
  });

  it('without authorize, ?peer=NAME names the peer; a bad name is refused with 400', async () => {
    const { running } = await server();
    expect((await upgradeStatus(`${running.wsUrl}?peer=${encodeURIComponent('no spaces')}`)).status).toBe(400);
    expect((await upgradeStatus(`${running.wsUrl}?peer=${'x'.repeat(65)}`)).status).toBe(400);
    const peer = await ws(`${running.wsUrl}?peer=bob@example.org`);
    peer.ws.send(TEXT_FRAMES.ADVERTISE);
    const presence = await poll(async () => {
      const rows = (await (await fetch(`${running.url}/presence`)).json()) as { peer: string | null; state: string }[];
      return rows.length === 1 && rows[0]!.state.startsWith('alive') && rows;
    });
    expect(presence[0]).toMatchObject({ peer: 'bob@example.org', connection: running.host.list()[0]!.id });
    expect(typeof (presence[0] as unknown as { lastSignOfLife: number }).lastSignOfLife).toBe('number');
  });

  it('an authorize hook that throws refuses with 500 and is logged; the server keeps serving', async () => {
    const { running, log } = await server({ hooks: { authorize: () => Promise.reject(new Error('db down')) } });
    expect((await upgradeStatus(running.wsUrl)).status).toBe(500);
    expect(log.some((line) => /authorize hook threw: Error: db down/.test(line))).toBe(true);
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
  });
});

describe('lifecycle hooks', () => {
  it('onOpen, onMessage for application frames only (text and bytes), onDead at the bound, then onClose', async () => {
    const { calls, hooks } = recording();
    const { running } = await server({ hooks });
    const peer = await ws(`${running.wsUrl}?peer=carol`);
    peer.ws.send(TEXT_FRAMES.ADVERTISE);
    peer.ws.send('hello');
    peer.ws.send(Buffer.from([1, 2, 3]));
    peer.ws.send(TEXT_FRAMES.PING);
    const messages = await poll(() => {
      const got = calls.filter((c) => c.hook === 'onMessage');
      return got.length === 2 && got;
    });
    expect(messages.map((m) => (m.hook === 'onMessage' ? m.data : null))).toEqual(['hello', new Uint8Array([1, 2, 3])]);
    const id = messages[0]!.conn.id;
    const lastFrame = running.host.view(id)!.lastSignOfLife;

    // Silence from now on: no more answers.
    peer.ws.removeAllListeners('message');
    const close = await poll(() => calls.find((c) => c.hook === 'onClose'), 5000);
    const dead = calls.find((c) => c.hook === 'onDead');
    expect(calls.map((c) => c.hook)).toEqual(['onOpen', 'onMessage', 'onMessage', 'onDead', 'onClose']);
    if (dead?.hook !== 'onDead' || close.hook !== 'onClose') throw new Error('no verdict');
    // Dead no earlier than the bound, from its last sign of life.
    expect(dead.verdict.at).toBeGreaterThanOrEqual(lastFrame + INTERVAL * (COUNT + 1));
    expect(dead.verdict.unanswered).toBe(COUNT);
    expect(close.info).toMatchObject({ at: dead.verdict.at, dead: true, reason: expect.stringMatching(/^peer dead/) });
    expect(close.conn).toMatchObject({ id, peer: 'carol' });
    expect(close.conn.send('too late')).toBe(false);
  });

  it('onClose (not onDead) for a peer that closes, and for a connection the app closes', async () => {
    const { calls, hooks } = recording({ onMessage: (conn, data) => (data === 'bye' ? conn.close('you said bye') : undefined) });
    const { running } = await server({ hooks });
    const leaving = await ws(running.wsUrl);
    leaving.ws.send(TEXT_FRAMES.ADVERTISE);
    const asked = await ws(running.wsUrl);
    asked.ws.send(TEXT_FRAMES.ADVERTISE);
    await poll(() => calls.filter((c) => c.hook === 'onOpen').length === 2);
    leaving.ws.close(1000, 'going home');
    asked.ws.send('bye');
    const closes = await poll(() => {
      const got = calls.filter((c) => c.hook === 'onClose');
      return got.length === 2 && got;
    });
    const reasons = closes.map((c) => (c.hook === 'onClose' ? c.info : null));
    expect(reasons).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ dead: false, reason: 'peer closed: going home' }),
        expect.objectContaining({ dead: false, reason: 'you said bye' }),
      ]),
    );
    expect(calls.some((c) => c.hook === 'onDead')).toBe(false);
    expect((await poll(() => asked.closed)).reason).toBe('you said bye');
  });

  it('send and broadcast reach the clients as message events; keepalive: frames are refused', async () => {
    const { running } = await server({
      hooks: {
        onMessage: (conn, data, hub) => {
          conn.send(`echo:${String(data)}`);
          hub.broadcast(`${conn.peer} said ${String(data)}`, { except: conn });
        },
      },
    });
    const alice = client(`${running.wsUrl}?peer=alice`);
    const bob = client(`${running.wsUrl}?peer=bob`);
    const heard = { alice: [] as string[], bob: [] as string[] };
    alice.addEventListener('message', ({ data }) => heard.alice.push(String(data)));
    bob.addEventListener('message', ({ data }) => heard.bob.push(String(data)));
    await poll(() => running.host.list().filter((v) => v.advertised).length === 2);
    alice.send('hi');
    await poll(() => heard.alice.includes('echo:hi') && heard.bob.includes('alice said hi'));
    expect(heard.alice).not.toContain('alice said hi');
    expect(() => alice.send('keepalive:PING')).toThrow(TypeError);
    const hub = running.hub;
    expect(() => hub.broadcast('keepalive:PONG')).toThrow(TypeError);
    expect(hub.connections().map((c) => c.peer).sort()).toEqual(['alice', 'bob']);
    expect(hub.broadcast(new Uint8Array([7]))).toBe(2);
  });

  it('frames sent just before a close arrive, in order, before the close (sends are written in batches)', async () => {
    const { running } = await server({
      hooks: {
        onMessage: (conn, data) => {
          if (data !== 'go') return;
          conn.send('one');
          conn.send(new Uint8Array([2]));
          conn.send('three');
          conn.close('done talking');
        },
      },
    });
    const peer = await ws(running.wsUrl);
    peer.ws.send(TEXT_FRAMES.ADVERTISE);
    await poll(() => running.host.list().some((v) => v.advertised));
    peer.ws.send('go');
    const closed = await poll(() => peer.closed);
    expect(closed).toEqual({ code: 1000, reason: 'done talking' });
    expect(peer.received.map((m) => (typeof m === 'string' ? m : [...m]))).toEqual(['one', [2], 'three']);
  });
});

describe('hooks that fail', () => {
  it('a hook that throws or rejects is logged and never breaks keepalive, for its connection or any other', async () => {
    const { running, log } = await server({
      hooks: {
        onOpen: () => {
          throw new Error('open broke');
        },
        onMessage: async () => {
          throw new Error('message broke');
        },
        onClose: () => Promise.reject(new Error('close broke')),
      },
    });
    const flaky = client(running.wsUrl);
    const steady = client(running.wsUrl);
    await poll(() => running.host.list().filter((v) => v.advertised).length === 2);
    flaky.send('anything');
    await poll(() => log.some((l) => /onMessage hook failed .*message broke/.test(l)));
    expect(log.some((l) => /onOpen hook failed .*open broke/.test(l))).toBe(true);
    // Both connections keep answering our PINGs and we keep PINGing: several intervals pass alive.
    const before = running.host.list().map((v) => v.pongsReceived);
    await poll(() => running.host.list().every((v, i) => v.pongsReceived >= (before[i] ?? 0) + 3), 5000);
    expect([flaky.readyState, steady.readyState]).toEqual([1, 1]);
    steady.close();
    await poll(() => log.some((l) => /onClose hook failed .*close broke/.test(l)));
    expect(running.host.size).toBe(1);
  });
});

describe('private routes', () => {
  it('on an open interface without a token, /actors and /presence answer 403; with a token, 401 then 200', async () => {
    const open = await server({ host: '0.0.0.0' });
    const url = `http://127.0.0.1:${open.running.port}`;
    expect((await fetch(`${url}/actors`)).status).toBe(403);
    expect((await fetch(`${url}/presence`)).status).toBe(403);
    const guarded = await server({ host: '0.0.0.0', token: 'sesame' });
    const guardedUrl = `http://127.0.0.1:${guarded.running.port}`;
    expect((await fetch(`${guardedUrl}/presence`)).status).toBe(401);
    expect((await fetch(`${guardedUrl}/presence`, { headers: { authorization: 'Bearer sesame' } })).status).toBe(200);
    // Loopback stays open without a token, as before.
    const local = await server();
    expect((await fetch(`${local.running.url}/presence`)).status).toBe(200);
  });
});

describe('application traffic', () => {
  it('application messages at 10,000 a second all reach onMessage, with no false death', async () => {
    let received = 0;
    const { running } = await server({ hooks: { onMessage: () => void received++ } });
    const CLIENTS = 10;
    const clients = Array.from({ length: CLIENTS }, () => client(running.wsUrl));
    await poll(() => running.host.list().filter((v) => v.advertised).length === CLIENTS);
    const deaths: string[] = [];
    for (const c of clients) c.addEventListener('dead', ({ reason }) => deaths.push(reason));
    const dead: string[] = [];
    running.host.subscribe((event) => event.type === 'dead' && dead.push(event.id));

    // 20,000 messages paced at 10,000 a second over the clients: each turn catches up with the
    // clock (a loaded machine sends in bigger batches; the rate reached is reported).
    const TOTAL = 20_000;
    let sent = 0;
    const started = Date.now();
    while (sent < TOTAL) {
      const due = Math.min(TOTAL, Math.floor((Date.now() - started) * 10));
      for (let i = 0; sent < due && i < TOTAL; i++) clients[i % CLIENTS]!.send(`m${sent++}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const seconds = (Date.now() - started) / 1000;
    await poll(() => received === sent, 10_000);
    console.log(`onMessage: ${sent} messages in ${seconds.toFixed(2)} s (${Math.round(sent / seconds)}/s), ${running.host.stats.steps} steps`);
    expect(dead).toEqual([]);
    expect(deaths).toEqual([]);
    expect(running.host.size).toBe(CLIENTS);
    // Messages took the fast path: far fewer statechart steps than frames.
    expect(running.host.stats.steps).toBeLessThan(sent / 10);
  });
});
