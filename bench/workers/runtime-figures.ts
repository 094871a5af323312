/**
 * The Node side of figure 8: figure 3's frame rates and figure 5's round trips in a
 * fresh Node process, the same shared code bench/deno/figures.ts runs on Deno, the same
 * command line and the same one-line result.
 *
 *   node bench/workers/runtime-figures.ts frames CONNECTIONS RUNS INTERVALS_PER_RUN RATE...
 *   node bench/workers/runtime-figures.ts round-trip PER_RUN RUNS
 */
import { startServer } from '../../adapters/node/server.ts';
import { tcpEcho, wsEcho } from '../baselines/echo-servers.ts';
import { runChild } from '../lib/spawn.ts';
import { measureFrameRates } from './frame-rates.ts';
import { tcpRoundTripper, wsRoundTripper } from './round-trip.ts';
import { measureRoundTrips, type RoundTripper, type RoundTripTarget } from './round-trips.ts';

async function roundTrips(perRun: number, runs: number) {
  // As figure 5: our interval far beyond the run, no flood limit.
  const server = await startServer({ port: 0, tcpPort: 0, interval: 600_000, maxPingsPerInterval: 0 });
  const [ws, tcp] = await Promise.all([wsEcho(), tcpEcho()]);
  const clients: Record<RoundTripTarget, RoundTripper> = {
    'adapter-ws': await wsRoundTripper(server.wsUrl, true),
    'echo-ws': await wsRoundTripper(ws.url, false),
    'adapter-tcp': await tcpRoundTripper(server.tcpUrl!, true),
    'echo-tcp': await tcpRoundTripper(tcp.url, false),
  };
  try {
    const trips = await measureRoundTrips(clients, runs, perRun);
    if (server.host.stats.pongsOnFastPath < runs * perRun * 2) throw new Error('the Node adapter did not answer every PING on the fast path');
    return trips;
  } finally {
    for (const client of Object.values(clients)) client.close();
    await Promise.all([server.close(), ws.close(), tcp.close()]);
  }
}

if (import.meta.main) {
  runChild(async () => {
    const [mode, ...args] = process.argv.slice(2);
    if (mode === 'frames') {
      const [connections, runs, intervalsPerRun, ...rates] = args.map(Number);
      return { type: 'frames', runtime: `Node ${process.version}`, rates: await measureFrameRates(connections!, rates, runs!, intervalsPerRun!) };
    }
    if (mode === 'round-trip') {
      const [perRun, runs] = args.map(Number);
      return { type: 'round-trip', runtime: `Node ${process.version}`, trips: await roundTrips(perRun!, runs!) };
    }
    throw new Error('usage: runtime-figures.ts frames CONNECTIONS RUNS INTERVALS_PER_RUN RATE... | round-trip PER_RUN RUNS');
  });
}
