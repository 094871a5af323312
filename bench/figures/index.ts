/**
 * Every figure of issue 11, one module each, run in this order by `bench/run.ts`, each in
 * its own process. A module exports a `Figure` whose `run` may spawn whatever runtime it
 * needs: figure 7 runs `wrangler dev` (workerd), figure 8 the `deno` binary.
 */
export interface FigureEntry {
  figure: number;
  name: string;
  file: string;
  /** Flags for the figure's own process (heap size for the big ones). */
  nodeFlags?: string[];
  /** Wall-clock limit for the figure, full and quick mode, in seconds. */
  timeout: { full: number; quick: number };
}

export const FIGURES: FigureEntry[] = [
  { figure: 1, name: 'idle scale', file: '1-idle-scale.ts', timeout: { full: 600, quick: 60 } },
  { figure: 2, name: 'timer cost', file: '2-timer-cost.ts', timeout: { full: 900, quick: 60 } },
  { figure: 3, name: 'frames through the host', file: '3-frames.ts', timeout: { full: 600, quick: 60 } },
  { figure: 4, name: 'statechart steps', file: '4-steps.ts', timeout: { full: 600, quick: 60 } },
  { figure: 5, name: 'round trip', file: '5-round-trip.ts', timeout: { full: 600, quick: 60 } },
  { figure: 6, name: 'many live sockets', file: '6-live-sockets.ts', timeout: { full: 900, quick: 90 } },
  { figure: 7, name: 'Durable Object wake-ups', file: '7-durable-object-wakes.ts', timeout: { full: 900, quick: 90 } },
  { figure: 8, name: 'Deno vs Node', file: '8-deno-vs-node.ts', timeout: { full: 600, quick: 60 } },
  { figure: 9, name: 'server cost per live connection', file: '9-server-cost.ts', timeout: { full: 600, quick: 60 } },
  { figure: 10, name: 'onMessage hook on the fast path', file: '10-on-message.ts', timeout: { full: 600, quick: 60 } },
  { figure: 11, name: 'one hub over four processes on Redis', file: '11-cluster.ts', timeout: { full: 900, quick: 180 } },
  { figure: 12, name: 'one hub over four Durable Objects', file: '12-shards.ts', timeout: { full: 900, quick: 90 } },
  { figure: 13, name: 'delivery mode (issue 34)', file: '13-delivery.ts', timeout: { full: 1200, quick: 120 } },
  { figure: 14, name: 'presence: cost of a join or leave per subscriber', file: '14-presence.ts', timeout: { full: 600, quick: 60 } },
];
