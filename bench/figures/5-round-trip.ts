/**
 * Figure 5, round trip: PING -> PONG over loopback through the Node adapter (WebSocket
 * via Hono + @hono/node-ws, and libvirt-framed TCP) beside raw echo servers on the same
 * libraries. Client and server share this one process and core, as in the issue's own
 * baseline measurement, so scheduling between processes does not swamp microseconds.
 */
import { startServer } from '../../adapters/node/server.ts';
import { tcpEcho, wsEcho } from '../baselines/echo-servers.ts';
import type { Figure, Measurement } from '../lib/result.ts';
import { interleave, measure, percentile } from '../lib/stats.ts';
import { tcpRoundTripper, wsRoundTripper, type RoundTripper } from '../workers/round-trip.ts';

const MAX_RATIO = 1.3;
const TARGETS = ['adapter-ws', 'echo-ws', 'adapter-tcp', 'echo-tcp'] as const;

const figure: Figure = {
  figure: 5,
  name: 'round trip',
  async run({ quick, runs, log }) {
    const perRun = quick ? 1_000 : 5_000;
    // Our interval far beyond the run, so the server never PINGs the client mid-measurement;
    // no flood limit, since back-to-back PINGs are the point here.
    const server = await startServer({ port: 0, tcpPort: 0, interval: 600_000, maxPingsPerInterval: 0 });
    const [ws, tcp] = await Promise.all([wsEcho(), tcpEcho()]);
    const clients: Record<(typeof TARGETS)[number], RoundTripper> = {
      'adapter-ws': await wsRoundTripper(server.wsUrl, true),
      'echo-ws': await wsRoundTripper(ws.url, false),
      'adapter-tcp': await tcpRoundTripper(server.tcpUrl, true),
      'echo-tcp': await tcpRoundTripper(tcp.url, false),
    };
    try {
      for (const target of TARGETS) await clients[target].run(perRun); // warm-up
      const p50: Record<string, number[]> = {};
      const p99: Record<string, number[]> = {};
      await interleave(runs, TARGETS, async (target) => {
        const times = await clients[target].run(perRun);
        (p50[target] ??= []).push(percentile(times, 50));
        (p99[target] ??= []).push(percentile(times, 99));
        return 0;
      });
      for (const target of TARGETS) log(`${target}: p50 ${p50[target]!.map((v) => v.toFixed(1)).join(', ')} us; p99 ${p99[target]!.map((v) => v.toFixed(0)).join(', ')} us`);
      if (server.host.stats.pongsOnFastPath < runs * perRun * 2) throw new Error('the adapter did not answer every PING on the fast path');
      const pair = (kind: 'ws' | 'tcp', name: string, p: Record<string, number[]>, target: boolean): Measurement =>
        measure({
          name,
          unit: 'us',
          samples: p[`adapter-${kind}`]!,
          baselineSamples: p[`echo-${kind}`]!,
          baselineName: kind === 'ws' ? 'raw ws echo server' : 'raw net echo server',
          ...(target ? { target: `ratio <= ${MAX_RATIO}`, meets: (_v: number, ratio: number | null) => ratio !== null && ratio <= MAX_RATIO } : {}),
        });
      const parts = [
        pair('ws', 'WebSocket through the Node adapter, p50', p50, true),
        pair('ws', 'WebSocket through the Node adapter, p99', p99, false),
        pair('tcp', 'TCP (libvirt framing) through the Node adapter, p50', p50, true),
        pair('tcp', 'TCP (libvirt framing) through the Node adapter, p99', p99, false),
      ];
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
          'The adapter answers each PING on the host fast path (no statechart step); the rest is Hono/@hono/node-ws or the TCP frame reader.',
        ],
      };
    } finally {
      for (const client of Object.values(clients)) client.close();
      await Promise.all([server.close(), ws.close(), tcp.close()]);
    }
  },
};
export default figure;
