/**
 * Figure 3's measurement, shared by figure 3 (Node, in its own process) and figure 8
 * (the same code under Node and under Deno): for each frame rate, the host and the
 * hand-written host driven by the same frames and virtual clock, runs interleaved.
 * Runtime-neutral: only `process.cpuUsage` (Node, and Deno's Node compatibility).
 */
import { interleave } from '../lib/stats.ts';
import { frameRig } from './frames.ts';

export interface FrameRates {
  /** Frames per connection per interval; Infinity: no deadline ever comes due. */
  rate: number;
  /** Frames per CPU-second, one per run. */
  host: number[];
  hand: number[];
  /** Frames per wall-clock second, one per run. */
  hostWall: number[];
  handWall: number[];
  /** Statechart steps per frame on the host over the measured runs. */
  stepsPerFrame: number;
}

export async function measureFrameRates(connections: number, rates: readonly number[], runs: number, intervalsPerRun: number): Promise<FrameRates[]> {
  const out: FrameRates[] = [];
  for (const rate of rates) {
    const rigs = { host: frameRig('host', connections, rate), hand: frameRig('hand', connections, rate) };
    const frames = connections * Math.min(rate, 1000) * intervalsPerRun;
    for (const rig of Object.values(rigs)) rig.run(frames); // warm-up: JIT and one full round of deadlines
    const stepsBefore = rigs.host.steps();
    const wall = { host: [] as number[], hand: [] as number[] };
    const cpu = await interleave(runs, ['host', 'hand'] as const, (kind) => {
      const { cpuMs, wallMs } = rigs[kind].run(frames);
      wall[kind].push(frames / (wallMs / 1000));
      return frames / (cpuMs / 1000);
    });
    out.push({ rate, host: cpu.host, hand: cpu.hand, hostWall: wall.host, handWall: wall.hand, stepsPerFrame: (rigs.host.steps() - stepsBefore) / (frames * runs) });
  }
  return out;
}
