/**
 * The presence example as a Worker (wrangler.toml beside this file): the package's
 * routes (/connect/<hub>, and /presence/<hub> behind KEEPALIVE_TOKEN) in front of a
 * `KeepaliveHub` subclass with the example's hooks, plus the page at `/`. The page's
 * script is a static asset that wrangler's `[build]` bundles (bundle.ts).
 *
 * Outside this repository the imports are `keepalive-actors/cloudflare` and `keepalive-actors`.
 */
import routes, { KeepaliveHub, type Env } from '../../adapters/cloudflare/index.ts';
import type { AppData, CloseInfo, Connection } from '../../runtime/index.ts';
import { presenceHooks, type Roster } from './hooks.ts';
import { pageHtml } from './html.ts';

const ROSTER_KEY = 'presence:roster';
const html = pageHtml({ connect: '/connect/{hub}' });

/** One hub per Durable Object; the roster lives in its storage, so it outlives hibernation and eviction. */
export class PresenceHub extends KeepaliveHub {
  readonly #hooks = presenceHooks({
    load: () => this.ctx.storage.kv.get<Roster>(ROSTER_KEY),
    save: (roster) => this.ctx.storage.kv.put(ROSTER_KEY, roster),
  });

  override onOpen(conn: Connection): void {
    this.#hooks.onOpen(conn, this);
  }

  override onMessage(conn: Connection, data: AppData): void {
    this.#hooks.onMessage(conn, data, this);
  }

  override onClose(conn: Connection, info: CloseInfo): void {
    this.#hooks.onClose(conn, info, this);
  }
}

export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname === '/') return new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } });
    // /app.js never gets here: static assets are served before the Worker runs.
    return routes.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
