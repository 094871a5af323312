/**
 * Figure 10, what an `onMessage` hook costs the fast path: figure 3's frames (PING, PONG,
 * application message in turn, on a virtual clock) through the host with the application
 * layer wired as a server wires it and a hook that does nothing, beside the same host
 * without one. Runs interleaved, rates per CPU-second. Target (issue 15): within 1.2x.
 */
import type { Figure, Measurement } from '../lib/result.ts';
import { interleave, measure, median } from '../lib/stats.ts';
import { frameRig } from '../workers/frames.ts';
import { INTERVALS_PER_RUN } from './3-frames.ts';

const MAX_SLOWDOWN = 1.2;
/** Issue 25: metrics may cost the fast path at most this much. */
const METRICS_SLOWDOWN = 1.1;
const RATES = [10, 100, 1000];

const figure: Figure = {
  figure: 10,
  name: 'onMessage hook on the fast path',
  async run({ quick, runs, log }) {
    const connections = quick ? 1_000 : 10_000;
    const parts: Measurement[] = [];
    for (const rate of RATES) {
      const rigs = { hooked: frameRig('hooked', connections, rate), host: frameRig('host', connections, rate) };
      const frames = connections * rate * INTERVALS_PER_RUN;
      for (const rig of Object.values(rigs)) rig.run(frames); // warm-up
      const cpu = await interleave(runs, ['hooked', 'host'] as const, (kind) => frames / (rigs[kind].run(frames).cpuMs / 1000));
      log(`${rate} frames/conn/interval: with hook ${(median(cpu.hooked) / 1e6).toFixed(2)} M/CPU-s, without ${(median(cpu.host) / 1e6).toFixed(2)} M/CPU-s`);
      parts.push(
        measure({
          name: `${rate} frames per connection per interval`,
          unit: 'frames/CPU-s',
          samples: cpu.hooked,
          baselineSamples: cpu.host,
          baselineName: 'the same host without a hook',
          target: `ratio >= ${(1 / MAX_SLOWDOWN).toFixed(2)} (within ${MAX_SLOWDOWN}x)`,
          meets: (_value, ratio) => ratio !== null && ratio >= 1 / MAX_SLOWDOWN,
        }),
      );
    }
    // Issue 25: what /metrics costs the same frames (a PONG's round trip observed per answered PING).
    for (const rate of [100, 1000]) {
      const rigs = { metered: frameRig('metered', connections, rate), host: frameRig('host', connections, rate) };
      const frames = connections * rate * INTERVALS_PER_RUN;
      for (const rig of Object.values(rigs)) rig.run(frames); // warm-up
      const cpu = await interleave(runs, ['metered', 'host'] as const, (kind) => frames / (rigs[kind].run(frames).cpuMs / 1000));
      log(`${rate} frames/conn/interval: with metrics ${(median(cpu.metered) / 1e6).toFixed(2)} M/CPU-s, without ${(median(cpu.host) / 1e6).toFixed(2)} M/CPU-s`);
      parts.push(
        measure({
          name: `${rate} frames per connection per interval, with /metrics wired`,
          unit: 'frames/CPU-s',
          samples: cpu.metered,
          baselineSamples: cpu.host,
          baselineName: 'the same host without metrics',
          target: `ratio >= ${(1 / METRICS_SLOWDOWN).toFixed(2)} (within ${METRICS_SLOWDOWN}x)`,
          meets: (_value, ratio) => ratio !== null && ratio >= 1 / METRICS_SLOWDOWN,
        }),
      );
    }
    const headline = parts[1]!;
    return {
      ...headline,
      name: 'frames through the host with an onMessage hook (100 frames/conn/interval)',
      scale: `${connections.toLocaleString('en')} connections, ${INTERVALS_PER_RUN} virtual intervals per run, ${runs} runs per rate${quick ? ' (quick mode)' : ''}`,
      parts,
      notes: [
        'One frame in three is an application message, so the hook runs for a third of the frames; PINGs and PONGs never reach it.',
        'ratio = with hook / without (1/1.2 = "within 1.2x"). Rates are per CPU-second of the process.',
      ],
    };
  },
};
export default figure;
