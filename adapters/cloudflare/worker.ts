/**
 * The Worker's routes: each request goes to the Durable Object of its hub. The object
 * serves the shared routes (runtime/app.ts) over its own host; the Worker only picks
 * the object and guards what must not be public.
 *
 *   GET /connect[/<hub>][?codec=libvirt]   WebSocket (text dialect; libvirt binary frames with ?codec=libvirt)
 *   GET /actors[/<hub>]                    the hub's connections      (needs KEEPALIVE_TOKEN)
 *   GET /presence[/<hub>]                  who is online: peer, state (needs KEEPALIVE_TOKEN)
 *   GET /stats[/<hub>]                     wake-ups and host counters (needs KEEPALIVE_TOKEN)
 *   GET /metrics/<hub>                     Prometheus metrics of one hub (needs KEEPALIVE_TOKEN)
 *   GET /inspect[/<hub>]                   the inspector page         (needs KEEPALIVE_TOKEN)
 *   GET /inspect/<hub>/events              its live stream            (needs KEEPALIVE_TOKEN)
 *   GET /healthz
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { ERRORS, refusal, requireToken } from '../../runtime/internal.ts';
import { hubConfig, type Env } from './config.ts';
import { HUB_HEADER } from './hub.ts';

export const DEFAULT_HUB = 'default';
/** Hub names become Durable Object names: short and plain, so a URL cannot mint odd ones. */
const HUB_NAME = /^[\w.-]{1,64}$/;

type App = { Bindings: Env };

/** Deployed, connection state is never public: without a configured token the route is refused. */
const tokenRequired: MiddlewareHandler<App> = async (c, next) => {
  const token = c.env.KEEPALIVE_TOKEN;
  if (token === undefined || token === '') {
    return c.json({ error: 'this route is off: set the KEEPALIVE_TOKEN secret to enable it' }, 403);
  }
  return requireToken(token)(c, next);
};

/** Bad vars answer with what is wrong instead of a bare 500 from the object's constructor. */
const validConfig: MiddlewareHandler<App> = async (c, next) => {
  try {
    hubConfig(c.env);
  } catch (error) {
    return c.json({ error: error instanceof Error ? error.message : String(error) }, 500);
  }
  return next();
};

type HubRoute = '/connect' | '/actors' | '/presence' | '/stats' | '/metrics' | '/inspect' | '/inspect/events';

function toHub(c: Context<App>, path: HubRoute): Response | Promise<Response> {
  const hub = c.req.param('hub') ?? DEFAULT_HUB;
  if (!HUB_NAME.test(hub)) return c.json({ error: 'hub names are 1-64 letters, digits, "_", "-" or "."' }, 400);
  // Answered here as the hub would (runtime/hub/connect.ts), without waking its object.
  if (path === '/connect' && c.req.header('upgrade')?.toLowerCase() !== 'websocket') return refusal(426, ERRORS.upgrade);
  const url = new URL(c.req.url);
  // The object serves the inspector at the public path (the default hub's as /inspect/default),
  // so the page names its own stream by where it was served.
  url.pathname = path.startsWith('/inspect') ? path.replace('/inspect', `/inspect/${hub}`) : path;
  const stub = c.env.KEEPALIVE_HUB.get(c.env.KEEPALIVE_HUB.idFromName(hub));
  const forwarded = new Request(url, c.req.raw);
  // The object learns its own name from this: events and webhooks carry it.
  forwarded.headers.set(HUB_HEADER, hub);
  return stub.fetch(forwarded);
}

const app = new Hono<App>();
app.get('/healthz', (c) => c.json({ ok: true, runtime: 'cloudflare-workers' }));
app.use(validConfig);
app.get('/connect', (c) => toHub(c, '/connect'));
app.get('/connect/:hub', (c) => toHub(c, '/connect'));
app.get('/actors', tokenRequired, (c) => toHub(c, '/actors'));
app.get('/actors/:hub', tokenRequired, (c) => toHub(c, '/actors'));
app.get('/presence', tokenRequired, (c) => toHub(c, '/presence'));
app.get('/presence/:hub', tokenRequired, (c) => toHub(c, '/presence'));
app.get('/stats', tokenRequired, (c) => toHub(c, '/stats'));
app.get('/metrics/:hub', tokenRequired, (c) => toHub(c, '/metrics'));
app.get('/stats/:hub', tokenRequired, (c) => toHub(c, '/stats'));
app.get('/inspect', tokenRequired, (c) => toHub(c, '/inspect'));
app.get('/inspect/:hub', tokenRequired, (c) => toHub(c, '/inspect'));
app.get('/inspect/:hub/events', tokenRequired, (c) => toHub(c, '/inspect/events'));

export default app;
