/**
 * The inspector's routes, mountable by any adapter on the shared Hono app:
 *
 *   app.route('/', inspectorRoutes({ host, token }))
 *
 * - `GET /inspect`: the page (chart, connections, timeline).
 * - `GET /inspect/events`: the live stream the page follows (Server-Sent Events).
 *
 * With a token configured, both need it (`?token=` or `Authorization: Bearer`; the page
 * passes it on to its stream). The chart is laid out live with elkjs, once per machine
 * per process (Node, Deno); the Worker serves one drawn at build time (serve.ts).
 */
import type { Hono } from 'hono';
import type { AnyStateMachine } from 'xstate';
import { keepaliveMachine } from '../../actors/keepalive.ts';
import type { ChartDrawing } from './drawing.ts';
import { chartLayout } from './layout.ts';
import { serveInspector, type ServeInspectorOptions } from './serve.ts';
import { renderChartSvg } from './svg.ts';

export interface InspectorOptions extends Omit<ServeInspectorOptions, 'drawing'> {
  /** The machine to draw; default the keepalive statechart the host runs. */
  machine?: AnyStateMachine;
}

const drawings = new WeakMap<AnyStateMachine, Promise<ChartDrawing>>();

/** The chart of `machine` laid out and drawn, on first use, and kept. */
export function drawChart(machine: AnyStateMachine): Promise<ChartDrawing> {
  let drawn = drawings.get(machine);
  if (!drawn) {
    drawn = chartLayout(machine).then((layout) => ({
      svg: renderChartSvg(layout),
      states: layout.states.length,
      transitions: layout.chart.transitions.length,
      id: layout.chart.id,
    }));
    drawn.catch(() => drawings.delete(machine));
    drawings.set(machine, drawn);
  }
  return drawn;
}

export function inspectorRoutes(options: InspectorOptions): Hono {
  const machine = options.machine ?? keepaliveMachine;
  return serveInspector({ ...options, drawing: () => drawChart(machine) });
}
