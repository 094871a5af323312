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
  createApp,
  DEFAULT_SERVER,
  logEvent,
  DEFAULT_MAX_FRAME_BYTES,
  defaultAdvertiseTimeout,
  inspectorByDefault,
  inspectorRoutes,
  Host,
  MemorySnapshotStore,
  SocketRegistry,
  WakeTimer,
  withRestartGrace,
  type ConnectionId,
  type HostEvent,
  type InspectObserver,
  type SnapshotStore,
  type TimerApi,
} from '../../runtime/index.ts';
import { KvSnapshotStore } from './kv-store.ts';
import { QueueTimer } from './queue-timer.ts';
import { listenTcp, type TcpListener } from './tcp.ts';
import { OpenSockets, trackedUpgradeWebSocket } from './websocket.ts';

export interface ServerOptions {
  /** Interface both listeners bind to. Default 127.0.0.1. */
  host?: string;
  /** HTTP/WebSocket port. Default 8787; 0 picks a free one. */
  port?: number;
  /** libvirt-framed TCP port. Default 8788; 0 picks a free one; null: no TCP (Deno Deploy). */
  tcpPort?: number | null;
  /** Our keepalive interval, ms. Default 5000. */
  interval?: number;
  /** Unanswered PINGs before a peer is dead. Default 5. */
  count?: number;
  /** false: never PING, never declare death; PINGs are still answered. Default true. */
  sendPings?: boolean;
  /**
   * ms a peer has to ADVERTISE before it is closed, so idle sockets cannot fill
   * `maxConnections`. Default interval*(count+1); 0 or null: wait forever.
   */
  advertiseTimeout?: number | null;
  /**
   * Serverless mode: snapshots in this Deno KV and wake-ups through its queue (this
   * server takes the KV's one queue listener). Absent: local mode.
   */
  kv?: Deno.Kv;
  /** Key prefix for snapshots in `kv`; one server per prefix. */
  kvPrefix?: Deno.KvKey;
  /** XState inspection observer, handed to the Host (steps every frame). */
  inspect?: InspectObserver;
  /** Guards GET /actors (and whatever `extend` protects with it). */
  token?: string;
  maxConnections?: number;
  /** PINGs a peer may send within one of our intervals before it is closed as a flood. Default 100; 0 = no limit. */
  maxPingsPerInterval?: number;
  /** Largest frame accepted (text message or libvirt frame), bytes. Default 1 MiB. */
  maxFrameBytes?: number;
  onEvent?: (event: HostEvent) => void;
  /** One line per notable event (connections closed, rejected, dead). Default: none. */
  log?: (line: string) => void;
  /**
   * Serve the inspector page at /inspect (gated by `token` when one is set). Default: on
   * when bound to loopback or when a token is set, off on an open interface without one.
   */
  inspector?: boolean;
  /** Mount more routes on the shared app before it serves. */
  extend?: (app: Hono) => void;
  /** Local mode, for tests: the timer API the one process timer uses. */
  timers?: TimerApi;
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
  const interval = options.interval ?? DEFAULT_SERVER.interval;
  const count = options.count ?? DEFAULT_SERVER.count;
  let ready = false;
  let keeping = false;

  const onError = (what: string) => (error: unknown) => log(`${what} error: ${String(error)}`);
  const store: SnapshotStore = kv
    ? new KvSnapshotStore(kv, { ...(options.kvPrefix ? { prefix: options.kvPrefix } : {}), onError: onError('kv store') })
    : new MemorySnapshotStore();
  const timer: WakeTimer | QueueTimer = kv
    ? new QueueTimer({ kv, wake: (at) => host.tick(at), onError: onError('queue timer') })
    : new WakeTimer({ wake: (at) => host.tick(at), ...(options.timers ? { timers: options.timers } : {}), onError: onError('timer') });
  const host: Host = new Host({
    transport: sockets,
    store,
    onNextWake: timer.schedule,
    defaults: {
      interval,
      count,
      sendPings: options.sendPings ?? DEFAULT_SERVER.sendPings,
      advertiseTimeout: options.advertiseTimeout !== undefined ? options.advertiseTimeout : defaultAdvertiseTimeout(interval, count),
    },
    ...(options.inspect ? { inspect: options.inspect } : {}),
    ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
    ...(options.maxPingsPerInterval !== undefined ? { maxPingsPerInterval: options.maxPingsPerInterval } : {}),
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    onEvent: (event) => {
      // Peers closing after a kv-mode shutdown began are not news: their actors are kept.
      if (!keeping) logEvent(event, log);
      options.onEvent?.(event);
    },
  });

  let restored: ConnectionId[] = [];
  if (timer instanceof QueueTimer) {
    timer.listen().catch(onError('queue listener'));
    // Deadlines that passed while no process ran are handled now, as late ticks: a late
    // tick PINGs and gives the peer a full interval, and the restart grace holds back a
    // verdict for one interval (a crash may have lost the PONG to the last PING).
    const at = Date.now();
    restored = host.restore(withRestartGrace(await store.load(), at), at);
  }

  const app = createApp({
    host,
    sockets,
    upgradeWebSocket: trackedUpgradeWebSocket(wsOpen),
    ready: () => ready,
    ...(options.token ? { token: options.token } : {}),
    extend: (shared) => {
      if (options.inspector ?? inspectorByDefault(bind, options.token)) {
        shared.route('/', inspectorRoutes({ host, ...(options.token ? { token: options.token } : {}) }));
      }
      options.extend?.(shared);
    },
  });

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
          await host.persistAll();
          await store.seal();
          timer.stop();
          // The armed wake-up stays queued for the next process, which finds it stale.
          if (timer instanceof QueueTimer) await timer.flush();
          keeping = true;
          for (const id of [...host.ids()]) sockets.close(id, RESTART_REASON);
        } else {
          await host.closeAll(reason);
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
