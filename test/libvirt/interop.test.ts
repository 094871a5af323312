/**
 * Interop with a real libvirtd (Debian's libvirt-daemon), started by this file on
 * loopback with keepalive_interval = 1 s and keepalive_count = 2: the daemon closes a
 * silent client 3 s after its last message, and PINGs after every silent second.
 *
 * libvirt keeps time in whole seconds (time(NULL) in virkeepalive.c), so its own
 * deadlines can be up to a second late; every bound below states its tolerance.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type KeepaliveClient } from '../../adapters/node/client.ts';
import type { HostEvent } from '../../runtime/host/types.ts';
import type { KeepaliveSupport } from '../../runtime/protocol/libvirt-negotiation.ts';
import { killAll, poll, spawnCli } from '../node/helpers.ts';
import { nextEvent } from '../support/client-events.ts';
import { startLibvirtd, type Libvirtd } from './daemon.ts';

const DAEMON_INTERVAL = 1000;
const DAEMON_COUNT = 2;
const DAEMON_DEATH = DAEMON_INTERVAL * (DAEMON_COUNT + 1);
/** Scheduling on a loaded 2-core machine (both processes), on top of any stated libvirt slack. */
const TOLERANCE = 700;

let daemon: Libvirtd;
const clients: KeepaliveClient[] = [];

beforeAll(async () => {
  daemon = await startLibvirtd({ interval: DAEMON_INTERVAL / 1000, count: DAEMON_COUNT });
});
afterEach(() => {
  killAll();
  for (const client of clients.splice(0)) if (client.readyState !== 3) client.close(1000, 'test over');
});
afterAll(async () => {
  await daemon?.stop();
});

function libvirtClient(url: string, interval: number, count: number) {
  const events: HostEvent[] = [];
  const client = connect(url, { dialect: 'libvirt', interval, count, reconnect: false, onEvent: (event) => events.push(event) });
  clients.push(client);
  const negotiated = nextEvent(client, 'negotiated').then(({ support }) => support as KeepaliveSupport);
  const at = (type: 'sent' | 'received', message: string) =>
    events.filter((e) => e.type === type && 'message' in e && e.message === message).map((e) => e.at);
  return { client, events, negotiated, at };
}

const timeouts = () => (daemon.log().match(/connection closed due to keepalive timeout/g) ?? []).length;

describe('against a real libvirtd', () => {
  it('negotiates over TCP and the UNIX socket; its PINGs come every interval and our PONGs keep us open', async () => {
    // Our own interval is long: only the daemon PINGs here.
    const peers = [libvirtClient(daemon.tcpUrl, 60_000, 2), libvirtClient(daemon.unixPath, 60_000, 2)];
    for (const peer of peers) expect(await peer.negotiated).toEqual({ supported: true });
    // Six PINGs: twice the silence after which the daemon would have closed us.
    await poll(() => peers.every((peer) => peer.at('received', 'PING').length >= 6), DAEMON_INTERVAL * 6 + 6000, 50);
    for (const { client, at } of peers) {
      expect(client.readyState).toBe(1);
      expect(client.view()).toMatchObject({ state: 'alive.watching', advertised: true, pingsSent: 0, unanswered: 0 });
      const pings = at('received', 'PING');
      const pongs = at('sent', 'PONG');
      expect(pongs.length).toBe(pings.length);
      // Each PING comes one interval after our last message (the PONG to the one before).
      for (let i = 1; i < pings.length; i++) {
        const gap = pings[i]! - pongs[i - 1]!;
        expect(gap, `PING ${i}`).toBeGreaterThanOrEqual(DAEMON_INTERVAL - 50);
        expect(gap, `PING ${i}`).toBeLessThanOrEqual(DAEMON_INTERVAL + TOLERANCE);
      }
    }
    expect(peers.map((p) => p.client.view()!.meta.transport)).toEqual(['tcp', 'unix']);
    expect(timeouts()).toBe(0);
    // The daemon logs any keepalive procedure it does not know: our ADVERTISE (3) never went out.
    expect(daemon.log()).not.toMatch(/unknown keepalive message/);
  });

  it('our PINGs get its PONGs; hearing from us, the daemon never needs to PING', async () => {
    const INTERVAL = 300;
    const peer = libvirtClient(daemon.tcpUrl, INTERVAL, 2);
    expect(await peer.negotiated).toEqual({ supported: true });
    await poll(() => peer.at('received', 'PONG').length >= 6, INTERVAL * 6 + 5000, 20);
    const pings = peer.at('sent', 'PING');
    const pongs = peer.at('received', 'PONG');
    expect(pings.length).toBeGreaterThanOrEqual(6);
    for (let i = 0; i < 6; i++) {
      expect(pongs[i]!).toBeGreaterThanOrEqual(pings[i]!);
      expect(pongs[i]! - pings[i]!, `round trip ${i}`).toBeLessThanOrEqual(TOLERANCE);
    }
    expect(peer.client.view()).toMatchObject({ state: 'alive.watching', pingsReceived: 0, pongsSent: 0 });
    expect(peer.client.readyState).toBe(1);
  });

  it('closes a frozen client: our CLI under SIGSTOP is cut off by the daemon', async () => {
    const before = timeouts();
    const cli = spawnCli(['connect', '--dialect', 'libvirt', daemon.tcpUrl, '--interval', '60000', '--count', '2']);
    await cli.line(/<- REPLY supported=1: keepalive negotiated/);
    await cli.line(/-> PONG$/, DAEMON_INTERVAL + 5000);
    // Right after our PONG: the daemon last heard from us just now.
    const stoppedAt = Date.now();
    cli.proc.kill('SIGSTOP');
    await poll(() => timeouts() > before, DAEMON_DEATH + 1000 + TOLERANCE * 3, 50);
    const detected = Date.now() - stoppedAt;
    // Up to a second of libvirt's whole-second clock on top of interval*(count+1).
    expect(detected).toBeLessThanOrEqual(DAEMON_DEATH + 1000 + TOLERANCE);
    expect(detected).toBeGreaterThanOrEqual(DAEMON_DEATH - DAEMON_INTERVAL - 100);
    expect(daemon.log()).toMatch(new RegExp(`No response from client \\S+ after ${DAEMON_COUNT} keepalive messages`));

    // Thawed, our client finds the socket closed by the daemon and says so.
    cli.proc.kill('SIGCONT');
    expect(await cli.exited()).toBe(1);
    expect(cli.stderr.join('\n')).toMatch(/connection closed: server closed the TCP connection/);
    expect(cli.stdout.some((line) => / <- PING$/.test(line))).toBe(true);
  });

  it('declares a frozen daemon dead within interval*(count+1)', async () => {
    const INTERVAL = 400;
    const COUNT = 2;
    const DEATH = INTERVAL * (COUNT + 1);
    const peer = libvirtClient(daemon.tcpUrl, INTERVAL, COUNT);
    expect(await peer.negotiated).toEqual({ supported: true });
    await poll(() => peer.at('received', 'PONG').length >= 2, INTERVAL * 2 + 5000, 20);
    const dead = nextEvent(peer.client, 'dead').then(({ reason, at }): [string, number] => [reason, at]);
    const stoppedAt = Date.now();
    process.kill(daemon.pid, 'SIGSTOP');
    try {
      const [reason, at] = await Promise.race([
        dead,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('daemon not declared dead')), DEATH + TOLERANCE * 4)),
      ]);
      // The daemon's last message came at or before the stop.
      expect(at - stoppedAt).toBeLessThanOrEqual(DEATH + TOLERANCE);
      const silentFor = Number(reason.match(/silent for (\d+) ms/)![1]);
      expect(silentFor).toBeGreaterThanOrEqual(DEATH);
      expect(silentFor).toBeLessThanOrEqual(DEATH + TOLERANCE);
      expect(reason).toContain(`${COUNT} keepalive PING(s) unanswered`);
      await poll(() => peer.client.readyState === 3);
    } finally {
      process.kill(daemon.pid, 'SIGCONT');
    }
  });
});
