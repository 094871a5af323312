/**
 * The shape of `bench/results.json`: one entry per figure, each a headline measurement
 * beside its same-run baseline, with the parts it was computed from.
 */

/** One measured quantity. `ratio` is always value / baseline; `target` says which way is good. */
export interface Measurement {
  name: string;
  value: number | null;
  unit: string;
  baseline: number | null;
  /** What the baseline is, e.g. "hand-written host". */
  baselineName: string | null;
  ratio: number | null;
  target: string | null;
  /** null: nothing to meet (a figure reported for context). */
  met: boolean | null;
  /** Every run's value; `value` is their median. */
  samples?: number[];
  baselineSamples?: number[];
}

export interface FigureResult extends Measurement {
  figure: number;
  /** Sizes and run counts actually used; quick mode says so here. */
  scale: string;
  parts: Measurement[];
  notes: string[];
  /** Set when the figure crashed or timed out; its numbers are then null. */
  error?: string;
  seconds: number;
}

export interface Results {
  mode: 'full' | 'quick';
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  figures: FigureResult[];
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  platform: string;
  node: string;
  xstate: string;
  ws: string;
  fdLimit: number | null;
  /** 1-minute load average when each figure started: other work on the machine. */
  loadAverage: number[];
}

export interface FigureContext {
  quick: boolean;
  /** Runs per measurement (median taken); at least 5. */
  runs: number;
  log(line: string): void;
}

/** What a figure module exports as default. */
export interface Figure {
  figure: number;
  name: string;
  run(context: FigureContext): Promise<Omit<FigureResult, 'seconds' | 'figure'>>;
}
