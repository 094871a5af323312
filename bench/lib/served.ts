/**
 * What figure 9's server process (bench/workers/live-server.ts) measures, under Node or
 * Deno: one server and the counters it reads.
 */
import process from 'node:process';
import type { PingWindow } from '../../runtime/host/host.ts';
import type { RunningServer, ServerOptions } from '../../runtime/server/server.ts';
import { WakeTimer } from '../../runtime/host/wake-timer.ts';

export interface Served {
  url: string;
  size(): number;
  /** Live peers the server gave up on: every death here is a false death. */
  deaths(): number;
  timersArmed(): number;
  steps(): number;
  stop(): Promise<void>;
}

/**
 * The default server (no hooks, no webhook, no onEvent) of either adapter, as figure 9
 * runs it; deaths counted by a lifecycle-only listener.
 */
export async function serveAdapter(start: (options: ServerOptions) => Promise<RunningServer>, interval: number): Promise<Served> {
  let deaths = 0;
  const lead = process.env.BENCH_PING_WINDOW;
  // BENCH_METRICS=off: the same server without /metrics (issue 25's cost check).
  const metrics = process.env.BENCH_METRICS !== 'off';
  const server = await start({ port: 0, tcpPort: 0, interval, count: 5, metrics, ...(lead ? { pingWindow: lead.startsWith('{') ? (JSON.parse(lead) as PingWindow) : Number(lead) } : {}) });
  server.host.subscribe((event) => void (event.type === 'dead' && deaths++), { frames: false });
  return { url: server.wsUrl, size: () => server.host.size, deaths: () => deaths, timersArmed: () => (server.timer instanceof WakeTimer ? server.timer.armedTotal : 0), steps: () => server.host.stats.steps, stop: () => server.close() };
}
