/**
 * Figure 3, frames through the host on one core: signs of life recorded and PINGs
 * answered on the fast path, with the folds and PINGs their deadlines cause, beside the
 * hand-written host (bench/baselines/hand-host.ts) driven by the same frames and clock.
 */
import type { Figure, Measurement } from '../lib/result.ts';
import { measure, median } from '../lib/stats.ts';
import { measureFrameRates, type FrameRates } from '../workers/frame-rates.ts';

export const TARGET_RATE = 2_000_000;
export const MAX_SLOWDOWN = 3;
/** Frames per connection per keepalive interval; the headline is the middle one. Infinity: no deadline ever comes due, the fast path alone. */
const RATES = [10, 100, 1000, Infinity];
const HEADLINE_RATE = 100;
/** Virtual keepalive intervals per measured run, so every connection folds the same number of times. */
export const INTERVALS_PER_RUN = 2;

/** One rate's row: host beside the hand-written host, per CPU-second (figure 8 uses it too). */
export function frameRatePart(r: FrameRates, runtime = ''): Measurement {
  return measure({
    name: `${runtime}${r.rate === Infinity ? 'fast path alone (no deadline comes due)' : `${r.rate} frames per connection per interval (${(r.stepsPerFrame * r.rate).toFixed(2)} steps/conn/interval)`}`,
    unit: 'frames/CPU-s',
    samples: r.host,
    baselineSamples: r.hand,
    baselineName: 'hand-written host',
    target: `>= 2M/s, ratio >= ${(1 / MAX_SLOWDOWN).toFixed(2)}`,
    meets: (value, ratio) => value >= TARGET_RATE && ratio !== null && ratio >= 1 / MAX_SLOWDOWN,
  });
}

const figure: Figure = {
  figure: 3,
  name: 'frames through the host',
  async run({ quick, runs, log }) {
    const connections = quick ? 1_000 : 10_000;
    const parts: Measurement[] = [];
    const wallNotes: string[] = [];
    for (const r of await measureFrameRates(connections, RATES, runs, INTERVALS_PER_RUN)) {
      const m = (xs: number[]) => (median(xs) / 1e6).toFixed(2);
      wallNotes.push(`${r.rate === Infinity ? 'Fast path alone' : `${r.rate} frames/conn/interval`} by wall clock: host ${m(r.hostWall)}M frames/s, hand-written ${m(r.handWall)}M frames/s.`);
      log(`${r.rate} frames/conn/interval: host ${m(r.host)} M/CPU-s (${m(r.hostWall)} M/wall-s), hand ${m(r.hand)} M/CPU-s (${m(r.handWall)} M/wall-s), ${r.stepsPerFrame.toFixed(4)} steps/frame`);
      parts.push(frameRatePart(r));
    }
    const headline = parts[RATES.indexOf(HEADLINE_RATE)]!;
    return {
      ...headline,
      name: `frames through the host (${HEADLINE_RATE} frames/conn/interval)`,
      scale: `${connections.toLocaleString('en')} connections, ${INTERVALS_PER_RUN} virtual intervals per run, ${runs} runs per rate${quick ? ' (quick mode: 10x fewer connections than the full 10,000)' : ''}`,
      parts,
      notes: [
        'Rates are frames per CPU-second of the process (process.cpuUsage, all threads): wall time on a shared machine counts other processes too. Wall-clock rates follow.',
        'Frames rotate PING, PONG, application message per connection; each is a fresh string as a socket delivers it. ratio = host / hand-written (1/3 = "within 3x").',
        ...wallNotes,
        'Time is virtual: both hosts are ticked when their next deadline passes, so the fold (one statechart step per connection per interval) and its snapshot write are in the cost.',
      ],
    };
  },
};
export default figure;
