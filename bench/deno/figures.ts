/**
 * The Deno side of figure 8: figure 3's frame rates and figure 5's round trips, measured
 * by the same shared code as on Node (bench/workers/frame-rates.ts, round-trips.ts), one
 * result line on stdout (`@bench {json}`, as the Node children report).
 *
 *   deno run --allow-net=127.0.0.1 bench/deno/figures.ts frames CONNECTIONS RUNS INTERVALS_PER_RUN RATE...
 *   deno run --allow-net=127.0.0.1 bench/deno/figures.ts round-trip PER_RUN RUNS
 */
import { startServer } from '../../adapters/deno/server.ts';
import { measureFrameRates } from '../workers/frame-rates.ts';
import { measureRoundTrips, type RoundTripper, type RoundTripTarget } from '../workers/round-trips.ts';
import { tcpEcho, tcpRoundTripper, wsEcho, wsRoundTripper } from './round-trip.ts';

const report = (message: Record<string, unknown>) => console.log(`@bench ${JSON.stringify(message)}`);

async function roundTrips(perRun: number, runs: number) {
  // As figure 5 on Node: our interval far beyond the run, so the server never PINGs the
  // client mid-measurement; no flood limit, since back-to-back PINGs are the point here.
  const server = await startServer({ port: 0, tcpPort: 0, interval: 600_000, maxPingsPerInterval: 0 });
  const ws = wsEcho();
  const tcp = tcpEcho();
  const clients: Record<RoundTripTarget, RoundTripper> = {
    'adapter-ws': await wsRoundTripper(server.wsUrl, true),
    'echo-ws': await wsRoundTripper(ws.url, false),
    'adapter-tcp': await tcpRoundTripper(server.tcpUrl!, true),
    'echo-tcp': await tcpRoundTripper(tcp.url, false),
  };
  try {
    const trips = await measureRoundTrips(clients, runs, perRun);
    if (server.host.stats.pongsOnFastPath < runs * perRun * 2) throw new Error('the Deno adapter did not answer every PING on the fast path');
    return trips;
  } finally {
    for (const client of Object.values(clients)) client.close();
    await Promise.all([server.close(), ws.close(), tcp.close()]);
  }
}

const [mode, ...args] = Deno.args;
try {
  if (mode === 'frames') {
    const [connections, runs, intervalsPerRun, ...rates] = args.map(Number);
    report({ type: 'frames', runtime: `Deno ${Deno.version.deno}`, rates: await measureFrameRates(connections!, rates, runs!, intervalsPerRun!) });
  } else if (mode === 'round-trip') {
    const [perRun, runs] = args.map(Number);
    report({ type: 'round-trip', runtime: `Deno ${Deno.version.deno}`, trips: await roundTrips(perRun!, runs!) });
  } else {
    throw new Error('usage: figures.ts frames CONNECTIONS RUNS INTERVALS_PER_RUN RATE... | round-trip PER_RUN RUNS');
  }
  Deno.exit(0);
} catch (error) {
  report({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  Deno.exit(1);
}
