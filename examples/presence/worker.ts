/**
 * The presence example as a Worker (wrangler.toml beside this file, `KEEPALIVE_PRESENCE`
 * on): the package's routes (/connect/<hub>, and /presence/<hub> behind KEEPALIVE_TOKEN) in
 * front of a `KeepaliveHub` subclass with the example's one hook, plus the page at `/`. The
 * page's script is a static asset that wrangler's `[build]` bundles (bundle.ts).
 *
 * Outside this repository the imports are `keepalive-actors/cloudflare` and `keepalive-actors`.
 */
import routes, { KeepaliveHub, type Env } from '../../adapters/cloudflare/index.ts';
import type { Connection, PresenceState, PresenceVerdict } from '../../adapters/cloudflare/index.ts';
import { onPresence } from './hooks.ts';
import { pageHtml } from './html.ts';

const html = pageHtml({ connect: '/connect/{hub}' });

/** One hub per Durable Object (`?hub=NAME`); who is online, and what each said, is its presence. */
export class PresenceHub extends KeepaliveHub {
  override onPresence(conn: Connection, state: PresenceState): PresenceVerdict {
    return onPresence(conn, state);
  }
}

export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname === '/') return new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } });
    // /app.js never gets here: static assets are served before the Worker runs.
    return routes.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
