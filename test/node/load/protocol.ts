/**
 * What the load test's processes say to each other: commands as JSON lines on a child's
 * stdin, reports as JSON lines on its stdout.
 */

export type LoadCommand =
  /** Every `every` ms, hold the event loop for `ms` ms of CPU (0 stops). */
  | { cmd: 'burn'; ms: number; every: number }
  /**
   * Hold the event loop once, for `ms` ms: now, or with `afterPings` in the socket handler
   * of the first frame that arrives after a tick sent at least that many PINGs (so the
   * other PONGs to them arrive during the stall and wait in their sockets).
   */
  | { cmd: 'stall'; ms: number; afterPings?: number }
  | { cmd: 'reset' }
  | { cmd: 'report' }
  | { cmd: 'stop' };

export interface Summary {
  n: number;
  min: number;
  p50: number;
  max: number;
}

export interface ServerReport {
  type: 'report';
  connections: number;
  sockets: number;
  /** Peers the server declared dead since the last reset. */
  deaths: number;
  deathSilence: Summary;
  /** Connections that ended otherwise, by reason. */
  closes: Record<string, number>;
  rejected: number;
  pingsSent: number;
  pongsReceived: number;
  pingsReceived: number;
  maxUnanswered: number;
  /** Measured length of each deliberate stall, ms. */
  stalls: Summary;
  /** The event loop's delay as `monitorEventLoopDelay` saw it (10 ms resolution), ms. */
  loopDelayMs: { p50: number; p99: number; max: number };
  memoryMiB: number;
}

export interface PeersReport {
  type: 'report';
  /** Connections open and advertised now. */
  open: number;
  /** Servers this process's clients declared dead since the last reset. */
  deaths: number;
  deathSilence: Summary;
  /** Connections that ended otherwise, by reason. */
  closes: Record<string, number>;
  /** Connections opened again after one ended (reconnect mode). */
  reopened: number;
  failedOpens: number;
  pingsSent: number;
  pongsReceived: number;
  pingsReceived: number;
  loopDelayMs: { p50: number; p99: number; max: number };
  memoryMiB: number;
}

/** Holds the event loop with a busy loop for `ms`; returns how long it really held it. */
export function burn(ms: number): number {
  const start = performance.now();
  let spin = 0;
  while (performance.now() - start < ms) spin++;
  return Math.round(performance.now() - start);
}

export function summary(values: number[]): Summary {
  if (values.length === 0) return { n: 0, min: 0, p50: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, min: sorted[0]!, p50: sorted[Math.floor(sorted.length / 2)]!, max: sorted.at(-1)! };
}
