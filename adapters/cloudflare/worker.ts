/**
 * The Worker's routes: each request goes to the Durable Object of its hub. The object
 * serves the shared routes (runtime/hub/routes.ts) over its own host; the Worker only picks
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
 *
 * With `KEEPALIVE_SHARDS` > 1 a hub is that many objects (shards.ts): `/connect` picks the
 * shard, `/presence`, `/actors` and `/metrics` ask every shard and answer once, `/stats`
 * lists each shard's, and each shard has its own inspector page at `/inspect/<hub>/<shard>`.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { ERRORS, requireToken } from '../../runtime/hub/index.ts';
import { isSessionSecret, SESSION_PARAM } from '../../runtime/protocol/index.ts';
import { mergeExpositions, CONTENT_TYPE as METRICS_CONTENT_TYPE } from '../../runtime/metrics/index.ts';
import { refusal } from '../../runtime/application/index.ts';
import { hubConfig, type Env, type HubConfig } from './config.ts';
import { HUB_HEADER } from './hub.ts';
import { allShards, askShards, SHARD_HEADER, shardName, shardOfSession, ShardTurns } from './shards.ts';

export const DEFAULT_HUB = 'default';
/** Hub names become Durable Object names: short and plain, so a URL cannot mint odd ones. */
const HUB_NAME = /^[\w.-]{1,64}$/;

/** `config`: the vars, parsed once per request by `validConfig`. */
type App = { Bindings: Env; Variables: { config: HubConfig } };

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
    c.set('config', hubConfig(c.env));
  } catch (error) {
    return c.json({ error: error instanceof Error ? error.message : String(error) }, 500);
  }
  return next();
};

type HubRoute = '/connect' | '/actors' | '/presence' | '/stats' | '/metrics' | '/inspect' | '/inspect/events';

/** New connections without a session go to the shards in turn (per isolate, from a random start). */
const turns = new ShardTurns();

function hubOf(c: Context<App>): string | Response {
  const hub = c.req.param('hub') ?? DEFAULT_HUB;
  return HUB_NAME.test(hub) ? hub : c.json({ error: 'hub names are 1-64 letters, digits, "_", "-" or "."' }, 400);
}

/** Forwards the request to one shard of the hub, at `path`. A hub of one shard is asked exactly as before sharding. */
function toShard(c: Context<App>, hub: string, shard: number, path: string): Promise<Response> {
  const sharded = c.get('config').shards > 1;
  const url = new URL(c.req.url);
  url.pathname = path;
  const stub = c.env.KEEPALIVE_HUB.get(c.env.KEEPALIVE_HUB.idFromName(shardName(hub, shard)));
  const forwarded = new Request(url, c.req.raw);
  // The object learns its own name (and shard) from this: events and webhooks carry it.
  forwarded.headers.set(HUB_HEADER, hub);
  // Only ever ours: a client's own would name a shard the hub does not have.
  if (sharded) forwarded.headers.set(SHARD_HEADER, String(shard));
  else forwarded.headers.delete(SHARD_HEADER);
  return stub.fetch(forwarded);
}

/** The shard a `/connect` goes to: a session's own (found again from its secret), else the next in turn. */
async function connectShard(c: Context<App>, shards: number): Promise<number> {
  if (shards === 1) return 0;
  const secret = c.req.query(SESSION_PARAM);
  // A malformed secret goes anywhere: the shard refuses it as every hub does.
  return secret !== undefined && isSessionSecret(secret) ? shardOfSession(secret, shards) : turns.next(shards);
}

async function toHub(c: Context<App>, path: HubRoute): Promise<Response> {
  const hub = hubOf(c);
  if (typeof hub !== 'string') return hub;
  // Answered here as the hub would (runtime/hub/connect.ts), without waking its object.
  if (path === '/connect' && c.req.header('upgrade')?.toLowerCase() !== 'websocket') return refusal(426, ERRORS.upgrade);
  const shards = c.get('config').shards;
  if (path === '/connect') return toShard(c, hub, await connectShard(c, shards), path);
  if (shards === 1) {
    // The object serves the inspector at the public path (the default hub's as /inspect/default),
    // so the page names its own stream by where it was served.
    return toShard(c, hub, 0, path.startsWith('/inspect') ? path.replace('/inspect', `/inspect/${hub}`) : path);
  }
  const ask = (shard: number) => toShard(c, hub, shard, path);
  const every = allShards(shards);
  try {
    switch (path) {
      case '/presence':
      case '/actors':
        // Each shard's rows name it already (its `shard`).
        return c.json((await askShards<object[]>(every, ask)).flat());
      case '/stats':
        return c.json({ shards: (await askShards<object>(every, ask)).map((stats, shard) => ({ shard, ...stats })) });
      case '/metrics': {
        const texts = await askShards(every, ask, (response) => response.text());
        return c.body(mergeExpositions(texts.map((text, shard) => ({ labels: { shard: String(shard) }, text }))), 200, { 'content-type': METRICS_CONTENT_TYPE });
      }
      case '/inspect/events':
        return toShard(c, hub, 0, `/inspect/${hub}/0/events`);
      case '/inspect':
        // Each shard's page is its own (`/inspect/<hub>/<shard>`); the hub's page is shard 0's.
        return c.redirect(`/inspect/${hub}/0${new URL(c.req.url).search}`, 302);
    }
  } catch (error) {
    // One shard away (reset mid-deploy, overloaded): say which, rather than answer part of the hub.
    return c.json({ error: `hub "${hub}": ${error instanceof Error ? error.message : String(error)}` }, 502);
  }
}

/** One shard's inspector page or stream, in a sharded hub. */
async function toShardInspector(c: Context<App>, events: boolean): Promise<Response> {
  const hub = hubOf(c);
  if (typeof hub !== 'string') return hub;
  const shard = Number(c.req.param('shard'));
  const shards = c.get('config').shards;
  if (shards === 1 || !(shard < shards)) return c.json({ error: `hub "${hub}" has ${shards} shard${shards === 1 ? '' : 's'}` }, 404);
  return toShard(c, hub, shard, `/inspect/${hub}/${shard}${events ? '/events' : ''}`);
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
app.get('/inspect/:hub/:shard{[0-9]{1,2}}', tokenRequired, (c) => toShardInspector(c, false));
app.get('/inspect/:hub/:shard{[0-9]{1,2}}/events', tokenRequired, (c) => toShardInspector(c, true));

export default app;
