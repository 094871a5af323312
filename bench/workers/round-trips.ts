/**
 * Figure 5's measurement loop, shared by figure 5 (Node) and figure 8 (Node and Deno):
 * one client per target, warmed up, then `runs` rounds of `perRun` sequential round trips
 * per target, the order rotating every round; p50 and p99 per run. Runtime-neutral: each
 * runtime brings its own servers and clients.
 */
import { interleave, percentile } from '../lib/stats.ts';

export interface RoundTripper {
  /** `count` sequential round trips; returns each one's time in microseconds. */
  run(count: number): Promise<number[]>;
  close(): void;
}

/** The adapter over WebSocket and libvirt-framed TCP, each beside a raw echo server on the same runtime. */
export const ROUND_TRIP_TARGETS = ['adapter-ws', 'echo-ws', 'adapter-tcp', 'echo-tcp'] as const;
export type RoundTripTarget = (typeof ROUND_TRIP_TARGETS)[number];

export interface RoundTrips {
  /** Per target, one p50 (and one p99) per run, in microseconds. */
  p50: Record<RoundTripTarget, number[]>;
  p99: Record<RoundTripTarget, number[]>;
}

export async function measureRoundTrips(clients: Record<RoundTripTarget, RoundTripper>, runs: number, perRun: number): Promise<RoundTrips> {
  for (const target of ROUND_TRIP_TARGETS) await clients[target].run(perRun); // warm-up
  const p50 = {} as Record<RoundTripTarget, number[]>;
  const p99 = {} as Record<RoundTripTarget, number[]>;
  await interleave(runs, ROUND_TRIP_TARGETS, async (target) => {
    const times = await clients[target].run(perRun);
    (p50[target] ??= []).push(percentile(times, 50));
    (p99[target] ??= []).push(percentile(times, 99));
    return 0;
  });
  return { p50, p99 };
}
