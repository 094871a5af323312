import type { Measurement } from './result.ts';

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile of unsorted values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface MeasureOptions {
  name: string;
  unit: string;
  samples: readonly number[];
  baselineSamples?: readonly number[];
  baselineName?: string;
  target?: string;
  /** Decides `met` from the medians; omit for a figure reported for context. */
  meets?: (value: number, ratio: number | null) => boolean;
}

/** Medians of both series, their ratio (value / baseline) and whether the target is met. */
export function measure(options: MeasureOptions): Measurement {
  const value = median(options.samples);
  const baseline = options.baselineSamples ? median(options.baselineSamples) : null;
  const ratio = baseline === null || baseline === 0 ? null : value / baseline;
  return {
    name: options.name,
    value,
    unit: options.unit,
    baseline,
    baselineName: options.baselineName ?? null,
    ratio,
    target: options.target ?? null,
    met: options.meets ? options.meets(value, ratio) : null,
    samples: [...options.samples],
    ...(options.baselineSamples ? { baselineSamples: [...options.baselineSamples] } : {}),
  };
}

/** Runs `fn` once per entry of `variants` per round, rotating the order so drift hits all alike. */
export async function interleave<K extends string>(
  rounds: number,
  variants: readonly K[],
  fn: (variant: K, round: number) => number | Promise<number>,
): Promise<Record<K, number[]>> {
  const out = Object.fromEntries(variants.map((v) => [v, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(i + round) % variants.length]!;
      out[variant].push(await fn(variant, round));
    }
  }
  return out;
}
