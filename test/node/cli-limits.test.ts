/**
 * The ADVERTISE deadline and the abuse limits from the command line, on the Node CLI and
 * on Deno's main.ts (same flags, same environment, same banner line), each enforced on
 * real loopback sockets. Waits poll with generous limits; the deadline is short (400 ms)
 * so the test is quick, and nothing asserts how soon after it the close comes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import { actors, killAll, poll, spawnCli, spawnServer, type Spawned } from './helpers.ts';
import { rawWs, type RawWs } from './peers.ts';
import { spawnDeno, spawnDenoServer } from '../deno/helpers.ts';

const peers: RawWs[] = [];
afterEach(() => {
  for (const peer of peers.splice(0)) peer.ws.terminate();
  killAll();
});

async function ws(url: string, advertise: boolean): Promise<RawWs> {
  const peer = await rawWs(url, true);
  peers.push(peer);
  if (advertise) peer.ws.send(TEXT_FRAMES.ADVERTISE);
  return peer;
}

const runtimes = [
  { name: 'Node CLI', serve: spawnServer, run: (args: string[]) => spawnCli(['serve', ...args]) },
  { name: 'Deno main.ts', serve: spawnDenoServer, run: (args: string[]) => spawnDeno(['serve', ...args]) },
] as const;

describe.each(runtimes)('$name', ({ serve, run }) => {
  it('takes --advertise-timeout, --max-connections and --max-pings, prints them, and enforces each', async () => {
    const server = await serve(['--interval', '5000', '--count', '2', '--advertise-timeout', '400', '--max-connections', '3', '--max-pings', '5']);
    expect(await server.line(/^\s+limits\s/)).toMatch(/limits\s+ADVERTISE within 400 ms, at most 3 connections, 5 PINGs per interval$/);
    const idle = await ws(server.ws, false);
    const flooder = await ws(server.ws, true);
    const good = await ws(server.ws, true);
    await poll(async () => (await actors(server.http)).length === 3);
    await expect(rawWs(server.ws)).rejects.toThrow(/503/);

    for (let i = 0; i < 6; i++) flooder.ws.send(TEXT_FRAMES.PING);
    expect(await poll(() => flooder.closed)).toEqual({ code: 4000, reason: 'protocol error (flood): more than 5 PINGs within 5000 ms' });
    expect(await poll(() => idle.closed)).toEqual({ code: 4000, reason: 'no ADVERTISE within 400 ms' });
    expect(idle.received).toEqual([]);
    await server.line(/ closed: no ADVERTISE within 400 ms$/);
    await poll(async () => (await actors(server.http)).length === 1);
    expect(good.closed).toBeNull();
  });

  it('reads them from the environment; 0 turns the deadline and the PING limit off', async () => {
    const server = await serve(['--interval', '100', '--count', '1'], { KEEPALIVE_ADVERTISE_TIMEOUT: '0', KEEPALIVE_MAX_CONNECTIONS: '2', KEEPALIVE_MAX_PINGS: '0' });
    expect(await server.line(/^\s+limits\s/)).toMatch(/limits\s+no ADVERTISE deadline, at most 2 connections, no PING limit$/);
    const idle = await ws(server.ws, false);
    const pinger = await ws(server.ws, true);
    await poll(async () => (await actors(server.http)).filter((a) => a.pingsReceived === 0).length === 2);
    for (let i = 0; i < 300; i++) pinger.ws.send(TEXT_FRAMES.PING);
    await poll(async () => (await actors(server.http)).some((a) => a.pingsReceived === 300));
    await expect(rawWs(server.ws)).rejects.toThrow(/503/);
    // Several times the default deadline (interval*(count+1) = 200 ms) later, the idle socket is still served.
    const until = Date.now() + 1_000;
    await poll(() => Date.now() >= until, 5_000, 50);
    expect(idle.closed).toBeNull();
    expect(pinger.closed).toBeNull();
    const states = (await actors(server.http)).map((a) => a.state).sort();
    expect(states).toHaveLength(2);
    expect(states[0]).toMatch(/^alive\./);
    expect(states[1]).toBe('awaitingAdvertise');
  });

  it('refuses a bad value with a clear message and status 1', async () => {
    for (const [flag, value] of [['--max-pings', '-1'], ['--max-connections', '0'], ['--advertise-timeout', 'soon']] as const) {
      const refused: Spawned = run(['--port', '0', '--tcp-port', '0', `${flag}=${value}`]);
      expect(await refused.exited(20_000)).toBe(1);
      expect(refused.stderr.join('\n')).toMatch(new RegExp(`${flag} must be a whole number >= \\d, got "${value}"`));
    }
  });
});
