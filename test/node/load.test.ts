/**
 * Load: many loopback WebSocket connections on the Node adapter, 1 s interval, while the
 * server's event loop is held by a CPU hog in the same process. Server and clients are
 * separate processes (test/node/load/): the clients are our runtime's own `Host` with
 * client actors, so either side may declare the other dead.
 *
 * `npm test` (quick): 1,000 connections for 10 s, the loop held 150 ms in every 400 ms
 * (and once 2 s): no death on either side. Generous: a client declares the server dead
 * only after 6 s without a message, three times the longest stall, and the server's own
 * verdict does not depend on its stalls at all (below).
 *
 * `npm run test:stress`: 10,000 connections. A 60 s sustained run with the loop held 250 ms
 * in every 500 ms; single stalls of growing length to find where the clients start
 * declaring the server dead (about interval*count: a client hears from the server at least
 * once an interval, and gives up interval*(count+1) after the last time); and the server
 * with count 1, stalled 3 s in a socket handler right after PINGing everyone, with and
 * without its timer reading pending I/O first (`afterIo`). Figures are printed
 * (`KEEPALIVE_REPORT=1` prints the quick variant's too).
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { poll } from './helpers.ts';
import { killLoadProcesses, LoadProcess } from './load/control.ts';
import type { PeersReport, ServerReport } from './load/protocol.ts';
import { quickOr, STRESS, STRESS_TIMEOUT } from '../support/stress.ts';

const SERVER = fileURLToPath(new URL('./load/server.ts', import.meta.url));
const PEERS = fileURLToPath(new URL('./load/peers.ts', import.meta.url));
const INTERVAL = 1000;
const COUNT = 5;
const REPORT = STRESS || process.env.KEEPALIVE_REPORT === '1';
/** The long variant's connections; `KEEPALIVE_LOAD_CONNECTIONS` for a smaller trial run. */
const MANY = Number(process.env.KEEPALIVE_LOAD_CONNECTIONS ?? 10_000);

afterEach(() => killLoadProcesses());

interface Cluster {
  server: LoadProcess;
  peers: LoadProcess[];
  reset(): Promise<void>;
  report(): Promise<{ server: ServerReport; peers: PeersReport[]; peerDeaths: number; peerCloses: Record<string, number>; open: number }>;
  stall(ms: number): Promise<{ ms: number; batch: number }>;
}

/** One server process and two client processes holding `connections` between them, all open. */
async function cluster(connections: number, options: { count?: number; serverArgs?: string[]; peerArgs?: string[] } = {}): Promise<Cluster> {
  const keepalive = ['--interval', String(INTERVAL), '--count', String(options.count ?? COUNT)];
  const server = new LoadProcess(SERVER, [...keepalive, ...(options.serverArgs ?? [])], connections + 1024);
  const { wsUrl } = await server.next<{ wsUrl: string }>('ready');
  const half = connections / 2;
  const peers = [0, 1].map(() => new LoadProcess(PEERS, [wsUrl, '--connections', String(half), ...keepalive, ...(options.peerArgs ?? [])], half + 1024));
  await Promise.all(peers.map((p) => p.next('ready', 180_000)));
  const report = async () => {
    const [s, ...p] = await Promise.all([server.request<ServerReport>({ cmd: 'report' }, 'report'), ...peers.map((peer) => peer.request<PeersReport>({ cmd: 'report' }, 'report'))]);
    const peerCloses: Record<string, number> = {};
    for (const r of p) for (const [reason, n] of Object.entries(r.closes)) peerCloses[reason] = (peerCloses[reason] ?? 0) + n;
    return { server: s!, peers: p, peerDeaths: p.reduce((sum, r) => sum + r.deaths, 0), peerCloses, open: p.reduce((sum, r) => sum + r.open, 0) };
  };
  await poll(async () => (await report()).server.connections === connections, 60_000, 250);
  return {
    server,
    peers,
    report,
    async reset() {
      await Promise.all([server, ...peers].map((p) => p.request({ cmd: 'reset' }, 'ok')));
    },
    async stall(ms) {
      return server.request<{ ms: number; batch: number }>({ cmd: 'stall', ms }, 'stalled', ms + 60_000);
    },
  };
}

/** Real time passing on purpose (a sustained run), polled rather than slept. */
function elapse(ms: number): Promise<unknown> {
  const until = Date.now() + ms;
  return poll(() => Date.now() >= until, ms + 10_000, 100);
}

describe('load on the Node adapter', () => {
  const connections = quickOr(1_000, MANY);

  it(`${connections} connections, 1 s interval: a server whose event loop is held by a CPU hog declares no live peer dead, and no client declares it dead`, { timeout: STRESS_TIMEOUT * 2 }, async () => {
    const c = await cluster(connections);
    await c.reset();
    const [burn, every, runFor] = quickOr([150, 400, 10_000], [250, 500, 60_000]);
    await c.server.request({ cmd: 'burn', ms: burn, every }, 'ok');
    await elapse(runFor / 2);
    // One longer stall on top, a third of the silence a client tolerates.
    const once = await c.stall(quickOr(2_000, 2_000));
    await elapse(runFor / 2);
    await c.server.request({ cmd: 'burn', ms: 0, every: 0 }, 'ok');
    const r = await c.report();
    if (REPORT) console.log('sustained', JSON.stringify({ connections, burn, every, runFor, once, loadavg: loadavg(), server: r.server, peers: r.peers }));

    expect(r.server.deaths).toBe(0);
    expect(r.server.closes).toEqual({});
    expect(r.peerDeaths).toBe(0);
    expect(r.peerCloses).toEqual({});
    expect(r.server.connections).toBe(connections);
    expect(r.open).toBe(connections);
    // The load was real: the loop stood still for each burn and once for the long stall.
    expect(r.server.stalls.n).toBeGreaterThan(runFor / every / 2);
    expect(r.server.stalls.max).toBeGreaterThanOrEqual(once.ms);
    expect(r.server.loopDelayMs.max).toBeGreaterThanOrEqual(once.ms * 0.9);
    // And keepalive ran all along: about one PING (and PONG) per connection per second, from either side.
    const exchanged = r.server.pingsSent + r.server.pingsReceived;
    expect(exchanged).toBeGreaterThan(connections * (runFor / INTERVAL) * 0.3);
  });

  it.runIf(STRESS)(`${MANY} connections: single stalls of growing length; clients start declaring the server dead past about interval*count, never the server a client`, { timeout: STRESS_TIMEOUT * 2 }, async () => {
    const c = await cluster(MANY, { peerArgs: ['--reconnect'] });
    const rows: { stall: number; measured: number; clientDeaths: number; serverDeaths: number; silence: PeersReport['deathSilence'] }[] = [];
    for (const stall of [2_000, 3_000, 4_000, 4_250, 4_500, 4_750, 5_000, 5_500, 6_000, 7_000]) {
      await c.reset();
      const { ms } = await c.stall(stall);
      // Verdicts come within interval*(count+1) of the last message; then everyone is back.
      await elapse(INTERVAL * (COUNT + 2));
      await poll(async () => {
        const r = await c.report();
        return r.server.connections === MANY && r.open === MANY;
      }, 120_000, 500);
      const r = await c.report();
      rows.push({ stall, measured: ms, clientDeaths: r.peerDeaths, serverDeaths: r.server.deaths, silence: mergeSilence(r.peers) });
    }
    console.log(`stall sweep (interval 1000 ms, count 5, ${MANY} connections), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.table(rows.map((row) => ({ ...row, silence: `${row.silence.min}-${row.silence.max} ms` })));
    for (const row of rows) expect(row.serverDeaths).toBe(0);
    for (const row of rows.filter((x) => x.stall <= INTERVAL * (COUNT - 1))) expect(row.clientDeaths).toBe(0);
    for (const row of rows.filter((x) => x.stall >= INTERVAL * (COUNT + 1) + 1000)) expect(row.clientDeaths).toBeGreaterThan(MANY * 0.99);
  });

  it(`${connections} connections, count 1: a 3 s stall in a socket handler right after PINGing everyone kills no peer because the timer reads pending I/O first; without that, it kills many`, { timeout: STRESS_TIMEOUT * 2 }, async () => {
    const outcomes: Record<string, { batch: number; deaths: number; stall: number }> = {};
    for (const mode of ['afterIo', 'sync'] as const) {
      // The clients answer 400 ms later, as across a slow network, so the PONGs arrive after
      // the tick that sent 10,000 PINGs is over: the first one's handler stalls, and the rest
      // arrive during the stall (any that came before it would be read by the same poll).
      const c = await cluster(connections, { count: 1, peerArgs: ['--no-ping', '--latency', '400'], ...(mode === 'sync' ? { serverArgs: ['--sync-timers'] } : {}) });
      await c.reset();
      // A first stall lines every deadline up, so the tick after it PINGs everyone at once;
      // the second stall follows that tick, with all their PONGs arriving during it. Sent
      // together, so that no tick runs between arming the second and starting the first.
      const from = c.server.lines.length;
      c.server.send({ cmd: 'stall', ms: 3_000, afterPings: connections * 0.15 }, { cmd: 'stall', ms: 1_500 });
      const { ms, batch } = await c.server.next<{ ms: number; batch: number }>('stalled', 30_000, from, (line) => Number(line.batch) > 0);
      await elapse(INTERVAL * 3);
      const r = await c.report();
      outcomes[mode] = { batch, deaths: r.server.deaths, stall: ms };
      killLoadProcesses();
    }
    if (REPORT) console.log('count 1, 3 s stall after a PING batch', JSON.stringify({ connections, ...outcomes, loadavg: loadavg() }));
    expect(outcomes.afterIo!.batch).toBeGreaterThanOrEqual(connections * 0.15);
    expect(outcomes.afterIo!.deaths).toBe(0);
    // Measured: 28% to all of the batch, depending on how many answers the stalling poll had already collected.
    expect(outcomes.sync!.deaths).toBeGreaterThan(outcomes.sync!.batch * 0.1);
  });
});

function mergeSilence(peers: PeersReport[]): PeersReport['deathSilence'] {
  const withDeaths = peers.filter((p) => p.deathSilence.n > 0);
  if (withDeaths.length === 0) return { n: 0, min: 0, p50: 0, max: 0 };
  return {
    n: withDeaths.reduce((sum, p) => sum + p.deathSilence.n, 0),
    min: Math.min(...withDeaths.map((p) => p.deathSilence.min)),
    p50: withDeaths[0]!.deathSilence.p50,
    max: Math.max(...withDeaths.map((p) => p.deathSilence.max)),
  };
}
