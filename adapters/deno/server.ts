/**
 * The Deno runtime: the shared Hono app on `Deno.serve` (WebSocket peers at /connect via
 * Hono's Deno helper) plus a TCP listener speaking libvirt frames (`Deno.listen`), every
 * connection an actor in one Host. Two ways to keep time:
 *
 * - local (default): snapshots in memory, one process timer (`WakeTimer`) at the host's
 *   next deadline, exactly as on Node. Shutdown closes every connection.
 * - kv (serverless, Deno Deploy): pass `kv`. Snapshots live in Deno KV and the next
 *   deadline is a message in the KV queue (`QueueTimer`), so nothing depends on a timer
 *   inside a process that may be stopped. Startup resumes every stored connection;
 *   shutdown writes every snapshot and keeps them for the next process.
 */
import type { Hono } from 'hono';
import {
  DEFAULT_SERVER,
  Host,
  MemorySnapshotStore,
  SocketRegistry,
  WakeTimer,
  type ConnectionId,
  type SnapshotStore,
  serverApp,
  serverHostWithApplication,
  type Application,
  type ServerSettingsOptions,
} from '../../runtime/index.ts';
import { KvEventStore } from './kv-events.ts';
import { KvSnapshotStore } from './kv-store.ts';
import { QueueTimer } from './queue-timer.ts';
import { listenTcp, type TcpListener } from './tcp.ts';
import { OpenSockets, trackedUpgradeWebSocket } from './websocket.ts';

export interface ServerOptions extends ServerSettingsOptions {
  /** libvirt-framed TCP port. Default 8788; 0 picks a free one; null: no TCP (Deno Deploy). */
  tcpPort?: number | null;
  /**
   * Serverless mode: snapshots in this Deno KV and wake-ups through its queue (this
   * server takes the KV's one queue listener). Absent: local mode.
   */
  kv?: Deno.Kv;
  /** Key prefix for snapshots in `kv`; one server per prefix. */
  kvPrefix?: Deno.KvKey;
  /** Key prefix for undelivered application events in `kv`. Default: `kvPrefix`'s first part, then `events`. */
  kvEventsPrefix?: Deno.KvKey;
}

export type TimerMode = 'local' | 'kv';

export interface RunningServer {
  /** http://host:port */
  url: string;
  /** ws://host:port/connect */
  wsUrl: string;
  /** tcp://host:tcpPort, or null without a TCP listener. */
  tcpUrl: string | null;
  port: number;
  tcpPort: number | null;
  mode: TimerMode;
  host: Host;
  /** The hub: broadcast, connections, presence; `hub.outbox` holds events not yet delivered. */
  hub: Application;
  app: Hono;
  store: SnapshotStore;
  /** The one process timer (local) or the KV queue timer (kv). */
  timer: WakeTimer | QueueTimer;
  /** Connections resumed from the store at startup (kv mode). */
  restored: ConnectionId[];
  /** Raw sockets still open, whether or not an actor still owns them (a leak shows here). */
  openSockets(): { ws: number; tcp: number };
  /**
   * Stops both listeners and lets go of every peer. Local mode closes every connection
   * with `reason`; kv mode first writes every snapshot, keeps them, and tells peers the
   * server is restarting.
   */
  close(reason?: string): Promise<void>;
}

export { DEFAULT_SERVER } from '../../runtime/index.ts';

/** What peers of a kv-mode server are told when it stops: their actors live on in KV. */
export const RESTART_REASON = 'server restarting: connection state kept in Deno KV';

/** How long shutdown waits for peers to finish the WebSocket close handshake. */
const SHUTDOWN_GRACE_MS = 1000;

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const bind = options.host ?? DEFAULT_SERVER.host;
  const log = options.log ?? (() => {});
  const sockets = new SocketRegistry();
  const wsOpen = new OpenSockets();
  const kv = options.kv;
  let ready = false;
  let keeping = false;

  const onError = (what: string) => (error: unknown) => log(`${what} error: ${String(error)}`);
  const store: SnapshotStore = kv
    ? new KvSnapshotStore(kv, { ...(options.kvPrefix ? { prefix: options.kvPrefix } : {}), onError: onError('kv store') })
    : new MemorySnapshotStore();
  const timer: WakeTimer | QueueTimer = kv
    ? new QueueTimer({ kv, wake: (at) => host.tick(at), onError: onError('queue timer') })
    : new WakeTimer({ wake: (at) => host.tick(at), ...(options.timers ? { timers: options.timers } : {}), onError: onError('timer') });
  // Peers closing after a kv-mode shutdown began are not news: their actors are kept.
  const events = kv
    ? new KvEventStore(kv, { prefix: options.kvEventsPrefix ?? [options.kvPrefix?.[0] ?? 'keepalive', 'events'], onError: onError('kv events') })
    : undefined;
  const { host, application } = serverHostWithApplication(options, {
    sockets,
    store,
    ...(events ? { events } : {}),
    onNextWake: timer.schedule,
    logging: () => !keeping,
  });

  // Events first: a connection whose end was recorded is not restored.
  const owed = await application.load();
  let restored: ConnectionId[] = [];
  if (timer instanceof QueueTimer) {
    timer.listen().catch(onError('queue listener'));
    // Deadlines that passed while no process ran are handled now, as late ticks: a late
    // tick PINGs and gives the peer a full interval, and the restart grace holds back a
    // verdict for one interval (a crash may have lost the PONG to the last PING).
    restored = await host.restoreFromStore();
  }
  application.start();
  if (owed > 0) log(`delivering ${owed} event(s) left undelivered in Deno KV`);

  const app = serverApp(options, { host, sockets, application, upgradeWebSocket: trackedUpgradeWebSocket(wsOpen), ready: () => ready });

  const http = Deno.serve({ hostname: bind, port: options.port ?? DEFAULT_SERVER.port, onListen: () => {} }, app.fetch);
  let tcp: TcpListener | null = null;
  const tcpPort = options.tcpPort === undefined ? DEFAULT_SERVER.tcpPort : options.tcpPort;
  if (tcpPort !== null) {
    try {
      tcp = listenTcp({ host, sockets, hostname: bind, port: tcpPort, log });
    } catch (error) {
      await http.shutdown();
      throw error;
    }
  }
  ready = true;

  const port = http.addr.port;
  const urlHost = bind.includes(':') ? `[${bind}]` : bind;
  let closing: Promise<void> | null = null;

  return {
    url: `http://${urlHost}:${port}`,
    wsUrl: `ws://${urlHost}:${port}/connect`,
    tcpUrl: tcp ? `tcp://${urlHost}:${tcp.port}` : null,
    port,
    tcpPort: tcp?.port ?? null,
    mode: kv ? 'kv' : 'local',
    host,
    hub: application,
    app,
    store,
    timer,
    restored,
    openSockets: () => ({ ws: wsOpen.size, tcp: tcp?.open ?? 0 }),
    close(reason = 'server shutting down') {
      closing ??= (async () => {
        ready = false;
        // Stop taking peers first, so none opens after the goodbye round.
        tcp?.stop();
        if (store instanceof KvSnapshotStore) {
          // Hooks and webhook tries in flight get a moment; what is still owed stays in KV.
          await application.stop();
          await host.persistAll();
          await store.seal();
          timer.stop();
          // The armed wake-up stays queued for the next process, which finds it stale.
          if (timer instanceof QueueTimer) await timer.flush();
          keeping = true;
          for (const id of [...host.ids()]) sockets.close(id, RESTART_REASON);
        } else {
          await host.closeAll(reason);
          // The onClose hooks (and webhooks) of the connections just closed.
          await application.stop();
          timer.stop();
        }
        tcp?.destroyAll();
        // Let the close frames (with their reasons) finish their handshake before Deno's
        // own shutdown closes what is left with 1001; a frozen peer never answers, so wait
        // only so long.
        await within(wsOpen.empty(), SHUTDOWN_GRACE_MS);
        await within(http.shutdown(), SHUTDOWN_GRACE_MS);
      })();
      return closing;
    },
  };
}

/** Waits for `promise`, or `ms` at most. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
