/**
 * Clocks for in-process figures. On a shared machine wall time includes every moment
 * the scheduler gave our core to someone else; CPU time of this process (all its
 * threads, so GC helpers and the compiler count too) does not, so compute figures are
 * rated per CPU-second and report wall time beside it.
 */
export interface Elapsed {
  cpuMs: number;
  wallMs: number;
}

export function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Runs `fn` and returns how long it took by both clocks. */
export function timed(fn: () => void): Elapsed {
  const cpu0 = cpuMs();
  const wall0 = performance.now();
  fn();
  return { cpuMs: cpuMs() - cpu0, wallMs: performance.now() - wall0 };
}
