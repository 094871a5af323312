/**
 * The Deno runtime: the hub (runtime/hub/) on `Deno.serve`, WebSocket peers on
 * `Deno.upgradeWebSocket` (websocket.ts), libvirt-framed peers on `Deno.listen`. Two ways to keep time:
 *
 * - local (default): snapshots in memory, one process timer (`WakeTimer`) at the host's
 *   next deadline, exactly as on Node. Shutdown closes every connection.
 * - kv (serverless, Deno Deploy): pass `kv`. Snapshots and undelivered events live in Deno
 *   KV and the next deadline is a message in the KV queue (`QueueTimer`), so nothing
 *   depends on a timer inside a process that may be stopped. Startup resumes every stored
 *   connection; shutdown writes every snapshot and keeps them for the next process.
 */
import { SHUTDOWN_GRACE_MS, startHubServer, type DurableParts, type RunningServer, type ServerOptions as HubServerOptions } from '../../runtime/server/index.ts';
import { WakeTimer } from '../../runtime/host/index.ts';
import { KvEventStore } from './kv-events.ts';
import { KvSnapshotStore } from './kv-store.ts';
import { KvDeliveryStore } from './kv-deliveries.ts';
import { QueueTimer } from './queue-timer.ts';
import { listenTcp } from './tcp.ts';
import { OpenSockets } from './open-sockets.ts';
import { denoAcceptor } from './websocket.ts';

export interface ServerOptions extends HubServerOptions {
  /**
   * Serverless mode: snapshots and undelivered events in this Deno KV and wake-ups through
   * its queue (this server takes the KV's one queue listener). Absent: local mode.
   */
  kv?: Deno.Kv;
  /** Key prefix for snapshots in `kv`; one server per prefix. */
  kvPrefix?: Deno.KvKey;
  /** Key prefix for undelivered application events in `kv`. Default: `kvPrefix`'s first part, then `events`. */
  kvEventsPrefix?: Deno.KvKey;
}

export type { CloseOptions, RunningServer } from '../../runtime/server/index.ts';
export type { ClusterOptions } from '../../runtime/cluster/index.ts';

export async function startServer(options: ServerOptions = {}): Promise<RunningServer<WakeTimer | QueueTimer>> {
  const log = options.log ?? (() => {});
  const onError = (what: string) => (error: unknown) => log(`${what} error: ${String(error)}`);
  const kv = options.kv;
  const wsOpen = new OpenSockets();
  return startHubServer(options, {
    durable: kv ? kvState(kv, options, onError) : undefined,
    timer: (wake, timerError) =>
      kv ? new QueueTimer({ kv, wake, onError: onError('queue timer') }) : new WakeTimer({ wake, onError: timerError, ...(options.timers ? { timers: options.timers } : {}) }),
    accept: (parts) => denoAcceptor(parts, wsOpen),
    serve(app, hostname, port) {
      const http = Deno.serve({ hostname, port, onListen: () => {} }, app.fetch);
      let stopped = false;
      return Promise.resolve({
        port: http.addr.port,
        openSockets: () => wsOpen.size,
        // Deno.serve stops accepting only as it shuts down, after the goodbyes below.
        stop: () => void (stopped = true),
        async close() {
          // Let the close frames (with their reasons) finish their handshake before Deno's
          // own shutdown closes what is left with 1001; a frozen peer never answers.
          if (stopped) await within(wsOpen.empty(), SHUTDOWN_GRACE_MS);
          await within(http.shutdown(), SHUTDOWN_GRACE_MS);
        },
      });
    },
    listenTcp: (hostname, port, accept) => Promise.resolve(listenTcp({ hostname, port, accept, log })),
  });
}

function kvState(kv: Deno.Kv, options: ServerOptions, onError: (what: string) => (error: unknown) => void): DurableParts {
  const store = new KvSnapshotStore(kv, { ...(options.kvPrefix ? { prefix: options.kvPrefix } : {}), onError: onError('kv store') });
  const events = new KvEventStore(kv, { prefix: options.kvEventsPrefix ?? [options.kvPrefix?.[0] ?? 'keepalive', 'events'], onError: onError('kv events') });
  const deliveries = new KvDeliveryStore(kv, { prefix: [options.kvPrefix?.[0] ?? 'keepalive', 'deliveries'], onError: onError('kv deliveries') });
  return { store, events, deliveries, where: 'Deno KV', close: () => store.seal() };
}

/** Waits for `promise`, or `ms` at most. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
