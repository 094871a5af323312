/**
 * The inspector's routes, mountable by any adapter on the shared Hono app:
 *
 *   app.route('/', inspectorRoutes({ host, token }))
 *
 * - `GET /inspect`: the page (chart, connections, timeline).
 * - `GET /inspect/events`: the live stream the page follows (Server-Sent Events).
 *
 * With a token configured, both need it (`?token=` on the page's URL, which the page
 * passes on to its stream, or `Authorization: Bearer`).
 */
import { Hono } from 'hono';
import type { AnyStateMachine } from 'xstate';
import { keepaliveMachine } from '../../actors/keepalive.ts';
import { requireToken } from '../app.ts';
import type { Host } from '../host.ts';
import { hostEventStream, type EventStreamOptions } from './events.ts';
import { chartLayout } from './layout.ts';
import { contentSecurityPolicy, renderPage } from './page.ts';
import { renderChartSvg } from './svg.ts';

export interface InspectorOptions extends EventStreamOptions {
  host: Host;
  /** Required on every inspector route when set (a deployed Worker sets one). */
  token?: string;
  /** The machine to draw; default the keepalive statechart the host runs. */
  machine?: AnyStateMachine;
}

const svgCache = new WeakMap<AnyStateMachine, Promise<{ svg: string; states: number; transitions: number; id: string }>>();

function drawing(machine: AnyStateMachine) {
  let drawn = svgCache.get(machine);
  if (!drawn) {
    drawn = chartLayout(machine).then((layout) => ({
      svg: renderChartSvg(layout),
      states: layout.states.length,
      transitions: layout.chart.transitions.length,
      id: layout.chart.id,
    }));
    drawn.catch(() => svgCache.delete(machine));
    svgCache.set(machine, drawn);
  }
  return drawn;
}

export function inspectorRoutes(options: InspectorOptions): Hono {
  const machine = options.machine ?? keepaliveMachine;
  const app = new Hono();
  const guard = requireToken(options.token);

  app.get('/inspect', guard, async (c) => {
    const chart = await drawing(machine);
    const nonce = crypto.randomUUID().replace(/-/g, '');
    c.header('Content-Security-Policy', contentSecurityPolicy(nonce));
    c.header('Referrer-Policy', 'no-referrer');
    c.header('Cache-Control', 'no-store');
    return c.html(
      renderPage({
        svg: chart.svg,
        machineId: chart.id,
        states: chart.states,
        transitions: chart.transitions,
        events: `${c.req.path.replace(/\/$/, '')}/events`,
        nonce,
      }),
    );
  });

  app.get('/inspect/events', guard, (c) => hostEventStream(c, options.host, options));

  return app;
}
