/**
 * The Node client's libvirt dialect against scripted fake daemons on loopback and UNIX
 * sockets: the answers a real libvirtd never gives (0, an error, garbage, silence).
 * The real daemon is in test/libvirt/.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connect, type KeepaliveClient } from '../../adapters/node/client.ts';
import { libvirtTarget } from '../../adapters/node/libvirt-client.ts';
import { encodeMessage } from '../../runtime/codec/libvirt.ts';
import { encodeSupportsFeatureCall } from '../../runtime/codec/libvirt-remote.ts';
import type { KeepaliveSupport } from '../../runtime/protocol/libvirt-negotiation.ts';
import { nextEvent } from '../support/client-events.ts';
import { killAll, poll, spawnCli } from './helpers.ts';

const bytes = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');
const reply = (supported: number) => bytes(`00000020 20008086 00000001 0000003c 00000001 00000001 00000000 ${supported.toString(16).padStart(8, '0')}`);
const PING = bytes('0000001c 6b656570 00000001 00000001 00000002 00000000 00000000');
const PONG = bytes('0000001c 6b656570 00000001 00000002 00000002 00000000 00000000');
const ERROR_REPLY = Buffer.from(
  encodeMessage(
    { prog: 0x20008086, vers: 1, proc: 60, type: 1, serial: 1, status: 1 },
    Buffer.concat([bytes('00000026 00000007 00000001 00000019'), Buffer.from('operation forbidden: nope'), bytes('000000 00000002')]),
  ),
);
const CALL = Buffer.from(encodeSupportsFeatureCall(1));

interface FakeDaemon {
  url: string;
  /** Everything each connection sent us, in order. */
  received: Buffer[];
  ended: Promise<void>;
  close(): Promise<void>;
}

const servers: Server[] = [];
const clients: KeepaliveClient[] = [];
const dir = mkdtempSync(join(tmpdir(), 'keepalive-fake-libvirt-'));

afterEach(async () => {
  killAll();
  for (const client of clients.splice(0)) if (client.readyState !== 3) client.close(1000, 'test over');
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Answers the first complete CALL with `answer` (nothing if null), then PINGs every `pingEvery` ms. */
async function fakeDaemon(answer: Buffer | null, options: { path?: string; pingEvery?: number } = {}): Promise<FakeDaemon> {
  const received: Buffer[] = [];
  let ended!: () => void;
  const endedPromise = new Promise<void>((resolve) => (ended = resolve));
  const server = createServer((socket: Socket) => {
    let pinger: NodeJS.Timeout | undefined;
    socket.on('data', (chunk) => {
      received.push(chunk);
      if (Buffer.concat(received).length === CALL.length && answer) {
        socket.write(answer);
        if (options.pingEvery) pinger = setInterval(() => socket.write(PING), options.pingEvery);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(pinger);
      ended();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => (options.path ? server.listen(options.path, resolve) : server.listen(0, '127.0.0.1', resolve)));
  const address = server.address();
  const url = typeof address === 'string' ? address : `tcp://127.0.0.1:${address!.port}`;
  return { url, received, ended: endedPromise, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function libvirtClient(url: string, options: Parameters<typeof connect>[1] = {}) {
  const client = connect(url, { dialect: 'libvirt', interval: 100, count: 1, reconnect: false, ...options });
  clients.push(client);
  const outcomes: KeepaliveSupport[] = [];
  const sent: string[] = [];
  client.addEventListener('negotiated', ({ support }) => outcomes.push(support!));
  client.addEventListener('sent', ({ message }) => sent.push(message));
  return { client, outcomes, sent };
}

describe('libvirt dialect client (fake daemons)', () => {
  it('an error reply: says so, sends nothing but the CALL, stays connected without checks', async () => {
    const daemon = await fakeDaemon(ERROR_REPLY, { pingEvery: 50 });
    const { client, outcomes, sent } = libvirtClient(daemon.url);
    await poll(() => outcomes.length === 1);
    expect(outcomes).toEqual([{ supported: false, reason: 'libvirt error 38 (domain 7): operation forbidden: nope' }]);
    // Seven of our intervals: with keepalive on, a silent daemon would be dead after two.
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(client.readyState).toBe(1);
    expect(sent).toEqual([]);
    expect(Buffer.concat(daemon.received)).toEqual(CALL);
    expect(client.view()).toMatchObject({ state: 'awaitingAdvertise', advertised: false, pongsSent: 0 });
    expect(client.view()!.pingsReceived).toBeGreaterThanOrEqual(5);
  });

  it('a reply of 0 with requireKeepalive: closed by us, saying why', async () => {
    const daemon = await fakeDaemon(reply(0));
    const { client, outcomes } = libvirtClient(daemon.url, { requireKeepalive: true });
    const closed = await nextEvent(client, 'close');
    // Ended by us (the actor's own rule), not by close() nor by the daemon.
    expect([closed.reason, closed.code, closed.wasClean]).toEqual(['libvirt peer does not support keepalive: the daemon replied supported=0', 1000, false]);
    expect(outcomes).toEqual([{ supported: false, reason: 'the daemon replied supported=0' }]);
    await daemon.ended;
    expect(Buffer.concat(daemon.received)).toEqual(CALL);
  });

  it('a daemon that never answers: closed after the negotiation timeout', async () => {
    const daemon = await fakeDaemon(null);
    const { client } = libvirtClient(daemon.url, { negotiationTimeout: 200 });
    const started = Date.now();
    const { reason } = await nextEvent(client, 'close');
    expect(reason).toBe('no reply to CONNECT_SUPPORTS_FEATURE within 200 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    await daemon.ended;
  });

  it('a garbled reply closes the connection with a protocol error', async () => {
    const daemon = await fakeDaemon(bytes('0000001c 20008086 00000001 0000003c 00000001 00000001 00000000'));
    const { client } = libvirtClient(daemon.url);
    const { reason } = await nextEvent(client, 'close');
    expect(reason).toMatch(/^protocol error \(truncated\): CONNECT_SUPPORTS_FEATURE reply has no "supported" word/);
    await daemon.ended;
  });

  it.each(['path', 'unix:// URL'])('negotiates over a UNIX socket given as a %s, then answers PINGs', async (form) => {
    const path = join(dir, `sock-${form === 'path' ? 'a' : 'b'}`);
    const daemon = await fakeDaemon(reply(1), { path, pingEvery: 40 });
    const { client, outcomes, sent } = libvirtClient(form === 'path' ? path : `unix://${path}`, { interval: 5000 });
    await poll(() => sent.filter((m) => m === 'PONG').length >= 3);
    expect(outcomes).toEqual([{ supported: true }]);
    expect(client.view()).toMatchObject({ state: 'alive.watching', advertised: true, meta: { transport: 'unix', dialect: 'libvirt' } });
    // Exactly the CALL, then PONGs: never our ADVERTISE.
    const all = Buffer.concat(daemon.received);
    expect(all.subarray(0, CALL.length)).toEqual(CALL);
    const rest = all.subarray(CALL.length);
    expect(rest.length % PONG.length).toBe(0);
    for (let at = 0; at < rest.length; at += PONG.length) expect(rest.subarray(at, at + PONG.length)).toEqual(PONG);
  });

  it('parses where a libvirt daemon listens', () => {
    expect(libvirtTarget('tcp://127.0.0.1:16599')).toEqual({ host: '127.0.0.1', port: 16599 });
    expect(libvirtTarget('tcp://virt.example')).toEqual({ host: 'virt.example', port: 16509 });
    expect(libvirtTarget('tcp://[::1]:1')).toEqual({ host: '::1', port: 1 });
    expect(libvirtTarget('/run/libvirt/libvirt-sock')).toEqual({ path: '/run/libvirt/libvirt-sock' });
    expect(libvirtTarget('unix:///run/libvirt/libvirt%20sock')).toEqual({ path: '/run/libvirt/libvirt sock' });
    for (const bad of ['ws://127.0.0.1:1/connect', 'unix://host/path', 'unix:///', 'tls://h:16514', 'tcp://']) {
      expect(() => libvirtTarget(bad), bad).toThrow(/unsupported URL|Invalid URL/);
    }
  });
});

describe('CLI --dialect libvirt (fake daemons)', () => {
  it('prints the negotiation and the verdict when the daemon has no keepalive, and keeps running', async () => {
    const daemon = await fakeDaemon(ERROR_REPLY);
    const cli = spawnCli(['connect', '--dialect', 'libvirt', daemon.url, '--interval', '100', '--count', '1']);
    await cli.line(/-> CALL CONNECT_SUPPORTS_FEATURE\(VIR_DRV_FEATURE_PROGRAM_KEEPALIVE\) serial 1$/);
    const verdict = await cli.line(/does not support keepalive/);
    expect(verdict).toContain('(libvirt error 38 (domain 7): operation forbidden: nope); staying connected without keepalive');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(cli.exitCode).toBeNull();
    expect(Buffer.concat(daemon.received)).toEqual(CALL);
  });

  it('exits 3 with --require-keepalive', async () => {
    const daemon = await fakeDaemon(reply(0));
    const cli = spawnCli(['connect', '--dialect', 'libvirt', daemon.url, '--require-keepalive']);
    expect(await cli.exited()).toBe(3);
    expect(cli.stderr.join('\n')).toMatch(/closing \(--require-keepalive\)[\s\S]*connection closed: libvirt peer does not support keepalive/);
  });
});
