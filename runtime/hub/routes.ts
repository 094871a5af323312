/**
 * The HTTP routes every hub serves, written once against web standards (Hono): the Node
 * and Deno servers and the Durable Object mount this same app.
 *
 *   GET /connect    a peer's WebSocket (admitted by `ConnectGate`; `?codec=libvirt`, `?session=`, `?peer=`)
 *   GET /actors     the connections as the host sees them      (private)
 *   GET /presence   who is online                              (private)
 *   GET /metrics    Prometheus text exposition                 (private; docs/operations.md)
 *   GET /healthz    503 until the listeners are up; a clustered hub's view of Redis
 *
 * Private routes need the token when one is set; without one they are open only where
 * the platform says so (a server bound to loopback), else 403.
 */
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import type { Host } from '../host/index.ts';
import { type Application, isResponse } from '../application/index.ts';
import type { ConnectGate, ConnectTicket } from './connect.ts';
import { CONTENT_TYPE } from '../metrics/index.ts';

/** Turns an admitted `/connect` request into the platform's socket and answers it (101). */
export type AcceptSocket = (c: Context, ticket: ConnectTicket) => Response | Promise<Response>;

export interface RoutesOptions {
  host: Host;
  application: Application;
  gate: ConnectGate;
  accept: AcceptSocket;
  /** `/healthz` answers 503 until this says the listeners are up. */
  ready?: () => boolean;
  /** When set, private routes need `Authorization: Bearer <token>` or `?token=`. */
  token?: string | undefined;
  /** Without a token, private routes answer 403 unless this is true (loopback). Default false. */
  openWithoutToken?: boolean;
  /** More routes: the inspector, a platform's own. */
  extend?: (app: Hono) => void;
  /** A clustered hub: its view of Redis (on `/healthz`). */
  cluster?: { status(): object } | undefined;
  /** The Prometheus exposition `/metrics` answers (private). */
  metrics?: (() => string) | undefined;
}

export function hubRoutes(options: RoutesOptions): Hono {
  const { host, application, gate, cluster } = options;
  const app = new Hono();

  app.get('/healthz', (c) => {
    const ready = options.ready?.() ?? true;
    // Redis away is news, not a reason to stop serving: this process still judges its own peers.
    return c.json({ ok: ready, connections: host.size, ...(cluster ? { cluster: cluster.status() } : {}) }, ready ? 200 : 503);
  });

  const guard = privateRoute(options.token, options.openWithoutToken ?? false);
  app.get('/actors', guard, (c) => {
    // A hub spread over processes or shards: each row names this part's place.
    const here = application.here;
    return c.json(here ? host.list().map((view) => ({ ...view, ...here })) : host.list());
  });
  app.get('/presence', guard, (c) => c.json(application.presence()));
  const metrics = options.metrics;
  if (metrics) app.get('/metrics', guard, (c) => c.body(metrics(), 200, { 'content-type': CONTENT_TYPE }));

  app.get('/connect', async (c) => {
    const ticket = await gate.admit(c.req.raw);
    if (isResponse(ticket)) return ticket;
    return options.accept(c, ticket);
  });

  options.extend?.(app);
  return app;
}

/** Lets a request through only with the configured token; no token configured, no check. */
export function requireToken(token: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (token === undefined || token === '') return next();
    const presented = c.req.header('authorization')?.replace(/^Bearer\s+/i, '') ?? c.req.query('token') ?? '';
    if (!sameSecret(presented, token)) return c.json({ error: 'a valid token is required' }, 401);
    return next();
  };
}

/** With a token, only with it; without one, open only where the platform said so, else 403. */
export function privateRoute(token: string | undefined, openWithoutToken: boolean): MiddlewareHandler {
  const withToken = requireToken(token);
  return async (c, next) => {
    if ((token === undefined || token === '') && !openWithoutToken) {
      return c.json({ error: 'this route is off: set a token (--token, KEEPALIVE_TOKEN) to enable it' }, 403);
    }
    return withToken(c, next);
  };
}

/** Compares in time independent of where the strings differ, so the token cannot be guessed byte by byte. */
function sameSecret(presented: string, expected: string): boolean {
  const a = new TextEncoder().encode(presented);
  const b = new TextEncoder().encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i % Math.max(a.length, 1)] ?? 0) ^ b[i]!;
  return diff === 0;
}

/** Loopback only, or a token: an inspector on an open interface would show every peer to anyone. */
export function inspectorByDefault(bind: string, token: string | undefined): boolean {
  if (token) return true;
  return isLoopback(bind);
}

export function isLoopback(bind: string): boolean {
  return bind === 'localhost' || bind === '::1' || bind === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(bind);
}
