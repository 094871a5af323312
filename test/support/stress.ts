/**
 * `npm test` runs the quick variant of every reliability test; `npm run test:stress` sets
 * KEEPALIVE_STRESS=1 and the same tests run longer simulations over more seeds.
 */
export const STRESS = process.env.KEEPALIVE_STRESS === '1';

export function quickOr<T>(quick: T, stress: T): T {
  return STRESS ? stress : quick;
}

/** Generous per-test timeout for the long variants (ms). */
export const STRESS_TIMEOUT = STRESS ? 30 * 60_000 : 30_000;
