/**
 * One lifecycle for a long-running server (Node, Deno): start loads undelivered events,
 * restores stored connections, then listens; stop either closes every connection or keeps
 * them for the next process. A platform supplies its listeners, its timer and, for
 * connections that outlive the process, its stores.
 */
import type { PresenceFeed } from '../presence/index.ts';
import type { Hono } from 'hono';
import type { Application, EventStore } from '../application/index.ts';
import type { ConnectionId, Host, PeerSocket, SnapshotStore, SocketRegistry, TimerApi } from '../host/index.ts';
import type { EndCause } from '../protocol/index.ts';
import type { DeliveryStore } from '../delivery/index.ts';
import { inspectorRoutes } from '../inspector/index.ts';
import { DEFAULTS, UsageError } from '../config/index.ts';
import type { Cluster, ClusterOptions } from '../cluster/index.ts';
import { assembleHub, type ConnectGate, type HubOptions, type HubPlatform, inspectorByDefault, isLoopback } from '../hub/index.ts';

export interface ServerOptions extends HubOptions {
  /** Interface the listeners bind to. Default 127.0.0.1. */
  host?: string;
  /** HTTP/WebSocket port. Default 8787; 0 picks a free one. */
  port?: number;
  /** libvirt-framed TCP port. Default 8788; 0 picks a free one; null: no TCP listener. */
  tcpPort?: number | null;
  /**
   * Serve the inspector page at /inspect (gated by `token` when one is set). Default: on
   * when bound to loopback or when a token is set, off on an open interface without one.
   */
  inspector?: boolean;
  /** Mount more routes on the hub's app before it serves. */
  extend?: (app: Hono) => void;
  /** For tests: the timer API the one process timer uses. */
  timers?: TimerApi;
  /**
   * One hub over many processes, meeting in Redis (docs/cluster.md): every process given
   * the same `redis` URL and `hub` name serves one hub. Connections and undelivered events
   * then live in Redis (not in a state file).
   */
  cluster?: ClusterOptions;
}

export interface CloseOptions {
  /**
   * Keep every connection in the durable store and close the sockets with 1012 "server
   * restarting", so the next process resumes them. Default: true with a durable store;
   * without one there is nothing to keep, and each connection is closed for good.
   */
  keepConnections?: boolean;
  /** The signal that stops the process (`SIGTERM`): said in the close frame, "server restarting (SIGTERM)". */
  signal?: string;
}

/** The one process timer (or a platform's stand-in for it). */
export interface ServerTimer {
  readonly schedule: (at: number | null) => void;
  stop(): void;
  /** Starts taking wake-ups from outside the process (a queue), before connections are restored; settles only when it stops. */
  listen?(): Promise<void>;
  /** Waits for what `schedule` still writes (a queue message). */
  flush?(): Promise<void>;
}

export interface RunningServer<T extends ServerTimer = ServerTimer> {
  /** http://host:port */
  url: string;
  /** ws://host:port/connect */
  wsUrl: string;
  /** tcp://host:tcpPort, or null without a TCP listener. */
  tcpUrl: string | null;
  port: number;
  tcpPort: number | null;
  host: Host;
  /** The hub: broadcast, connections, presence; `hub.outbox` holds events not yet delivered. */
  hub: Application;
  app: Hono;
  timer: T;
  /** Where connections outlive the process (a SQLite file, a Deno KV database), or null: memory. */
  durable: string | null;
  /** The hub's Redis side when it spans processes (`cluster` option), else null. */
  cluster: Cluster | null;
  /** Presence for peers (the `presence` setting), else null. */
  presence: PresenceFeed | null;
  /** Connections resumed from the durable store at start. */
  restored: ConnectionId[];
  /** Raw sockets still open, whether or not an actor still owns them (a leak shows here). */
  openSockets(): { ws: number; tcp: number };
  /**
   * Stops the listeners and either closes every connection (its hooks and webhooks run; the
   * cause is a shutdown, saying `reason` if given) or, keeping them, writes every snapshot
   * and lets go of the sockets (a restart: "server restarting: `reason`", 1012).
   */
  close(reason?: string, options?: CloseOptions): Promise<void>;
}

/** Connections that outlive the process: snapshots and undelivered events, and where they are. */
export interface DurableParts {
  store: SnapshotStore;
  events: EventStore;
  /** Delivery mode's windows; none: memory (they die with the process). */
  deliveries?: DeliveryStore;
  /** Said in log lines and on `RunningServer.durable`: a path, "Deno KV ...". */
  where: string;
  /** Called once every snapshot is written; nothing is written after it. */
  close(): void | Promise<void>;
}

/**
 * How long a shutdown waits for peers to finish the WebSocket close handshake after the
 * goodbyes went out (`HttpListening.close`), on every platform; a frozen peer never answers.
 */
export const SHUTDOWN_GRACE_MS = 1000;

export interface HttpListening {
  port: number;
  /** WebSockets still open. */
  openSockets(): number;
  /** Stops accepting; what is open stays. */
  stop(): void;
  /** After the goodbyes went out: waits for their close handshakes (`SHUTDOWN_GRACE_MS` at most), then drops what is left. */
  close(): Promise<void>;
}

export interface TcpListening {
  port: number;
  openSockets(): number;
  stop(): void;
  destroyAll(): void;
}

export interface ServerPlatform<T extends ServerTimer> {
  /** Opens the durable stores, if the options ask for them. */
  durable?: DurableParts | undefined;
  timer(wake: (at: number) => void, onError: (error: unknown) => void): T;
  /** Turns an admitted `/connect` into the platform's WebSocket. */
  accept: HubPlatform['accept'];
  serve(app: Hono, hostname: string, port: number): Promise<HttpListening>;
  /** libvirt-framed TCP: `accept` each socket, feed it its chunks, tell it when the socket closed. */
  listenTcp(hostname: string, port: number, accept: StreamAcceptor): Promise<TcpListening>;
}

/** What a TCP listener does with each socket: see `ConnectGate.openStream`. */
export interface StreamAcceptor {
  open(socket: PeerSocket, remote: string): ConnectionId | undefined;
  receive(id: ConnectionId, socket: PeerSocket, chunk: Uint8Array): void;
  closed(id: ConnectionId, socket: PeerSocket): void;
  error(id: ConnectionId, error: unknown): void;
}

export async function startHubServer<T extends ServerTimer>(options: ServerOptions, platform: ServerPlatform<T>): Promise<RunningServer<T>> {
  const bind = options.host ?? DEFAULTS.host;
  const log = options.log ?? (() => {});
  if (options.cluster && platform.durable) {
    await platform.durable.close();
    throw new UsageError('a clustered hub keeps its connections in Redis: give a Redis URL or a state store, not both');
  }
  // Loaded only when asked for: a hub of one process needs no Redis client.
  const cluster = options.cluster ? await (await import('../cluster/index.ts')).Cluster.connect(options.cluster, options.hub ?? DEFAULTS.hub, log) : undefined;
  const durable: DurableParts | undefined = cluster
    ? { store: cluster.snapshots, events: cluster.events, deliveries: cluster.deliveries, where: cluster.where, close: () => cluster.stop() }
    : platform.durable;
  let ready = false;
  let keeping = false;
  const timer: T = platform.timer(
    (at) => {
      hub.metrics.woke(at);
      hub.host.tick(at);
    },
    (error) => log(`timer error: ${String(error)}`),
  );
  const hub = assembleHub(options, {
    accept: platform.accept,
    onNextWake: timer.schedule,
    store: durable?.store,
    events: durable?.events,
    deliveries: durable?.deliveries,
    openWithoutToken: isLoopback(bind),
    ready: () => ready,
    // Peers let go of by a shutdown that keeps their connections are not news.
    logging: () => !keeping,
    onResume: (id) => log(`${id} resumed: its peer reattached`),
    cluster,
    presenceChanged: cluster && ((id) => cluster.presenceChanged(id)),
    extend: (app, host) => {
      if (options.inspector ?? inspectorByDefault(bind, options.token)) {
        app.route('/', inspectorRoutes({ host, ...(options.token ? { token: options.token } : {}), node: cluster?.node }));
      }
      options.extend?.(app);
    },
  });
  const { host, application, sockets, gate, app, delivery } = hub;
  cluster?.attach({ host, application, gate, sockets, delivery, presence: hub.presence });

  /** A start that failed lets go of what it took, in the order it took it. */
  const abandon = async (error: unknown, http?: HttpListening): Promise<never> => {
    if (http) {
      http.stop();
      await http.close();
    }
    timer.stop();
    await durable?.close();
    throw error;
  };

  // Before anyone can connect: a peer that comes back must find its actor waiting.
  let restored: ConnectionId[] = [];
  if (durable) {
    try {
      const started = performance.now();
      // Events first: a connection whose end was recorded is not restored.
      const owed = await application.load();
      await durable.deliveries?.preload?.();
      timer.listen?.().catch((error: unknown) => log(`timer listener error: ${String(error)}`));
      // Deadlines that passed while no process ran are handled now, as late ticks, with the
      // restart grace (a crash may have lost the PONG to the last PING).
      restored = await host.restoreFromStore();
      gate.sessions.refresh();
      // Windows of connections that were not restored (ended meanwhile) go.
      await durable.deliveries?.prune?.(new Set(host.ids()));
      if (restored.length > 0) log(`restored ${restored.length} connection(s) from ${durable.where} in ${(performance.now() - started).toFixed(1)} ms`);
      if (owed > 0) log(`delivering ${owed} event(s) left undelivered in ${durable.where}`);
    } catch (error) {
      return abandon(error);
    }
  }
  application.start();
  if (cluster) {
    try {
      await cluster.start();
    } catch (error) {
      return abandon(error);
    }
  }

  let http: HttpListening;
  let tcp: TcpListening | null = null;
  const tcpPort = options.tcpPort === undefined ? DEFAULTS.tcpPort : options.tcpPort;
  try {
    http = await platform.serve(app, bind, options.port ?? DEFAULTS.port);
  } catch (error) {
    return abandon(error);
  }
  if (tcpPort !== null) {
    try {
      tcp = await platform.listenTcp(bind, tcpPort, streamAcceptor(host, sockets, gate, log));
    } catch (error) {
      return abandon(error, http);
    }
  }
  ready = true;

  const urlHost = bind.includes(':') ? `[${bind}]` : bind;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${http.port}`,
    wsUrl: `ws://${urlHost}:${http.port}/connect`,
    tcpUrl: tcp ? `tcp://${urlHost}:${tcp.port}` : null,
    port: http.port,
    tcpPort: tcp?.port ?? null,
    host,
    hub: application,
    app,
    timer,
    durable: durable?.where ?? null,
    cluster: cluster ?? null,
    presence: hub.presence ?? null,
    restored,
    openSockets: () => ({ ws: http.openSockets(), tcp: tcp?.openSockets() ?? 0 }),
    close(reason, closeOptions = {}) {
      const keep = (closeOptions.keepConnections ?? durable !== undefined) && durable !== undefined;
      const said = { ...(closeOptions.signal ? { signal: closeOptions.signal } : {}), ...(reason ? { detail: reason } : {}) };
      closing ??= (async () => {
        ready = false;
        // Stop taking peers first, so none opens (or reattaches) after the goodbye round.
        http.stop();
        tcp?.stop();
        if (keep) {
          // Hooks and webhook tries in flight get a moment; what is still owed stays stored.
          await application.stop();
          // Exact snapshots first; then the store is closed, so letting go of the sockets
          // (and anything they still deliver) can no longer change what the next process finds.
          await host.persistAll();
          await durable!.deliveries?.flush?.();
          timer.stop();
          // The armed wake-up stays queued for the next process, which finds it stale.
          await timer.flush?.();
          await durable!.close();
          keeping = true;
          // A restart (1012), whatever the reason says: resuming peers come back after exactly that.
          const goodbye: EndCause = { cause: 'restart', ...said };
          for (const id of [...host.ids()]) sockets.detach(id)?.close(goodbye);
        } else {
          await host.closeAll({ cause: 'shutdown', ...said });
          // The onClose hooks (and webhooks) of the connections just closed.
          await application.stop();
          timer.stop();
          await durable?.close();
        }
        tcp?.destroyAll();
        hub.presence?.stop();
        await http.close();
      })();
      return closing;
    },
  };
}

function streamAcceptor(host: Host, sockets: SocketRegistry, gate: ConnectGate, log: (line: string) => void): StreamAcceptor {
  return {
    open(socket, remote) {
      const id = gate.openStream(socket);
      if (typeof id === 'string') return id;
      log(`tcp ${remote} refused: ${id.message}`);
      return undefined;
    },
    // Not ours any more (closed by the host, let go of by a restart): nothing it says counts.
    receive: (id, socket, chunk) => void (sockets.get(id) === socket && host.receive(id, chunk)),
    closed: (id, socket) => gate.streamGone(id, socket),
    error: (id, error) => log(`tcp ${id}: ${error instanceof Error ? error.message : String(error)}`),
  };
}
