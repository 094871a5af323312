/**
 * What loss a keepalive configuration tolerates, derived from the rule itself.
 *
 * One side PINGs (interval I, count C); the peer only answers. After each sign of life
 * the side PINGs every I of silence, and declares death when C PINGs in a row go
 * unanswered and one more I passes. Each PING is one independent try: it succeeds when
 * the PING and its PONG both get through, q = (1 - pOut)(1 - pBack), provided the round
 * trip is shorter than I (the C-th PONG must land inside the last interval). So:
 *
 *   P(a probe window ends in a false death)  = f^C,            f = 1 - q
 *   tries until C failures in a row           E = (1 - f^C) / (q f^C)
 *   of which successes (Wald)                 S = q E
 *   mean time to a false death                MTTFD = E I + S rtt + I
 *
 * (A failed try takes I, a successful one I + rtt, and the last window one more I.)
 * With count 0 a silent peer is dead after one interval whatever the loss.
 *
 * When both sides PING, each side also hears the other's PINGs, so each side's rate is
 * at most its one-sided rate and the connection's is at most their sum.
 */

export interface ProbeConfig {
  interval: number;
  count: number;
}

/** Probability that one PING/PONG round trip gets through. */
export function roundTrip(pOut: number, pBack = pOut): number {
  return (1 - pOut) * (1 - pBack);
}

/** Probability that a probe window (C tries) ends in a false death. */
export function windowDeath(config: ProbeConfig, pOut: number, pBack = pOut): number {
  return (1 - roundTrip(pOut, pBack)) ** config.count;
}

/** Mean simulated ms until a live peer is declared dead (Infinity without loss). */
export function meanTimeToFalseDeath(config: ProbeConfig, pOut: number, pBack = pOut, rtt = 0): number {
  const { interval, count } = config;
  if (count === 0) return interval;
  const q = roundTrip(pOut, pBack);
  const fc = (1 - q) ** count;
  if (fc === 0) return Infinity;
  if (q === 0) return interval * (count + 1);
  const tries = (1 - fc) / (q * fc);
  return tries * interval + q * tries * rtt + interval;
}

/** False deaths per connected hour. */
export function falseDeathsPerHour(config: ProbeConfig, loss: number, rtt = 0): number {
  return 3_600_000 / meanTimeToFalseDeath(config, loss, loss, rtt);
}

/**
 * The highest loss (same in both directions) at which a connection still lasts `mttfd`
 * ms on average before a false death: what the configuration tolerates for that target.
 */
export function toleratedLoss(config: ProbeConfig, mttfd: number, rtt = 0): number {
  if (config.count === 0) return 0;
  let low = 0;
  let high = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (low + high) / 2;
    if (meanTimeToFalseDeath(config, mid, mid, rtt) >= mttfd) low = mid;
    else high = mid;
  }
  return low;
}

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const YEAR = 365 * DAY;
