/**
 * bench/results.json gathers every figure: a run merges the figures it measured into it
 * (`npm run bench -- --only 11` must not drop figures 1-10 and 12, as a rewrite once did).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FIGURES } from '../../bench/figures/index.ts';
import { type FigureResult, mergeResults, type Results } from '../../bench/lib/result.ts';

const figure = (n: number, value: number, ranAt: string, error?: string): FigureResult => ({
  figure: n,
  name: `figure ${n}`,
  value,
  unit: 'ms',
  baseline: null,
  baselineName: null,
  ratio: null,
  target: null,
  met: null,
  scale: 'full',
  parts: [],
  notes: [],
  ...(error ? { error } : {}),
  ranAt,
  seconds: 1,
});

const run = (startedAt: string, figures: FigureResult[]): Results => ({
  mode: 'full',
  startedAt,
  finishedAt: startedAt,
  machine: { cpus: 2, cpuModel: 'test', memoryGiB: 8, platform: 'linux', node: 'v24', xstate: '5', ws: '8', fdLimit: null, loadAverage: [] },
  figures,
});

describe('bench results', () => {
  it("a run's figures replace the same-numbered ones and every other figure stays, in figure order", () => {
    const before = run('2026-12-01T00:00:00Z', [figure(1, 10, '2026-12-01'), figure(2, 20, '2026-12-01'), figure(11, 110, '2026-12-01')]);
    const after = mergeResults(before, run('2026-12-07T00:00:00Z', [figure(3, 31, '2026-12-07T01:00:00Z'), figure(2, 21, '2026-12-07T00:00:00Z')]));
    expect(after.figures.map((f) => [f.figure, f.value, f.ranAt])).toEqual([
      [1, 10, '2026-12-01'],
      [2, 21, '2026-12-07T00:00:00Z'],
      [3, 31, '2026-12-07T01:00:00Z'],
      [11, 110, '2026-12-01'],
    ]);
    // The file's run fields are the latest run's.
    expect(after.startedAt).toBe('2026-12-07T00:00:00Z');
    // Into an empty or missing file: just the run.
    expect(mergeResults(undefined, run('x', [figure(5, 5, 'x')])).figures.map((f) => f.figure)).toEqual([5]);
  });

  it('a figure that failed keeps its previous result; a failure with nothing before it is recorded', () => {
    const before = run('a', [figure(11, 110, '2026-12-05')]);
    const after = mergeResults(before, run('b', [figure(11, Number.NaN, 'b', 'timed out'), figure(12, Number.NaN, 'b', 'timed out')]));
    expect(after.figures.map((f) => [f.figure, f.error])).toEqual([
      [11, undefined],
      [12, 'timed out'],
    ]);
  });

  it('bench/results.json holds every figure of bench/figures/index.ts at once, each with the time it ran', () => {
    const results = JSON.parse(readFileSync(new URL('../../bench/results.json', import.meta.url), 'utf8')) as Results;
    expect(results.figures.map((f) => f.figure)).toEqual(FIGURES.map((f) => f.figure));
    for (const f of results.figures) {
      expect(f.error, `figure ${f.figure}`).toBeUndefined();
      expect(f.ranAt, `figure ${f.figure}`).toMatch(/^\d{4}-\d{2}-\d{2}/);
      expect(f.parts.length, `figure ${f.figure}`).toBeGreaterThan(0);
    }
  });
});
