/**
 * Abuse of the Node server over loopback: PING floods from other processes, floods of
 * connection attempts, frames announced past the limit, and peers trying to reach
 * someone else's connection. Real sockets, real time: waits poll with generous limits,
 * and the one timing assertion (no PONG to a well-behaved peer delayed by a whole
 * interval) leaves an order of magnitude of slack over what is measured.
 * `KEEPALIVE_REPORT=1` prints the measured latencies.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { assembleHub } from '../../runtime/hub/assemble.ts';
import { encodeMessage } from '../../runtime/codec/libvirt.ts';
import { Host } from '../../runtime/host/host.ts';
import { SocketRegistry } from '../../runtime/host/sockets.ts';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import { startServer, type RunningServer, type ServerOptions } from '../../adapters/node/server.ts';
import { NODE, poll, ROOT } from './helpers.ts';
import { FRAME, rawTcp, rawWs, type RawTcp, type RawWs } from './peers.ts';
import type { FloodReport } from './flood-peer.ts';
import { quickOr, STRESS_TIMEOUT } from '../support/stress.ts';
import { createCodec } from '../../runtime/codec/index.ts';

const FLOOD_PEER = fileURLToPath(new URL('./flood-peer.ts', import.meta.url));
const INTERVAL = 1000;
const MAX_PINGS = 50;

const servers: RunningServer[] = [];
const peers: (RawWs | RawTcp)[] = [];
afterEach(async () => {
  for (const peer of peers.splice(0)) 'ws' in peer ? peer.ws.terminate() : peer.socket.destroy();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function server(options: ServerOptions = {}) {
  const log: string[] = [];
  const running = await startServer({
    port: 0,
    tcpPort: 0,
    interval: INTERVAL,
    count: 3,
    maxPingsPerInterval: MAX_PINGS,
    log: (line) => log.push(line),
    ...options,
  });
  servers.push(running);
  return { running, log };
}

async function ws(url: string, answer = true): Promise<RawWs> {
  const peer = await rawWs(url, answer);
  peers.push(peer);
  return peer;
}

async function tcp(url: string, answer = true): Promise<RawTcp> {
  const peer = await rawTcp(url, answer);
  peers.push(peer);
  return peer;
}

/** Lets real time pass (a measurement window), by polling rather than one long sleep. */
function elapse(ms: number): Promise<unknown> {
  const until = Date.now() + ms;
  return poll(() => Date.now() >= until, ms + 5_000, 20);
}

/** A well-behaved peer that PINGs every `every` ms and times each PONG. */
class Probe {
  readonly rtts: number[] = [];
  readonly #sentAt: number[] = [];
  #timer: NodeJS.Timeout | undefined;
  sent = 0;
  readonly peer: RawWs;
  constructor(peer: RawWs) {
    this.peer = peer;
    peer.ws.on('message', (data) => {
      if (data.toString() !== TEXT_FRAMES.PONG) return;
      const sentAt = this.#sentAt.shift();
      if (sentAt !== undefined) this.rtts.push(performance.now() - sentAt);
    });
  }
  start(every: number): void {
    this.#timer = setInterval(() => {
      this.#sentAt.push(performance.now());
      this.sent++;
      this.peer.ws.send(TEXT_FRAMES.PING);
    }, every);
  }
  stop(): void {
    clearInterval(this.#timer);
  }
  get outstanding(): number {
    return this.#sentAt.length;
  }
}

function flood(url: string, ms: number, burst: number): Promise<FloodReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [FLOOD_PEER, url, String(ms), String(burst)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms + 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').at(-1)!) as FloodReport);
      else reject(new Error(`flood peer exited ${code}: ${err}`));
    });
  });
}

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))] ?? NaN;
const summary = (values: number[]) => ({ n: values.length, p50: percentile(values, 50), p99: percentile(values, 99), max: Math.max(...values) });

describe('a PING flood', () => {
  it('is answered at most maxPingsPerInterval times per connection, then closed with a reason, while other peers stay promptly answered', { timeout: STRESS_TIMEOUT }, async () => {
    const { running, log } = await server();
    const probes = await Promise.all(Array.from({ length: 5 }, async () => new Probe(await ws(running.wsUrl))));
    for (const probe of probes) probe.peer.ws.send(TEXT_FRAMES.ADVERTISE);
    await poll(() => running.host.size === 5 && running.host.list().every((v) => v.advertised));
    const ids = running.host.list().map((v) => v.id);

    // Well under the limit: 20 PINGs per interval each.
    for (const probe of probes) probe.start(INTERVAL / 20);
    await elapse(quickOr(500, 3_000));
    const baseline = probes.flatMap((p) => p.rtts.splice(0));

    const floodFor = quickOr(1_500, 15_000);
    const [wsA, wsB, viaTcp] = await Promise.all([
      flood(running.wsUrl, floodFor, 5_000),
      flood(running.wsUrl, floodFor, 5_000),
      flood(running.tcpUrl!, floodFor, 5_000),
    ]);
    const during = probes.flatMap((p) => p.rtts.splice(0));
    for (const probe of probes) probe.stop();
    await poll(() => probes.every((p) => p.outstanding === 0), 5_000);

    for (const report of [wsA, wsB, viaTcp]) {
      expect(report.connections).toBeGreaterThanOrEqual(2); // closed, reconnected, closed again
      expect(report.maxPongs).toBeLessThanOrEqual(MAX_PINGS);
    }
    for (const report of [wsA, wsB]) expect(report.reasons).toEqual([`4000 protocol error (flood): more than ${MAX_PINGS} PINGs within ${INTERVAL} ms`]);
    const floods = log.filter((line) => / rejected: protocol error \(flood\)/.test(line));
    expect(floods.length).toBe(wsA.connections + wsB.connections + viaTcp.connections);

    // The well-behaved peers: none closed, every PING answered, none ever near a whole interval late.
    expect(probes.every((p) => p.peer.closed === null)).toBe(true);
    expect(ids.every((id) => running.host.has(id))).toBe(true);
    expect(during.length).toBeGreaterThan(0);
    expect(Math.max(...during)).toBeLessThan(INTERVAL);
    await poll(() => running.host.size === 5 && running.openSockets().ws === 5 && running.openSockets().tcp === 0, 10_000);
    if (process.env.KEEPALIVE_REPORT) {
      console.log({ baseline: summary(baseline), duringFlood: summary(during), floodConnections: wsA.connections + wsB.connections + viaTcp.connections });
    }
  });
});

describe('a flood of connection attempts', () => {
  it('never holds more than maxConnections: WebSockets past it get 503 before the upgrade, TCP is hung up, and freed places are taken again', async () => {
    const cap = 20;
    let open = 0;
    let most = 0;
    const { running } = await server({
      maxConnections: cap,
      // The cap alone: idle peers here must keep their places (advertise-deadline.test.ts frees them).
      advertiseTimeout: 0,
      onEvent: (e) => {
        if (e.type === 'opened') most = Math.max(most, ++open);
        if (e.type === 'closed' || e.type === 'dead') open--;
      },
    });
    const attempts = await Promise.allSettled([
      ...Array.from({ length: 60 }, () => ws(running.wsUrl)),
      ...Array.from({ length: 60 }, () => tcp(running.tcpUrl!)),
    ]);
    const refusedWs = attempts.filter((a) => a.status === 'rejected');
    // Racing upgrades that passed the check before the cap filled are closed with 1013 instead.
    await poll(() => running.host.size === cap && running.openSockets().ws + running.openSockets().tcp === cap, 10_000);
    expect(most).toBe(cap);
    expect(refusedWs.length).toBeGreaterThan(0);
    for (const refused of refusedWs) expect(String((refused as PromiseRejectedResult).reason)).toMatch(/503/);
    const admitted = peers.filter((p) => ('ws' in p ? p.closed === null : !p.closed));
    expect(admitted).toHaveLength(cap);
    const closedWs = peers.filter((p): p is RawWs => 'ws' in p && p.closed !== null);
    for (const peer of closedWs) expect(peer.closed!.code).toBe(1013);

    // The admitted peers are served; when some leave, newcomers get their places.
    for (const peer of admitted) 'ws' in peer ? peer.ws.send(TEXT_FRAMES.ADVERTISE) : peer.socket.write(FRAME.ADVERTISE);
    await poll(() => running.host.list().every((v) => v.advertised));
    for (const peer of admitted.slice(0, 5)) 'ws' in peer ? peer.ws.close() : peer.socket.destroy();
    await poll(() => running.host.size === cap - 5);
    const newcomers = await Promise.all(Array.from({ length: 5 }, () => ws(running.wsUrl)));
    await poll(() => running.host.size === cap);
    await expect(rawWs(running.wsUrl)).rejects.toThrow(/503/);
    expect(newcomers.every((p) => p.closed === null)).toBe(true);
  });
});

describe('frame size', () => {
  it('a TCP length word past the limit is refused on its own four bytes, before any payload arrives', async () => {
    const max = 4096;
    const { running, log } = await server({ maxFrameBytes: max });
    const peer = await tcp(running.tcpUrl!, false);
    const word = Buffer.alloc(4);
    word.writeUInt32BE(max + 1);
    peer.socket.write(word);
    await poll(() => peer.closed);
    expect(log.some((line) => line.includes(`rejected: protocol error (oversized): frame of ${max + 1} bytes exceeds the limit of ${max}`))).toBe(true);

    // Exactly at the limit is a frame like any other (here, application traffic).
    const ok = await tcp(running.tcpUrl!, false);
    ok.socket.write(encodeMessage({ prog: 0x20008086, vers: 1, proc: 1, type: 0, serial: 1, status: 0 }, new Uint8Array(max - 28)));
    await poll(() => running.host.list()[0]?.messagesReceived === 1);
    expect(ok.closed).toBe(false);
  });
});

describe('connection ids and addressing', () => {
  it('ids are nanoids (126 random bits), never repeated', () => {
    const host = new Host({ codecs: createCodec, transport: new SocketRegistry(), now: () => 0 });
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) ids.add(host.open({ role: 'server' }));
    expect(ids.size).toBe(10_000);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{21}$/);
  });

  it('no route takes a connection id: the core app serves only GET /healthz, /actors, /presence, /metrics and /connect', () => {
    const { app } = assembleHub({}, { accept: () => () => new Response(null, { status: 500 }), onNextWake: () => {}, openWithoutToken: false });
    const routes = [...new Set(app.routes.map((r) => `${r.method} ${r.path}`))];
    expect(routes.sort()).toEqual(['GET /actors', 'GET /connect', 'GET /healthz', 'GET /metrics', 'GET /presence']);
  });

  it('a peer that names another connection, in a URL or in its frames, reaches only its own actor', async () => {
    const { running } = await server();
    const victim = await ws(running.wsUrl);
    victim.ws.send(TEXT_FRAMES.ADVERTISE);
    const victimId = (await poll(() => running.host.list().find((v) => v.advertised)))!.id;
    const before = running.host.view(victimId)!;

    for (const [method, path] of [
      ['DELETE', `/actors/${victimId}`],
      ['POST', `/actors/${victimId}/close`],
      ['GET', `/actors/${victimId}`],
      ['GET', `/connect/${victimId}`],
      ['POST', `/connect?id=${victimId}`],
    ] as const) {
      expect((await fetch(`${running.url}${path}`, { method })).status, `${method} ${path}`).toBe(404);
    }
    // A WebSocket asking for the victim's id gets an actor of its own.
    const intruder = await ws(`${running.wsUrl}?id=${victimId}`);
    intruder.ws.send(TEXT_FRAMES.ADVERTISE);
    for (const text of [`close ${victimId}`, victimId, JSON.stringify({ id: victimId, type: 'close' }), `keepalive:PONG ${victimId}`.slice(0, 14)]) intruder.ws.send(text);
    const viaTcp = await tcp(running.tcpUrl!, false);
    viaTcp.socket.write(encodeMessage({ prog: 0x20008086, vers: 1, proc: 2, type: 0, serial: 1, status: 0 }, new TextEncoder().encode(victimId.padEnd(24))));
    await poll(() => running.host.size === 3 && running.host.list().filter((v) => v.id !== victimId).every((v) => v.messagesReceived >= 1));

    const intruderView = running.host.list().find((v) => v.id !== victimId && v.codec === 'text')!;
    expect(intruderView.id).not.toBe(victimId);
    expect(intruderView.messagesReceived).toBe(3);
    expect(intruderView.pongsReceived).toBe(1);
    const after = running.host.view(victimId)!;
    expect(after).toMatchObject({ state: before.state, messagesReceived: 0, pingsReceived: before.pingsReceived, pongsReceived: before.pongsReceived });
    expect(victim.closed).toBeNull();
    // The intruder closing its socket ends its actor only.
    intruder.ws.close();
    await poll(() => running.host.size === 2);
    expect(running.host.has(victimId)).toBe(true);
  });
});
