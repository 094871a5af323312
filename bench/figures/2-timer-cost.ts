/**
 * Figure 2, timer cost: the work of one `host.tick` with N = 10k, 100k and 1M connections
 * and 1% of them due, beside one sweep of the `ws` heartbeat recipe over the same N. The
 * host pops only what is due from its heap, so its tick grows with the due count; the
 * sweep visits every connection. Each N runs in its own process.
 */
import { benchFile } from '../lib/paths.ts';
import type { Figure, Measurement } from '../lib/result.ts';
import { spawnNode } from '../lib/spawn.ts';
import { measure, median } from '../lib/stats.ts';

interface TimerRun {
  type: string;
  n: number;
  onePercent: number;
  fixedDue: number;
  hostOnePercent: number[];
  hostFixed: number[];
  sweeps: number[];
  buildMs: number;
  heapMiB: number;
}

/** Host tick work may grow by log N (the heap) and cache misses, not by N. */
const MAX_GROWTH = 3;
const SWEEP = 'ws heartbeat sweep';
const fmt = (n: number) => n.toLocaleString('en');

const figure: Figure = {
  figure: 2,
  name: 'timer cost: tick work',
  async run({ quick, runs, log }) {
    const sizes = quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000];
    const measured: TimerRun[] = [];
    for (const n of sizes) {
      const child = spawnNode(benchFile('workers/timer-cost.ts'), [String(n), String(Math.max(runs, 9))], {
        nodeFlags: ['--max-old-space-size=8192'],
      });
      const run = await child.next<TimerRun>('timer', 900_000);
      await child.exited();
      log(`N=${fmt(n)}: built in ${run.buildMs.toFixed(0)} ms, heap ${run.heapMiB.toFixed(0)} MiB; tick ${median(run.hostOnePercent).toFixed(3)} ms (1% due), ${median(run.hostFixed).toFixed(3)} ms (100 due); sweep ${median(run.sweeps).toFixed(3)} ms`);
      measured.push(run);
    }
    const first = measured[0]!;
    const last = measured.at(-1)!;
    const parts: Measurement[] = [];
    for (const run of measured) {
      parts.push(
        measure({
          name: `tick, N=${fmt(run.n)}, 1% due (${fmt(run.onePercent)})`,
          unit: 'CPU ms',
          samples: run.hostOnePercent,
          baselineSamples: run.sweeps,
          baselineName: SWEEP,
        }),
      );
    }
    for (const run of measured) {
      parts.push(measure({ name: `tick, N=${fmt(run.n)}, ${run.fixedDue} due`, unit: 'CPU ms', samples: run.hostFixed, baselineSamples: run.sweeps, baselineName: SWEEP }));
    }
    // The claim itself: same due count, 100x the connections, about the same tick.
    const growth = (run: TimerRun, series: 'hostFixed' | 'sweeps') => median(run[series]) / median(first[series]);
    const growthPart = measure({
      name: `growth of a ${last.fixedDue}-due tick from N=${fmt(first.n)} to N=${fmt(last.n)}`,
      unit: 'x',
      samples: last.hostFixed.map((ms) => ms / median(first.hostFixed)),
      baselineSamples: last.sweeps.map((ms) => ms / median(first.sweeps)),
      baselineName: `${SWEEP} growth`,
      target: `<= ${MAX_GROWTH}x`,
      meets: (value) => value <= MAX_GROWTH,
    });
    const perDue = (run: TimerRun) => (median(run.hostOnePercent) / run.onePercent) * 1000;
    const perDueGrowth = perDue(last) / perDue(first);
    parts.push(growthPart);
    const headline = parts.find((p) => p.name.startsWith(`tick, N=${fmt(last.n)}, 1%`))!;
    return {
      ...headline,
      name: `timer cost: tick at N=${fmt(last.n)}, 1% due`,
      target: `grows with due, not N (<= ${MAX_GROWTH}x)`,
      met: growthPart.met === true && perDueGrowth <= MAX_GROWTH,
      scale: `N = ${sizes.map(fmt).join(', ')}; ${Math.max(runs, 9)} ticks per series, one process per N${quick ? ' (quick mode: N = 1,000,000 skipped)' : ''}`,
      parts,
      notes: [
        `Target: a tick with the same due count may grow at most ${MAX_GROWTH}x from the smallest to the largest N, and so may the cost per due connection at 1% due (the heap is log N). Host tick per due connection: ${perDue(first).toFixed(1)} us at N=${fmt(first.n)}, ${perDue(last).toFixed(1)} us at N=${fmt(last.n)} (${perDueGrowth.toFixed(2)}x); growth of the sweep for the same N: ${growth(last, 'sweeps').toFixed(0)}x.`,
        'Work is CPU time of the process (process.cpuUsage, all threads), median of the ticks.',
        'Each due connection is one statechart step (a PING sent, snapshot saved); the sweep only flips a flag per connection. Both hand their PING to the same no-op transport, so socket writes are not counted on either side.',
        'Per interval every idle connection is due once in both designs; the host spreads that work over many small ticks at each connection\'s own deadline instead of one sweep at a fixed phase.',
      ],
    };
  },
};
export default figure;
