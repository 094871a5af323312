/**
 * The ADVERTISE deadline on real loopback sockets: a peer that connects and never says
 * ADVERTISE (an idle socket, or one that only PINGs) is closed at the deadline with the
 * reason, sent nothing keepalive, and its place under `maxConnections` is free again, so
 * idle sockets cannot fill the cap. Tolerance: the close comes at the deadline or after it
 * (the one timer, read after pending I/O), never before; "after" is bounded generously
 * (2 s) for a loaded machine.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { defaultAdvertiseTimeout } from '../../runtime/protocol/defaults.ts';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import type { HostEvent } from '../../runtime/host/types.ts';
import { startServer, type RunningServer, type ServerOptions } from '../../adapters/node/server.ts';
import { poll } from './helpers.ts';
import { FRAME, rawTcp, rawWs, type RawTcp, type RawWs } from './peers.ts';

const DEADLINE = 600;
const SLACK = 2_000;
const servers: RunningServer[] = [];
const peers: (RawWs | RawTcp)[] = [];
const timers: NodeJS.Timeout[] = [];
afterEach(async () => {
  for (const timer of timers.splice(0)) clearInterval(timer);
  for (const peer of peers.splice(0)) 'ws' in peer ? peer.ws.terminate() : peer.socket.destroy();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function server(options: ServerOptions = {}) {
  const events: HostEvent[] = [];
  const log: string[] = [];
  const running = await startServer({ port: 0, tcpPort: 0, interval: 1000, count: 3, onEvent: (e) => events.push(e), log: (l) => log.push(l), ...options });
  servers.push(running);
  return { running, events, log };
}

async function open<T extends RawWs | RawTcp>(peer: Promise<T>): Promise<T> {
  const opened = await peer;
  peers.push(opened);
  return opened;
}

describe('the ADVERTISE deadline on the Node server', () => {
  it('defaults to interval*(count+1); 0 turns it off', async () => {
    const { running } = await server();
    expect(running.host.defaults.advertiseTimeout).toBe(defaultAdvertiseTimeout(1000, 3));
    expect(defaultAdvertiseTimeout(1000, 3)).toBe(4000);
    const { running: off } = await server({ advertiseTimeout: 0 });
    const idle = await open(rawWs(off.wsUrl));
    await poll(() => off.host.size === 1);
    expect(off.host.list()[0]!.wakeAt).toBeNull();
    expect(idle.closed).toBeNull();
  });

  it('closes unadvertised WebSocket and TCP peers at the deadline with the reason, sends them nothing, and frees their places under the cap', async () => {
    const { running, events, log } = await server({ advertiseTimeout: DEADLINE, maxConnections: 4 });
    const good = await open(rawWs(running.wsUrl, true));
    good.ws.send(TEXT_FRAMES.ADVERTISE);
    await poll(() => running.host.list().some((v) => v.advertised));
    const idleWs = await open(rawWs(running.wsUrl));
    const pinger = await open(rawWs(running.wsUrl));
    const idleTcp = await open(rawTcp(running.tcpUrl!));
    // A sign of life, but not an ADVERTISE: it does not buy more time.
    timers.push(setInterval(() => pinger.ws.readyState === pinger.ws.OPEN && pinger.ws.send(TEXT_FRAMES.PING), 100));
    await poll(() => running.host.size === 4);
    await expect(rawWs(running.wsUrl)).rejects.toThrow(/503/);

    await poll(() => idleWs.closed && pinger.closed && idleTcp.closed, DEADLINE + SLACK + 5_000);
    const reason = `no ADVERTISE within ${DEADLINE} ms`;
    expect(idleWs.closed).toEqual({ code: 4000, reason });
    expect(pinger.closed).toEqual({ code: 4000, reason });
    expect(idleWs.received).toEqual([]);
    expect(pinger.received).toEqual([]); // not even a PONG
    expect(idleTcp.bytes().length).toBe(0);
    const opened = new Map(events.filter((e) => e.type === 'opened').map((e) => [e.id, e.at]));
    const closes = events.filter((e) => e.type === 'closed');
    expect(closes).toHaveLength(3);
    for (const close of closes) {
      expect(close).toMatchObject({ reason });
      const after = close.at - opened.get(close.id)!;
      expect(after).toBeGreaterThanOrEqual(DEADLINE);
      expect(after).toBeLessThan(DEADLINE + SLACK);
      expect(log).toContain(`${close.id} closed: ${reason}`);
    }
    expect(running.host.list().find((v) => v.id === closes[0]!.id)).toBeUndefined();
    const pingsSeen = events.filter((e) => e.type === 'received' && e.message === 'PING');
    expect(pingsSeen.length).toBeGreaterThan(2);

    // The raw sockets are let go at once (not after a close handshake the peer may never
    // finish), and their places are taken again by peers that do advertise.
    await poll(() => running.host.size === 1 && running.openSockets().ws === 1 && running.openSockets().tcp === 0, 5_000);
    const newcomers = await Promise.all([open(rawWs(running.wsUrl, true)), open(rawWs(running.wsUrl, true)), open(rawTcp(running.tcpUrl!, true))]);
    for (const peer of newcomers) 'ws' in peer ? peer.ws.send(TEXT_FRAMES.ADVERTISE) : peer.socket.write(FRAME.ADVERTISE);
    await poll(() => running.host.size === 4 && running.host.list().every((v) => v.advertised));
    await expect(rawWs(running.wsUrl)).rejects.toThrow(/503/);
    expect(good.closed).toBeNull();
  });

  it('an ADVERTISE before the deadline keeps the peer, which is then timed by keepalive alone', async () => {
    const { running } = await server({ advertiseTimeout: DEADLINE });
    const late = await open(rawWs(running.wsUrl, true));
    await poll(() => running.host.size === 1);
    const deadline = running.host.list()[0]!.wakeAt!;
    late.ws.send(TEXT_FRAMES.ADVERTISE);
    await poll(() => running.host.list()[0]?.advertised);
    // Past the old deadline and through a PING/PONG round: still open.
    await poll(() => Date.now() > deadline + 100 && running.host.list()[0]!.pongsReceived >= 1, 10_000);
    expect(late.closed).toBeNull();
    expect(running.host.list()[0]!.state).toMatch(/^alive/);
  });
});
