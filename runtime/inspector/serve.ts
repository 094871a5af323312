/**
 * The inspector's routes around a chart drawn by someone else: the page and its live
 * stream, with no layout engine in reach. `inspectorRoutes` (routes.ts) draws the chart
 * live with elkjs; the Worker serves one drawn at build time (drawing.generated.ts), so
 * elkjs never enters its bundle nor its requests' CPU time.
 *
 *   GET <path>          the page (chart, connections, timeline)
 *   GET <path>/events   the live stream the page follows (Server-Sent Events)
 *
 * `path` may hold route parameters (`/inspect/:hub`): the page names its stream by the
 * path it was served at, so a stream always belongs to the page's own hub.
 */
import { Hono } from 'hono';
import { requireToken } from '../hub/index.ts';
import type { Host } from '../host/index.ts';
import type { ChartDrawing } from './drawing.ts';
import { hostEventStream, type EventStreamOptions } from './events.ts';
import { contentSecurityPolicy, renderPage } from './page.ts';

export interface ServeInspectorOptions extends EventStreamOptions {
  host: Host;
  /**
   * Required on every inspector route when set (`Authorization: Bearer` or `?token=`).
   * The page hands it to its own stream, the one request EventSource cannot add a header to.
   */
  token?: string;
  /** Where the page is served; default `/inspect`. */
  path?: string;
  /** The chart to show; called per page request, so cache inside. */
  drawing: () => ChartDrawing | Promise<ChartDrawing>;
  /** In a hub over many processes: this process's name, shown on the page. */
  node?: string | undefined;
  /** In a hub over many Durable Objects: how many; `path` then ends in `/:shard` and the page links each shard's. */
  shards?: number | undefined;
}

export function serveInspector(options: ServeInspectorOptions): Hono {
  const path = options.path ?? '/inspect';
  const app = new Hono();
  const guard = requireToken(options.token);

  app.get(path, guard, async (c) => {
    let chart: ChartDrawing;
    try {
      chart = await options.drawing();
    } catch (error) {
      return c.json({ error: `the chart could not be drawn: ${error instanceof Error ? error.message : String(error)}` }, 500);
    }
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
        events: streamUrl(c.req.path, options.token),
        nonce,
        node: options.node,
        shards: options.shards === undefined ? undefined : shardLinks(Number(c.req.param('shard')), options.shards, options.token),
      }),
    );
  });

  app.get(`${path}/events`, guard, (c) => hostEventStream(c, options.host, options));

  return app;
}

/** Sibling pages, relative to this one (`…/<hub>/<shard>`), with the token as the stream gets it. */
function shardLinks(current: number, shards: number, token: string | undefined): { current: number; links: string[] } {
  const query = token ? `?${new URLSearchParams({ token })}` : '';
  return { current, links: Array.from({ length: shards }, (_, shard) => `${shard}${query}`) };
}

/**
 * The page's stream, under the path the page was served at. The configured token goes
 * along however the page was authorised (header or query): it is the only outbound URL
 * that carries it, and the page sends no referrer.
 */
function streamUrl(pagePath: string, token: string | undefined): string {
  const url = `${pagePath.replace(/\/$/, '')}/events`;
  return token ? `${url}?${new URLSearchParams({ token })}` : url;
}
