/**
 * Figure 8, Deno vs Node: figures 3 (frames through the host, one core) and 5 (round
 * trips over loopback WebSocket and libvirt-framed TCP) on both runtimes, side by side.
 * Each runtime runs the same shared measurement code in a fresh process of its own
 * (bench/workers/runtime-figures.ts on Node, bench/deno/figures.ts on the `deno` binary),
 * and each ratio is against that runtime's own baseline from the same process: the
 * hand-written host, and raw echo servers on that runtime's own socket APIs.
 */
import { spawnDeno } from '../lib/deno.ts';
import { benchFile } from '../lib/paths.ts';
import type { Figure, Measurement } from '../lib/result.ts';
import { spawnNode, type NodeChild } from '../lib/spawn.ts';
import { measure, median } from '../lib/stats.ts';
import type { FrameRates } from '../workers/frame-rates.ts';
import type { RoundTrips, RoundTripTarget } from '../workers/round-trips.ts';
import { frameRatePart, INTERVALS_PER_RUN } from './3-frames.ts';
import { NODE_LABELS, roundTripParts, type RoundTripLabels } from './5-round-trip.ts';

/** Figure 3's rates without 1,000: the fold-heavy low rate, the headline, the fast path alone. */
const RATES = [10, 100, Infinity];
const HEADLINE_RATE = 100;
const DENO_LABELS: RoundTripLabels = { adapter: 'the Deno adapter', wsEcho: 'raw Deno.upgradeWebSocket echo', tcpEcho: 'raw Deno.listen echo' };

type Runtime = 'node' | 'deno';

interface RuntimeResults {
  name: string;
  frames: FrameRates[];
  trips: RoundTrips;
}

function child(runtime: Runtime, args: string[]): NodeChild {
  return runtime === 'node' ? spawnNode(benchFile('workers/runtime-figures.ts'), args) : spawnDeno('deno/figures.ts', args);
}

async function measureOn(runtime: Runtime, quick: boolean, runs: number, log: (line: string) => void): Promise<RuntimeResults> {
  const connections = quick ? 1_000 : 10_000;
  const perRun = quick ? 1_000 : 5_000;
  const frames = child(runtime, ['frames', String(connections), String(runs), String(INTERVALS_PER_RUN), ...RATES.map(String)]);
  const f = await frames.next<{ type: string; runtime: string; rates: (FrameRates & { rate: number | null })[] }>('frames', 300_000);
  await frames.exited();
  // JSON has no Infinity: the fast-path rate comes back as null.
  const rates = f.rates.map((r) => ({ ...r, rate: r.rate ?? Infinity }));
  const m = (xs: number[]) => (median(xs) / 1e6).toFixed(2);
  for (const r of rates) log(`${f.runtime}: ${r.rate} frames/conn/interval: host ${m(r.host)} M/CPU-s, hand ${m(r.hand)} M/CPU-s`);
  const trip = child(runtime, ['round-trip', String(perRun), String(runs)]);
  const t = await trip.next<{ type: string; runtime: string; trips: RoundTrips }>('round-trip', 300_000);
  await trip.exited();
  const us = (xs: number[]) => median(xs).toFixed(1);
  log(`${t.runtime}: p50 ws ${us(t.trips.p50['adapter-ws'])} vs ${us(t.trips.p50['echo-ws'])} us, tcp ${us(t.trips.p50['adapter-tcp'])} vs ${us(t.trips.p50['echo-tcp'])} us`);
  return { name: f.runtime, frames: rates, trips: t.trips };
}

/** Deno's value beside Node's for the same row: context, no target. */
function across(name: string, unit: string, deno: number[], node: number[]): Measurement {
  return measure({ name: `Deno / Node: ${name}`, unit, samples: deno, baselineSamples: node, baselineName: 'the same on Node' });
}

const figure: Figure = {
  figure: 8,
  name: 'Deno vs Node',
  async run({ quick, runs, log }) {
    // One runtime after the other; within each, host and baseline interleave run by run.
    const node = await measureOn('node', quick, runs, log);
    const deno = await measureOn('deno', quick, runs, log);
    const rows = (r: RuntimeResults, labels: RoundTripLabels) => {
      const prefix = r === node ? 'Node, ' : 'Deno, ';
      return { frames: r.frames.map((f) => frameRatePart(f, prefix)), trips: roundTripParts(r.trips, labels) };
    };
    const n = rows(node, NODE_LABELS);
    const d = rows(deno, DENO_LABELS);
    const headlineIndex = RATES.indexOf(HEADLINE_RATE);
    // What figures 3 and 5 require, on each runtime: the headline frame rate and both p50 ratios.
    const targeted = [n.frames[headlineIndex]!, n.trips[0]!, n.trips[2]!, d.frames[headlineIndex]!, d.trips[0]!, d.trips[2]!];
    const hostRate = (i: number) => across(`host at ${RATES[i] === Infinity ? 'the fast path alone' : `${RATES[i]} frames/conn/interval`}`, 'frames/CPU-s', deno.frames[i]!.host, node.frames[i]!.host);
    const p50 = (name: string, target: RoundTripTarget) => across(`${name} p50`, 'us', deno.trips.p50[target], node.trips.p50[target]);
    const headline = hostRate(headlineIndex);
    return {
      ...headline,
      name: `Deno vs Node: frames through the host (${HEADLINE_RATE}/conn/interval), Deno / Node`,
      target: 'figure 3 and 5 targets on both runtimes',
      met: targeted.every((p) => p.met === true),
      scale: `figure 3: ${(quick ? 1_000 : 10_000).toLocaleString('en')} connections at 10 and 100 frames/conn/interval and the fast path alone; figure 5: ${(quick ? 1_000 : 5_000).toLocaleString('en')} round trips per run; ${runs} runs each, per runtime${quick ? ' (quick mode: figure 3 and 5 quick sizes)' : ''}`,
      parts: [
        ...n.frames,
        ...d.frames,
        ...n.trips,
        ...d.trips,
        ...RATES.map((_, i) => hostRate(i)),
        p50('WebSocket round trip through the adapter', 'adapter-ws'),
        p50('raw WebSocket echo round trip', 'echo-ws'),
        p50('TCP round trip through the adapter', 'adapter-tcp'),
        p50('raw TCP echo round trip', 'echo-tcp'),
      ],
      notes: [
        `${node.name} and ${deno.name}, each in its own process, the same measurement code (bench/workers/frame-rates.ts, round-trips.ts) and runtime/ on both.`,
        'Frames: per CPU-second of the process (process.cpuUsage on both), ratio against the hand-written host in the same process, as in figure 3.',
        'Round trips: client and servers in one process per runtime, each runtime with its own client (Node: ws and net, as figure 5; Deno: its WebSocket and Deno.connect) and its own raw echo servers; ratio against that echo, as in figure 5.',
        'Deno / Node rows: the same measurement on both runtimes (context, no target; above 1 means Deno is faster for rates, slower for round-trip times).',
      ],
    };
  },
};
export default figure;
