/**
 * Figure 3, frames through the host on one core: signs of life recorded and PINGs
 * answered on the fast path, with the folds and PINGs their deadlines cause, beside the
 * hand-written host (bench/baselines/hand-host.ts) driven by the same frames and clock.
 */
import type { Figure, Measurement } from '../lib/result.ts';
import { interleave, measure } from '../lib/stats.ts';
import { frameRig } from '../workers/frames.ts';

const TARGET_RATE = 2_000_000;
const MAX_SLOWDOWN = 3;
/** Frames per connection per keepalive interval; the headline is the middle one. */
const RATES = [10, 100, 1000];
const HEADLINE_RATE = 100;
/** Virtual keepalive intervals per measured run, so every connection folds the same number of times. */
const INTERVALS_PER_RUN = 2;

const figure: Figure = {
  figure: 3,
  name: 'frames through the host',
  async run({ quick, runs, log }) {
    const connections = quick ? 1_000 : 10_000;
    const parts: Measurement[] = [];
    for (const rate of RATES) {
      const rigs = { host: frameRig('host', connections, rate), hand: frameRig('hand', connections, rate) };
      const frames = connections * rate * INTERVALS_PER_RUN;
      for (const rig of Object.values(rigs)) rig.run(frames); // warm-up: JIT and one full round of deadlines
      const stepsBefore = rigs.host.steps();
      const rates = await interleave(runs, ['host', 'hand'] as const, (kind) => rigs[kind].run(frames));
      const stepsPerFrame = (rigs.host.steps() - stepsBefore) / (frames * runs);
      log(`${rate} frames/conn/interval: host ${(Math.min(...rates.host) / 1e6).toFixed(2)}-${(Math.max(...rates.host) / 1e6).toFixed(2)} M/s, hand ${(Math.min(...rates.hand) / 1e6).toFixed(2)}-${(Math.max(...rates.hand) / 1e6).toFixed(2)} M/s, ${stepsPerFrame.toFixed(4)} steps/frame`);
      parts.push(
        measure({
          name: `${rate} frames per connection per interval (${(stepsPerFrame * rate).toFixed(2)} steps/conn/interval)`,
          unit: 'frames/s',
          samples: rates.host,
          baselineSamples: rates.hand,
          baselineName: 'hand-written host',
          target: `>= 2M/s, ratio >= ${(1 / MAX_SLOWDOWN).toFixed(2)}`,
          meets: (value, ratio) => value >= TARGET_RATE && ratio !== null && ratio >= 1 / MAX_SLOWDOWN,
        }),
      );
    }
    const headline = parts[RATES.indexOf(HEADLINE_RATE)]!;
    return {
      ...headline,
      name: `frames through the host (${HEADLINE_RATE} frames/conn/interval)`,
      scale: `${connections.toLocaleString('en')} connections, ${INTERVALS_PER_RUN} virtual intervals per run, ${runs} runs per rate${quick ? ' (quick mode: 10x fewer connections than the full 10,000)' : ''}`,
      parts,
      notes: [
        'Frames rotate PING, PONG, application message per connection; each is a fresh string as a socket delivers it. ratio = host / hand-written (1/3 = "within 3x").',
        'Time is virtual: both hosts are ticked when their next deadline passes, so the fold (one statechart step per connection per interval) and its snapshot write are in the cost.',
      ],
    };
  },
};
export default figure;
