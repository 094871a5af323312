/**
 * The shape of `bench/results.json`: one entry per figure, each a headline measurement
 * beside its same-run baseline, with the parts it was computed from. A run writes only the
 * figures it ran (`--only`), so the file gathers every figure from the runs that last
 * measured each (`mergeResults`), and each figure says when it ran.
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
  /**
   * When the figure's run started (ISO time). Figures recorded before runs were merged
   * (7 December) have the day of the commit that recorded them (YYYY-MM-DD).
   */
  ranAt: string;
  /** Wall-clock seconds the figure took; null where that was not recorded. */
  seconds: number | null;
}

/** `mode`, `startedAt`, `finishedAt` and `machine` are the latest run's; each figure says when it ran (`ranAt`). */
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
  run(context: FigureContext): Promise<Omit<FigureResult, 'seconds' | 'figure' | 'ranAt'>>;
}

/**
 * `previous` (what results.json held) with `run`'s figures in place of the same-numbered
 * ones, in figure order: a run of some figures keeps every other figure's last result. A
 * figure that failed in `run` keeps its previous result (the run reports the failure).
 */
export function mergeResults(previous: Results | undefined, run: Results): Results {
  const figures = new Map((previous?.figures ?? []).map((figure) => [figure.figure, figure]));
  for (const figure of run.figures) if (!figure.error || !figures.has(figure.figure)) figures.set(figure.figure, figure);
  return { ...run, figures: [...figures.values()].sort((a, b) => a.figure - b.figure) };
}
