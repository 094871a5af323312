/**
 * A chart ready to put on the page, and the check that one drawn ahead of time (at build
 * time, for the Worker) still shows the machine it is served for.
 */
import type { AnyStateMachine } from 'xstate';
import { deriveChart } from './chart.ts';

export interface ChartDrawing {
  /** The machine's id. */
  id: string;
  /** The chart, from `renderChartSvg`. */
  svg: string;
  states: number;
  transitions: number;
}

/** A drawing made ahead of time, with what it was drawn from. */
export interface PregeneratedDrawing extends ChartDrawing {
  /** `chartSource` of the machine it was drawn from. */
  source: string;
}

/** What a drawing depends on: the chart as derived from the machine (microseconds, no layout). */
export function chartSource(machine: AnyStateMachine): string {
  return JSON.stringify(deriveChart(machine));
}

const checked = new WeakMap<PregeneratedDrawing, WeakSet<AnyStateMachine>>();

/**
 * `drawing` if it was drawn from `machine` as the machine is now; otherwise throws,
 * so a changed machine is never shown with an old picture.
 */
export function pregenerated(drawing: PregeneratedDrawing, machine: AnyStateMachine): ChartDrawing {
  let machines = checked.get(drawing);
  if (!machines?.has(machine)) {
    if (chartSource(machine) !== drawing.source) {
      throw new Error(`the pregenerated chart is stale: the machine "${machine.id}" changed since it was drawn (npm run build:inspector)`);
    }
    if (!machines) checked.set(drawing, (machines = new WeakSet()));
    machines.add(machine);
  }
  return drawing;
}
