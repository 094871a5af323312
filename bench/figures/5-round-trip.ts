/**
 * Figure 5, round trip: PING -> PONG over loopback through the Node adapter (WebSocket
 * straight on `ws`, adapters/node/upgrade.ts, and libvirt-framed TCP) beside raw echo servers on the same
 * libraries. Client and server share this one process and core, as in the issue's own
 * baseline measurement, so scheduling between processes does not swamp microseconds.
 */
import { startServer } from '../../adapters/node/server.ts';
import { tcpEcho, wsEcho } from '../baselines/echo-servers.ts';
import type { Figure, Measurement } from '../lib/result.ts';
import { measure } from '../lib/stats.ts';
import { tcpRoundTripper, wsRoundTripper } from '../workers/round-trip.ts';
import { measureRoundTrips, ROUND_TRIP_TARGETS, type RoundTripper, type RoundTripTarget, type RoundTrips } from '../workers/round-trips.ts';

export const MAX_RATIO = 1.3;

export interface RoundTripLabels {
  adapter: string;
  wsEcho: string;
  tcpEcho: string;
}

export const NODE_LABELS: RoundTripLabels = { adapter: 'the Node adapter', wsEcho: 'raw ws echo server', tcpEcho: 'raw net echo server' };

/** The four rows of figure 5; figure 8 builds them for each runtime. */
export function roundTripParts({ p50, p99 }: RoundTrips, labels: RoundTripLabels = NODE_LABELS): Measurement[] {
  const runtime = labels.adapter;
  const pair = (kind: 'ws' | 'tcp', name: string, p: RoundTrips['p50'], target: boolean): Measurement =>
    measure({
      name,
      unit: 'us',
      samples: p[`adapter-${kind}`],
      baselineSamples: p[`echo-${kind}`],
      baselineName: kind === 'ws' ? labels.wsEcho : labels.tcpEcho,
      ...(target ? { target: `ratio <= ${MAX_RATIO}`, meets: (_v: number, ratio: number | null) => ratio !== null && ratio <= MAX_RATIO } : {}),
    });
  return [
    pair('ws', `WebSocket through ${runtime}, p50`, p50, true),
    pair('ws', `WebSocket through ${runtime}, p99`, p99, false),
    pair('tcp', `TCP (libvirt framing) through ${runtime}, p50`, p50, true),
    pair('tcp', `TCP (libvirt framing) through ${runtime}, p99`, p99, false),
  ];
}

const figure: Figure = {
  figure: 5,
  name: 'round trip',
  async run({ quick, runs, log }) {
    const perRun = quick ? 1_000 : 5_000;
    // Our interval far beyond the run, so the server never PINGs the client mid-measurement;
    // no flood limit, since back-to-back PINGs are the point here.
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
      for (const target of ROUND_TRIP_TARGETS) log(`${target}: p50 ${trips.p50[target].map((v) => v.toFixed(1)).join(', ')} us; p99 ${trips.p99[target].map((v) => v.toFixed(0)).join(', ')} us`);
      if (server.host.stats.pongsOnFastPath < runs * perRun * 2) throw new Error('the adapter did not answer every PING on the fast path');
      const parts = roundTripParts(trips);
      const headline = parts[0]!;
      return {
        ...headline,
        name: 'round trip PING -> PONG, WebSocket p50',
        met: parts[0]!.met === true && parts[2]!.met === true,
        target: `p50 ratio <= ${MAX_RATIO} on WebSocket and TCP`,
        scale: `${perRun.toLocaleString('en')} sequential round trips per run, ${runs} runs per target, one connection each${quick ? ' (quick mode: 5x fewer round trips than the full 5,000)' : ''}`,
        parts,
        notes: [
          'Client and server in one process (one core), loopback; p50/p99 are per run, then the median over runs.',
          'The adapter answers each PING on the host fast path (no statechart step); the rest is the WebSocket upgrade and frames on `ws`, or the TCP frame reader.',
        ],
      };
    } finally {
      for (const client of Object.values(clients)) client.close();
      await Promise.all([server.close(), ws.close(), tcp.close()]);
    }
  },
};
export default figure;
