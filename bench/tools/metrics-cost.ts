/**
 * Issue 25's check on figure 9: the default Node server with and without `/metrics`, the
 * same live peers (10,000 WebSockets answering PINGs at a 1 s interval), in turn, `ROUNDS`
 * times. Prints CPU-µs per connection per interval and RSS per connection for each.
 *
 *   node bench/tools/metrics-cost.ts [SOCKETS] [SECONDS] [ROUNDS]
 */
import { live } from '../lib/live.ts';
import { median } from '../lib/stats.ts';

const [socketsArg, secondsArg, roundsArg] = process.argv.slice(2);
const sockets = Number(socketsArg ?? 10_000);
const seconds = Number(secondsArg ?? 30);
const rounds = Number(roundsArg ?? 2);
const INTERVAL = 1000;
const cpu: Record<'on' | 'off', number[]> = { on: [], off: [] };
for (let round = 0; round < rounds; round++) {
  for (const mode of round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
    process.env.BENCH_METRICS = mode;
    const run = await live({ kind: 'adapter', sockets, interval: INTERVAL, seconds, window: 10, clientProcesses: 2, log: () => {} });
    const perConnection = run.windows.map((w) => (w.cpuSeconds * 1e6) / w.connections / ((w.seconds * 1000) / INTERVAL));
    cpu[mode].push(...perConnection);
    console.log(`metrics ${mode}: ${median(perConnection).toFixed(1)} CPU-µs per connection per interval, ${run.deaths} deaths`);
  }
}
console.log(`median: on ${median(cpu.on).toFixed(1)}, off ${median(cpu.off).toFixed(1)}, ratio ${(median(cpu.on) / median(cpu.off)).toFixed(3)}`);
