/**
 * One hub, the same answers on every runtime: the Node CLI, the real `deno` binary and
 * workerd (`wrangler dev`), each a real process on loopback, each given the same settings
 * (interval 300 ms, count 1, two connections at most, a token). Every case below runs
 * unchanged against all three; where a Worker names its hub in the path, the target says so.
 */
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLibvirtCodec } from '../../runtime/codec/libvirt.ts';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import { spawnDenoServer } from '../deno/helpers.ts';
import { killAll, spawnServer, until } from '../node/helpers.ts';
import { startWranglerDev } from '../support/wrangler-dev.ts';

const TOKEN = 'conformance-token';
const INTERVAL = 300;
const COUNT = 1;
const FLAGS = ['--interval', String(INTERVAL), '--count', String(COUNT), '--max-connections', '2', '--token', TOKEN];
const libvirt = createLibvirtCodec({ advertise: true });

interface Target {
  /** http://host:port */
  http: string;
  /** A route of `hub` (`/connect`, `/actors`, `/presence`): a Worker names the hub in the path, a server is one hub. */
  path(route: string, hub: string): string;
  stop(): Promise<void>;
}

const targets: Record<string, () => Promise<Target>> = {
  node: async () => {
    const server = await spawnServer(FLAGS);
    return { http: server.http, path: (route) => route, stop: async () => void server.proc.kill('SIGKILL') };
  },
  deno: async () => {
    const server = await spawnDenoServer(FLAGS);
    return { http: server.http, path: (route) => route, stop: async () => void server.proc.kill('SIGKILL') };
  },
  workerd: async () => {
    const dev = await startWranglerDev(
      { KEEPALIVE_INTERVAL: String(INTERVAL), KEEPALIVE_COUNT: String(COUNT), KEEPALIVE_MAX_CONNECTIONS: '2' },
      { KEEPALIVE_TOKEN: TOKEN },
    );
    return { http: dev.base, path: (route, hub) => `${route}/${hub}`, stop: () => dev.stop() };
  },
};

interface Peer {
  ws: WebSocket;
  frames: (string | Buffer)[];
  closed: Promise<{ code: number; reason: string; at: number }>;
}

/** The upgrade's status: 101, or the HTTP answer that refused it (with its JSON body). */
function upgrade(url: string): Promise<{ status: number; body?: { error?: string }; peer?: Peer }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    const frames: (string | Buffer)[] = [];
    const closed = new Promise<{ code: number; reason: string; at: number }>((done) =>
      ws.once('close', (code, reason) => done({ code, reason: reason.toString(), at: Date.now() })),
    );
    ws.on('message', (data, binary) => frames.push(binary ? (data as Buffer) : data.toString()));
    ws.on('open', () => resolve({ status: 101, peer: { ws, frames, closed } }));
    ws.on('unexpected-response', (_request, response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body: text ? (JSON.parse(text) as { error?: string }) : {} });
        ws.terminate();
      });
    });
    ws.on('error', () => {});
  });
}

afterAll(() => killAll());

describe.each(Object.keys(targets))('the hub on %s', (runtime) => {
  let target: Target;
  const peers: Peer[] = [];
  let n = 0;
  /** A hub of its own for each case (one per Worker object; a server has one hub, emptied between cases). */
  let hub = '';

  const ws = (query = '') => `${target.http.replace(/^http/, 'ws')}${target.path('/connect', hub)}${query}`;
  const get = (route: string, token?: string) =>
    fetch(`${target.http}${target.path(route, hub)}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const open = async (query = '') => {
    const answer = await upgrade(ws(query));
    expect(answer.status, JSON.stringify(answer.body)).toBe(101);
    peers.push(answer.peer!);
    return answer.peer!;
  };

  beforeAll(async () => {
    target = await targets[runtime]!();
  }, 120_000);

  afterAll(async () => {
    await target?.stop();
  });

  beforeEach(() => {
    hub = `conformance-${++n}`;
  });

  afterEach(async () => {
    for (const peer of peers.splice(0)) peer.ws.terminate();
    // Every connection of this case gone, so the next one starts with an empty hub.
    await until(async () => ((await (await get('/actors', TOKEN)).json()) as unknown[]).length === 0, 'an empty hub');
  });

  it('answers GET /connect without an upgrade with 426, and an unknown route with 404', async () => {
    const plain = await fetch(`${target.http}${target.path('/connect', hub)}`);
    expect(plain.status).toBe(426);
    expect(await plain.json()).toEqual({ error: 'expected a WebSocket upgrade' });
    expect((await fetch(`${target.http}/no-such-route`)).status).toBe(404);
    expect((await fetch(`${target.http}/healthz`)).status).toBe(200);
  });

  it('refuses a bad peer name, an unknown codec and a malformed session with 400', async () => {
    for (const query of [`?peer=${encodeURIComponent('no spaces')}`, '?codec=morse', '?session=short']) {
      const answer = await upgrade(ws(query));
      expect(answer.status, query).toBe(400);
      expect(answer.body?.error, query).toEqual(expect.any(String));
    }
  });

  it('refuses a session attached to a live connection with 409, and a full hub with 503', async () => {
    const session = 'conformance-session-0001';
    const first = await open(`?session=${session}`);
    first.ws.send(TEXT_FRAMES.ADVERTISE);
    expect(await upgrade(ws(`?session=${session}`))).toMatchObject({ status: 409, body: { error: 'this session is attached to a live connection' } });
    await open();
    expect(await upgrade(ws())).toMatchObject({ status: 503, body: { error: 'connection limit reached' } });
  });

  it('speaks libvirt frames over a WebSocket with ?codec=libvirt', async () => {
    const peer = await open('?codec=libvirt');
    peer.ws.send(libvirt.encode('ADVERTISE'));
    peer.ws.send(libvirt.encode('PING'));
    const pong = await until(() => peer.frames.find((frame) => typeof frame !== 'string'), 'a binary answer');
    expect(libvirt.decode(new Uint8Array(pong as Buffer))).toBe('PONG');
    const actors = (await (await get('/actors', TOKEN)).json()) as { codec: string; meta: Record<string, string> }[];
    expect(actors.map((actor) => [actor.codec, actor.meta.transport])).toEqual([['libvirt', 'websocket']]);
  });

  it('keeps /actors and /presence behind the token', async () => {
    for (const route of ['/actors', '/presence']) {
      expect((await get(route)).status, route).toBe(401);
      expect((await get(route, 'wrong')).status, route).toBe(401);
      const allowed = await get(route, TOKEN);
      expect(allowed.status, route).toBe(200);
      expect(Array.isArray(await allowed.json()), route).toBe(true);
    }
    const peer = await open('?peer=ada');
    peer.ws.send(TEXT_FRAMES.ADVERTISE);
    const presence = await until(async () => {
      const rows = (await (await get('/presence', TOKEN)).json()) as { peer: string | null }[];
      return rows.length === 1 && rows;
    }, 'the peer in presence');
    expect(presence[0]).toMatchObject({ peer: 'ada' });
  });

  it('closes a silent peer at the bound, interval * (count + 1) after its last frame, never earlier', async () => {
    const peer = await open();
    const sent = Date.now();
    peer.ws.send(TEXT_FRAMES.ADVERTISE);
    const closed = await peer.closed;
    expect(closed.code).toBe(4000);
    expect(closed.reason).toMatch(/^peer dead: silent for \d+ ms, 1 keepalive PING\(s\) unanswered/);
    expect(closed.at - sent).toBeGreaterThanOrEqual(INTERVAL * (COUNT + 1));
    // It PINGed once before the verdict, and nothing else.
    expect(peer.frames).toEqual([TEXT_FRAMES.PING]);
  });

  it('ends a connection whose peer closes without a reason as peer-closed, with the same sentence', async () => {
    const stream = await hostEvents(`${target.http}${target.path('/inspect', hub)}/events`, TOKEN);
    try {
      const peer = await open();
      peer.ws.send(TEXT_FRAMES.ADVERTISE);
      const id = (await stream.next((event) => event.type === 'opened')).id;
      peer.ws.close(1000);
      const closed = await stream.next((event) => event.type === 'closed' && event.id === id);
      expect(closed).toMatchObject({ cause: { cause: 'peer-closed', code: 1000 }, reason: 'peer closed the connection' });
    } finally {
      stream.stop();
    }
  });
});

interface StreamedEvent {
  type: string;
  id: string;
  cause?: unknown;
  reason?: string;
}

/** The inspector's live stream (Server-Sent Events) of a hub's host events. */
async function hostEvents(url: string, token: string) {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
  expect(response.status).toBe(200);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const seen: StreamedEvent[] = [];
  let buffer = '';
  const pump = async (): Promise<void> => {
    const { value, done } = await reader.read();
    if (done) throw new Error('the event stream ended');
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!/^event: events$/m.test(message)) continue;
      const data = message.split('\n').find((line) => line.startsWith('data: '))!.slice('data: '.length);
      seen.push(...(JSON.parse(data) as { events: StreamedEvent[] }).events);
    }
  };
  return {
    async next(match: (event: StreamedEvent) => boolean): Promise<StreamedEvent> {
      for (;;) {
        const index = seen.findIndex(match);
        if (index >= 0) return seen.splice(0, index + 1).at(-1)!;
        await pump();
      }
    },
    stop: () => abort.abort(),
  };
}
