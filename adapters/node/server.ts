/**
 * The Node runtime: the shared Hono app on @hono/node-server (WebSocket peers at
 * /connect via @hono/node-ws) plus a TCP listener speaking libvirt's wire format, all
 * connections actors in one Host, all deadlines on one process timer.
 */
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { serve } from '@hono/node-server';
import { createNodeWebSocket, type NodeWebSocketInit } from '@hono/node-ws';
import { Hono } from 'hono';
import type { WSContext } from 'hono/ws';
import type { RawData, WebSocket } from 'ws';
import { nanoid } from 'nanoid';
import {
  abandonsPeer,
  DEFAULT_SERVER,
  CapacityError,
  DEFAULT_MAX_FRAME_BYTES,
  Host,
  RESTART_REASON,
  SessionIndex,
  SocketRegistry,
  WakeTimer,
  type PeerSocket,
  serverApp,
  serverHostWithApplication,
  type Application,
  type DirectSocket,
  type Frame,
  type ServerSettingsOptions,
} from '../../runtime/index.ts';
import type { SqliteSnapshotStore } from './sqlite-store.ts';
import './error-event.ts';

export interface ServerOptions extends ServerSettingsOptions {
  /** libvirt-framed TCP port. Default 8788; 0 picks a free one. */
  tcpPort?: number;
  /**
   * A SQLite file for snapshots (created if missing). Connections stored there are
   * resumed before the server listens, and a shutdown keeps them for the next start.
   * Default: snapshots in memory, gone with the process.
   */
  statePath?: string;
}

export interface CloseOptions {
  /**
   * Keep every connection in the state file and close the sockets with 1012 "server
   * restarting", so the next process resumes them. Default: true with `statePath`;
   * without one there is nothing to keep, and each connection is closed for good.
   */
  keepConnections?: boolean;
}

export interface RunningServer {
  /** http://host:port */
  url: string;
  /** ws://host:port/connect */
  wsUrl: string;
  /** tcp://host:tcpPort */
  tcpUrl: string;
  port: number;
  tcpPort: number;
  host: Host;
  /** The hub: broadcast, connections, presence; `hub.outbox` holds events not yet delivered. */
  hub: Application;
  app: Hono;
  timer: WakeTimer;
  /** Raw sockets still open, whether or not an actor still owns them (a leak shows here). */
  openSockets(): { ws: number; tcp: number };
  /** The SQLite state file, or null when snapshots live in memory. */
  statePath: string | null;
  /** Connections resumed from the state file at start. */
  restored: number;
  /**
   * Stops both listeners and either closes every connection with `reason` (flushing
   * snapshots) or, keeping them, writes every snapshot and lets go of the sockets.
   */
  close(reason?: string, options?: CloseOptions): Promise<void>;
}

export { inspectorByDefault } from '../../runtime/index.ts';

export { DEFAULT_SERVER } from '../../runtime/index.ts';

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const bind = options.host ?? DEFAULT_SERVER.host;
  const log = options.log ?? (() => {});
  const sockets = new SocketRegistry();
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  let ready = false;
  // node:sqlite only when asked for: the in-memory default runs on Node versions without it.
  const store: SqliteSnapshotStore | undefined = options.statePath
    ? new (await import('./sqlite-store.ts')).SqliteSnapshotStore(options.statePath)
    : undefined;

  // One timer for the whole process, re-armed wherever the host says its earliest deadline moved.
  const timer = new WakeTimer({
    wake: (at) => host.tick(at),
    ...(options.timers ? { timers: options.timers } : {}),
    onError: (error) => log(`timer error: ${String(error)}`),
  });
  const events = store ? new (await import('./sqlite-events.ts')).SqliteEventStore(store) : undefined;
  const { host, application } = serverHostWithApplication(options, {
    sockets,
    ...(store ? { store } : {}),
    ...(events ? { events } : {}),
    onNextWake: timer.schedule,
  });

  // Before anyone can connect: a peer that comes back must find its actor waiting.
  let restored = 0;
  if (store) {
    try {
      const started = performance.now();
      // Events first: a connection whose end was recorded is not restored.
      const owed = await application.load();
      restored = (await host.restoreFromStore()).length;
      if (restored > 0) log(`restored ${restored} connection(s) from ${store.path} in ${(performance.now() - started).toFixed(1)} ms`);
      if (owed > 0) log(`delivering ${owed} event(s) left undelivered in ${store.path}`);
    } catch (error) {
      timer.stop();
      store.close();
      throw error;
    }
  }
  application.start();

  // @hono/node-ws reads `init.app` only when an upgrade arrives, and the shared app needs the
  // upgrade helper first: start with a placeholder and point it at the real app below.
  const init: NodeWebSocketInit = { app: new Hono() };
  const nodeWs = createNodeWebSocket(init);
  // Frames a little over the limit reach the Host, which closes with a reason naming the
  // limit; ws cuts off anything far larger (1009) before buffering it (its default is 100 MiB).
  nodeWs.wss.options.maxPayload = maxFrameBytes * 2;
  nodeWs.wss.on('connection', (ws) => {
    ws.on('error', (error) => log(`websocket error: ${error.message}`));
    // A dead peer (or one that never advertised) may never finish the close handshake: send
    // the close frame with its reason, then let go of the socket now instead of after ws's
    // 30 s close timeout.
    const close = ws.close.bind(ws);
    ws.close = (code?: number, reason?: string | Buffer) => {
      close(code, reason);
      if (abandonsPeer(String(reason ?? ''))) ws.terminate();
    };
  });
  const app = serverApp(options, {
    host,
    sockets,
    upgradeWebSocket: nodeWs.upgradeWebSocket,
    direct: directSocket,
    ready: () => ready,
    application,
    sessions: new SessionIndex(host),
    onResume: (id) => log(`${id} resumed: its peer reattached`),
  });
  init.app = app;

  let http: HttpServer;
  let tcp: TcpServer;
  try {
    http = await listenHttp(app, bind, options.port ?? DEFAULT_SERVER.port);
  } catch (error) {
    timer.stop();
    store?.close();
    throw error;
  }
  nodeWs.injectWebSocket(http);
  try {
    tcp = await listenTcp(host, sockets, log, bind, options.tcpPort ?? DEFAULT_SERVER.tcpPort);
  } catch (error) {
    await closeHttp(http);
    timer.stop();
    store?.close();
    throw error;
  }
  const tcpSockets = new Set<Socket>();
  tcp.on('connection', (socket) => {
    tcpSockets.add(socket);
    socket.once('close', () => tcpSockets.delete(socket));
  });
  ready = true;

  const port = (http.address() as AddressInfo).port;
  const tcpPort = (tcp.address() as AddressInfo).port;
  const urlHost = bind.includes(':') ? `[${bind}]` : bind;
  let closing: Promise<void> | null = null;

  return {
    url: `http://${urlHost}:${port}`,
    wsUrl: `ws://${urlHost}:${port}/connect`,
    tcpUrl: `tcp://${urlHost}:${tcpPort}`,
    port,
    tcpPort,
    host,
    hub: application,
    app,
    timer,
    openSockets: () => ({ ws: nodeWs.wss.clients.size, tcp: tcpSockets.size }),
    statePath: store?.path ?? null,
    restored,
    close(reason, closeOptions = {}) {
      const keep = closeOptions.keepConnections ?? store !== undefined;
      closing ??= (async () => {
        ready = false;
        // Stop taking peers first, so none opens (or reattaches) after the goodbye round.
        const tcpClosed = new Promise<void>((resolve) => tcp.close(() => resolve()));
        const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
        if (keep) {
          // Hooks and webhook tries in flight get a moment; what is still owed stays in the file.
          await application.stop();
          // Exact snapshots first; then the file is closed, so letting go of the sockets
          // (and anything they still deliver) can no longer change what the next process finds.
          await host.persistAll();
          timer.stop();
          store?.close();
          // Always 1012, whatever the reason says: resuming peers come back after exactly that.
          const goodbye = reason === undefined || reason.startsWith(RESTART_REASON) ? (reason ?? RESTART_REASON) : `${RESTART_REASON}: ${reason}`;
          for (const id of [...host.ids()]) sockets.detach(id)?.close(goodbye);
        } else {
          await host.closeAll(reason ?? 'server shutting down');
          // The onClose hooks (and webhooks) of the connections just closed.
          await application.stop();
          timer.stop();
          store?.close();
        }
        // A moment for the 1012 close frames to leave before the sockets are cut.
        if (keep) await new Promise((resolve) => setTimeout(resolve, 50));
        for (const socket of tcpSockets) socket.destroy();
        for (const ws of nodeWs.wss.clients) ws.terminate();
        http.closeAllConnections();
        await Promise.all([tcpClosed, httpClosed]);
      })();
      return closing;
    },
  };
}

/**
 * Frames straight from `ws`: @hono/node-ws makes a `MessageEvent` for every frame (and
 * sends through two wrappers), a cost every connection pays every interval (figure 9).
 * Frames out are queued and written together at the end of the turn (the host's tick
 * PINGs many connections at once): syscalls in a row, not between statechart steps, cost
 * less each. Per socket the order holds, and a close writes what is queued first.
 */
function directSocket(ws: WSContext): DirectSocket {
  const raw = ws.raw as WebSocket;
  return {
    send: (frame) => {
      if (outgoing.length === 0) queueMicrotask(flushOutgoing);
      outgoing.push(raw, frame);
    },
    flush: flushOutgoing,
    listen: (onFrame) =>
      raw.on('message', (data: RawData, isBinary: boolean) => {
        // Binary frames as plain Uint8Array views (no copy), as on every other runtime.
        if (!isBinary) onFrame(data.toString());
        else if (data instanceof ArrayBuffer) onFrame(new Uint8Array(data));
        else {
          const bytes = Array.isArray(data) ? Buffer.concat(data) : data;
          onFrame(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
        }
      }),
  };
}

/** Socket, frame, socket, frame...: one flat array, no object per frame. */
const outgoing: (WebSocket | Frame)[] = [];
function flushOutgoing(): void {
  for (let i = 0; i < outgoing.length; i += 2) {
    try {
      (outgoing[i] as WebSocket).send(outgoing[i + 1] as Frame);
    } catch {
      // ws throws only before the socket opened, which a queued frame's socket has; a closed one drops it.
    }
  }
  outgoing.length = 0;
}

function listenHttp(app: Hono, hostname: string, port: number): Promise<HttpServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname, port }) as HttpServer;
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function closeHttp(server: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** libvirt-framed peers: the Host splits the byte stream (stream: true) and decodes. */
function listenTcp(
  host: Host,
  sockets: SocketRegistry,
  log: (line: string) => void,
  hostname: string,
  port: number,
): Promise<TcpServer> {
  const server = createTcpServer({ noDelay: true }, (socket) => {
    const id = nanoid();
    const peer: PeerSocket = {
      send: (frame) => {
        socket.write(frame);
      },
      // TCP has no close reason on the wire; the reason is in the log line.
      close: () => socket.destroy(),
    };
    // Attached before opening, so whatever the actor says first has a socket to go to.
    sockets.attach(id, peer);
    try {
      host.open({ id, role: 'server', codec: { name: 'libvirt', advertise: true }, stream: true, meta: { transport: 'tcp' } });
    } catch (error) {
      sockets.detach(id);
      const reason = error instanceof CapacityError ? error.message : String(error);
      log(`tcp ${socket.remoteAddress}:${socket.remotePort} refused: ${reason}`);
      socket.destroy();
      return;
    }
    socket.on('data', (chunk) => {
      if (sockets.get(id) === peer) host.receive(id, chunk);
    });
    socket.on('error', (error) => log(`tcp ${id}: ${error.message}`));
    socket.on('close', () => {
      // Not ours any more: the host closed it, or a restarting server let go of it.
      if (sockets.get(id) !== peer) return;
      sockets.detach(id);
      host.peerClosed(id, 'peer closed the TCP connection');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, hostname, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
