/**
 * Figure 9's measurement alone, at a chosen size, for A/B work on the server's cost:
 *
 *   node bench/tools/server-cost.ts [SOCKETS] [SECONDS] [KINDS]     e.g. 10000 20 adapter,ws-recipe
 *
 * Prints CPU-us per connection per interval and KiB of RSS per connection (medians of the
 * windows), and the memory in each window, for each kind. With
 * BENCH_CPU_PROF=DIR the server processes write CPU profiles there.
 */
import { falseDeaths, live, type LiveKind } from '../lib/live.ts';
import { measure } from '../lib/stats.ts';

const sockets = Number(process.argv[2] ?? 10_000);
const seconds = Number(process.argv[3] ?? 20);
const kinds = (process.argv[4] ?? 'adapter,ws-recipe').split(',') as LiveKind[];
const INTERVAL = 1000;
for (const kind of kinds) {
  const run = await live({ kind, sockets, interval: INTERVAL, seconds, window: 5, clientProcesses: 2, log: () => {} });
  const rss = run.windows.map((w) => ((w.rssMiB - run.emptyRssMiB) * 1024) / w.connections);
  const cpu = run.windows.map((w) => (w.cpuSeconds * 1e6) / w.connections / ((w.seconds * 1000) / INTERVAL));
  const median = measure({ name: kind, unit: 'us', samples: cpu }).value;
  console.log(`${kind}: ${median?.toFixed(1)} CPU-us/conn/interval (windows ${cpu.map((v) => v.toFixed(1)).join(' ')}), false deaths ${falseDeaths(run, sockets)}, PINGs/conn/s ${run.pingsPerConnectionPerSecond.toFixed(2)}, CPU ${run.windows.map((w) => w.cpuPercent.toFixed(0)).join(' ')}%, loop p99 ${run.windows.map((w) => w.loopDelayP99Ms.toFixed(0)).join(' ')} ms, steps/conn/interval ${run.windows.map((w) => (w.steps / w.connections / ((w.seconds * 1000) / INTERVAL)).toFixed(2)).join(' ')}, timers/s ${run.windows.map((w) => (w.timersArmed / w.seconds).toFixed(0)).join(' ')}`);
  console.log(`${kind}: RSS ${measure({ name: kind, unit: 'KiB', samples: rss }).value?.toFixed(1)} KiB/conn above the empty process (windows ${rss.map((v) => v.toFixed(1)).join(' ')}); RSS/heapTotal/heapUsed/external MiB ${run.windows.map((w) => `${w.rssMiB.toFixed(0)}/${w.heapTotalMiB.toFixed(0)}/${w.heapMiB.toFixed(0)}/${w.externalMiB.toFixed(0)}`).join(' ')}`);
  const spaces = (w: (typeof run.windows)[number]) => Object.entries(w.spacesMiB).filter(([, mib]) => mib >= 1).map(([name, mib]) => `${name.replace('_space', '')} ${mib.toFixed(0)}`).join(', ');
  console.log(`${kind}: heap spaces MiB, first and last window: ${spaces(run.windows[0]!)} | ${spaces(run.windows.at(-1)!)}`);
}
