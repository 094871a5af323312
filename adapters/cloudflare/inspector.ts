/**
 * The inspector on a deployed Worker: each hub's page at `/inspect/<hub>`, served by
 * that hub's Durable Object over its own host (the Worker only picks the object and
 * checks the token, worker.ts).
 *
 * - The chart was laid out at build time (drawing.generated.ts): elkjs stays out of the
 *   bundle and a page costs no layout CPU time. A machine changed without
 *   `npm run build:inspector` gets a 500 saying so, never an old picture.
 * - An open page's stream is a request in flight: the object stays in memory (no
 *   hibernation, billed for duration) and steps every frame until the page goes away.
 *   Meanwhile the platform's auto-response is off, so the peers' PINGs reach the host and
 *   show on the timeline; the last page leaving turns it back on.
 */
import type { Hono } from 'hono';
import { keepaliveMachine } from '../../actors/keepalive.ts';
import type { Host, HostEvent } from '../../runtime/host/index.ts';
import { KEEPALIVE_DRAWING, pregenerated, serveInspector } from '../../runtime/inspector/index.ts';

/** The object serves the page at the path the browser asked for, so the page's stream URL is right. */
export const INSPECT_PATH = '/inspect/:hub';
/** A sharded hub's pages: one per shard (`/inspect/<hub>/<shard>`). */
export const SHARD_INSPECT_PATH = '/inspect/:hub/:shard';

export interface HubInspectorOptions {
  host: Host;
  token: string | undefined;
  /** Called with true when the first page starts watching, false when the last one leaves. */
  onWatching: (watching: boolean) => void;
  /** The hub's shards: more than one, and the page is served per shard, linking the others. */
  shards: number;
}

export interface HubInspector {
  routes: Hono;
  /** Pages watching right now. */
  readonly watchers: number;
}

export function hubInspector(options: HubInspectorOptions): HubInspector {
  let watchers = 0;
  const watch = (listener: (event: HostEvent) => void): (() => void) => {
    if (watchers++ === 0) options.onWatching(true);
    const stop = options.host.watch(listener);
    let watching = true;
    return () => {
      if (!watching) return;
      watching = false;
      stop();
      if (--watchers === 0) options.onWatching(false);
    };
  };
  const routes = serveInspector({
    host: options.host,
    ...(options.token ? { token: options.token } : {}),
    path: options.shards > 1 ? SHARD_INSPECT_PATH : INSPECT_PATH,
    ...(options.shards > 1 ? { shards: options.shards } : {}),
    drawing: () => pregenerated(KEEPALIVE_DRAWING, keepaliveMachine),
    // Looked up per call: Workers advance Date.now() only across I/O, and tests move it.
    now: () => Date.now(),
    // A page that left without the platform cancelling its stream (seen in wrangler dev) is
    // found by the second write after it left: one every 5 s bounds that billed time to ~10 s
    // (~30 s with the default 15 s, measured), for a few bytes per write.
    heartbeatMs: 5_000,
    watch,
  });
  return {
    routes,
    get watchers() {
      return watchers;
    },
  };
}
