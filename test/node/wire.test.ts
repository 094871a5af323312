/**
 * What the server puts on the wire, seen through raw sockets on loopback: nothing
 * keepalive before the client's ADVERTISE, bad input closing only the connection that
 * sent it (with a reason and a log line), the HTTP routes, and a graceful close.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMessage, KEEPALIVE_PROGRAM } from '../../runtime/codec/libvirt.ts';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import { startServer, type RunningServer, type ServerOptions } from '../../adapters/node/server.ts';
import { poll } from './helpers.ts';
import { FRAME, rawTcp, rawWs, splitFrames, type RawTcp, type RawWs } from './peers.ts';

const INTERVAL = 100;
const MAX_FRAME = 64 * 1024;
const servers: RunningServer[] = [];
const sockets: { close(): void }[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function server(options: ServerOptions = {}) {
  const log: string[] = [];
  const running = await startServer({ port: 0, tcpPort: 0, interval: INTERVAL, count: 2, maxFrameBytes: MAX_FRAME, log: (line) => log.push(line), ...options });
  servers.push(running);
  return { running, log };
}

async function ws(url: string, answer = false): Promise<RawWs> {
  const peer = await rawWs(url, answer);
  sockets.push({ close: () => peer.ws.terminate() });
  return peer;
}

async function tcp(url: string, answer = false): Promise<RawTcp> {
  const peer = await rawTcp(url, answer);
  sockets.push({ close: () => peer.socket.destroy() });
  return peer;
}

/** Real time passing on purpose: the claim is that nothing is sent meanwhile. */
function elapse(ms: number): Promise<void> {
  const until = Date.now() + ms;
  return poll(() => Date.now() >= until, ms + 5_000, 20).then(() => undefined);
}

describe('a server speaks only after the client ADVERTISE', () => {
  // No ADVERTISE deadline here, so the silence can last (the deadline has its own test,
  // advertise-deadline.test.ts, where the peer likewise hears nothing before the close).
  it('on a WebSocket: silence for many intervals, then PINGs after ADVERTISE', async () => {
    const { running } = await server({ advertiseTimeout: 0 });
    const peer = await ws(running.wsUrl);
    await elapse(INTERVAL * 5);
    expect(peer.received).toEqual([]);
    const [view] = running.host.list();
    expect(view).toMatchObject({ role: 'server', advertised: false, pingsSent: 0 });

    peer.ws.send(TEXT_FRAMES.ADVERTISE);
    await poll(() => peer.received.length >= 2, INTERVAL * 30);
    // The server answers nothing to ADVERTISE itself; it pings the silent client.
    expect(peer.received.slice(0, 2)).toEqual([TEXT_FRAMES.PING, TEXT_FRAMES.PING]);
  });

  it('on TCP: not one byte for many intervals, then whole libvirt PING frames', async () => {
    const { running } = await server({ advertiseTimeout: 0 });
    const peer = await tcp(running.tcpUrl!);
    await elapse(INTERVAL * 5);
    expect(peer.bytes().length).toBe(0);

    peer.socket.write(FRAME.ADVERTISE);
    await poll(() => peer.bytes().length >= FRAME.PING.length * 2, INTERVAL * 30);
    const frames = splitFrames(peer.bytes());
    expect(frames.length).toBeGreaterThanOrEqual(2);
    for (const frame of frames) expect(Buffer.from(frame)).toEqual(Buffer.from(FRAME.PING));
  });
});

describe('bad input closes only the offending connection', () => {
  const wsCases: [string, (peer: RawWs) => void, RegExp][] = [
    ['an oversized binary frame', (p) => p.ws.send(Buffer.alloc(MAX_FRAME + 1)), /^protocol error \(oversized\): binary frame larger than 65536 bytes/],
    ['an oversized text frame', (p) => p.ws.send('x'.repeat(MAX_FRAME + 1)), /^protocol error \(oversized\): text frame larger than 65536 bytes/],
    ['an unknown keepalive message', (p) => p.ws.send('keepalive:REBOOT'), /^protocol error \(unknown-procedure\)/],
  ];
  it.each(wsCases)('WebSocket: %s', async (_name, misbehave, reason) => {
    const { running, log } = await server();
    const bystander = await ws(running.wsUrl, true);
    bystander.ws.send(TEXT_FRAMES.ADVERTISE);
    const bystanderId = (await poll(() => running.host.list()[0]?.advertised && running.host.list()[0]!)).id;
    const victim = await ws(running.wsUrl, true);
    victim.ws.send(TEXT_FRAMES.ADVERTISE);
    await poll(() => running.host.size === 2 && running.host.list().every((v) => v.advertised));

    misbehave(victim);
    const closed = await poll(() => victim.closed);
    expect(closed.code).toBe(4000);
    expect(closed.reason).toMatch(reason);
    expect(log.some((line) => / rejected: protocol error/.test(line) && reason.test(line.split('rejected: ')[1]!))).toBe(true);
    expect(running.host.size).toBe(1);
    expect(running.host.has(bystanderId)).toBe(true);

    // The bystander keeps its conversation going well past the victim's end.
    const pongs = running.host.view(bystanderId)!.pongsReceived;
    await poll(() => (running.host.view(bystanderId)?.pongsReceived ?? 0) >= pongs + 3, INTERVAL * 30);
    expect(bystander.closed).toBeNull();
  });

  it('WebSocket: a frame far past the limit is cut off by ws (1009) before it is buffered', async () => {
    const { running, log } = await server();
    const bystander = await ws(running.wsUrl, true);
    bystander.ws.send(TEXT_FRAMES.ADVERTISE);
    const victim = await ws(running.wsUrl, true);
    await poll(() => running.host.size === 2);
    victim.ws.send('x'.repeat(MAX_FRAME * 3));
    const closed = await poll(() => victim.closed);
    expect(closed.code).toBe(1009);
    expect(log.some((line) => /websocket error: Max payload size exceeded/.test(line))).toBe(true);
    await poll(() => running.host.size === 1);
    expect(bystander.closed).toBeNull();
  });

  const tcpCases: [string, Uint8Array, RegExp][] = [
    ['HTTP spoken to the libvirt port', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), /\((oversized|malformed)\)/],
    ['a length word past the maximum', Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]), /\(oversized\)/],
    ['a length word shorter than a header', Buffer.from([0, 0, 0, 8, 1, 2, 3, 4]), /\((truncated|malformed)\)/],
    ['an unknown keepalive procedure', encodeMessage({ prog: KEEPALIVE_PROGRAM, vers: 1, proc: 9, type: 2, serial: 0, status: 0 }), /\(unknown-procedure\)/],
    ['a wrong keepalive version', encodeMessage({ prog: KEEPALIVE_PROGRAM, vers: 7, proc: 1, type: 2, serial: 0, status: 0 }), /\(wrong-version\)/],
  ];
  it.each(tcpCases)('TCP: %s', async (_name, garbage, reason) => {
    const { running, log } = await server();
    const bystander = await tcp(running.tcpUrl!, true);
    bystander.socket.write(FRAME.ADVERTISE);
    const victim = await tcp(running.tcpUrl!, true);
    victim.socket.write(FRAME.ADVERTISE);
    await poll(() => running.host.size === 2 && running.host.list().every((v) => v.advertised));
    const ids = running.host.list().map((v) => v.id);

    victim.socket.write(garbage);
    await poll(() => victim.closed);
    const rejected = log.find((line) => / rejected: protocol error/.test(line));
    expect(rejected).toMatch(reason);
    const victimId = rejected!.split(' ')[0]!;
    expect(ids).toContain(victimId);
    const bystanderId = ids.find((id) => id !== victimId)!;
    expect(running.host.size).toBe(1);
    const pongs = running.host.view(bystanderId)!.pongsReceived;
    await poll(() => (running.host.view(bystanderId)?.pongsReceived ?? 0) >= pongs + 3, INTERVAL * 30);
    expect(bystander.closed).toBe(false);
  });

  it('a frame split across many writes is still one frame, not garbage', async () => {
    const { running, log } = await server();
    const peer = await tcp(running.tcpUrl!, true);
    for (const byte of FRAME.ADVERTISE) {
      peer.socket.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await poll(() => running.host.list()[0]?.advertised === true);
    expect(log.filter((line) => /rejected/.test(line))).toEqual([]);
  });
});

describe('dead peers', () => {
  it('a silent WebSocket peer is told why and its socket released at once, not after the close handshake', async () => {
    const { running, log } = await server();
    const peer = await ws(running.wsUrl);
    peer.ws.send(TEXT_FRAMES.ADVERTISE);
    await poll(() => running.host.list()[0]?.advertised);
    // Stop reading: the peer will neither answer PINGs nor complete a close handshake.
    peer.ws.pause();
    await poll(() => running.host.size === 0, INTERVAL * 30);
    expect(log.some((line) => / dead: peer dead: silent for \d+ ms, 2 keepalive PING\(s\) unanswered/.test(line))).toBe(true);
    await poll(() => running.openSockets().ws === 0, 2_000);
    peer.ws.resume();
    const closed = await poll(() => peer.closed);
    expect(closed.code).toBe(4000);
    expect(closed.reason).toMatch(/^peer dead: silent for \d+ ms/);
  });

  it('a silent TCP peer is hung up', async () => {
    const { running, log } = await server();
    const peer = await tcp(running.tcpUrl!);
    peer.socket.write(FRAME.ADVERTISE);
    await poll(() => peer.closed, INTERVAL * 30);
    expect(running.host.size).toBe(0);
    expect(running.openSockets().tcp).toBe(0);
    expect(log.some((line) => / dead: peer dead/.test(line))).toBe(true);
    // Exactly count PINGs went out before the verdict.
    expect(splitFrames(peer.bytes()).map((f) => Buffer.from(f).equals(Buffer.from(FRAME.PING)))).toEqual([true, true]);
  });
});

describe('HTTP routes', () => {
  it('/healthz is 200 with both listeners up; /actors lists the actors as JSON', async () => {
    const { running } = await server();
    const health = await fetch(`${running.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true, connections: 0 });

    const a = await ws(running.wsUrl);
    a.ws.send(TEXT_FRAMES.ADVERTISE);
    const b = await tcp(running.tcpUrl!);
    b.socket.write(FRAME.ADVERTISE);
    const list = await poll(async () => {
      const views = (await (await fetch(`${running.url}/actors`)).json()) as { codec: string; advertised: boolean; meta: Record<string, string> }[];
      return views.length === 2 && views.every((v) => v.advertised) && views;
    });
    expect(list.map((v) => v.codec).sort()).toEqual(['libvirt', 'text']);
    expect(list.find((v) => v.codec === 'libvirt')?.meta).toEqual({ transport: 'tcp', codec: 'libvirt' });
  });

  it('a token guards /actors', async () => {
    const { running } = await server({ token: 's3cret' });
    expect((await fetch(`${running.url}/actors`)).status).toBe(401);
    expect((await fetch(`${running.url}/actors`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
  });

  it('extend mounts routes on the served app', async () => {
    const { running } = await server({ extend: (app) => app.get('/extra', (c) => c.text('mounted')) });
    expect(await (await fetch(`${running.url}/extra`)).text()).toBe('mounted');
  });

  it('past maxConnections a WebSocket gets 503 before the upgrade and TCP is hung up', async () => {
    const { running, log } = await server({ maxConnections: 1 });
    await ws(running.wsUrl);
    await expect(rawWs(running.wsUrl)).rejects.toThrow(/503/);
    const refused = await tcp(running.tcpUrl!);
    await poll(() => refused.closed);
    expect(log.some((line) => /refused: connection limit of 1 reached/.test(line))).toBe(true);
    expect(running.host.size).toBe(1);
  });
});

it('close() says goodbye to every connection with its reason and stops listening', async () => {
  const { running } = await server();
  const a = await ws(running.wsUrl, true);
  a.ws.send(TEXT_FRAMES.ADVERTISE);
  const b = await tcp(running.tcpUrl!, true);
  b.socket.write(FRAME.ADVERTISE);
  await poll(() => running.host.size === 2);
  servers.splice(servers.indexOf(running), 1);
  await running.close('maintenance');
  expect(running.host.size).toBe(0);
  expect(running.timer.armed).toBe(false);
  expect(await poll(() => a.closed)).toEqual({ code: 1000, reason: 'maintenance' });
  await poll(() => b.closed);
  await expect(fetch(`${running.url}/healthz`)).rejects.toThrow();
});
