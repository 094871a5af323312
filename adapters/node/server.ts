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
import { nanoid } from 'nanoid';
import {
  abandonsPeer,
  createApp,
  CapacityError,
  defaultAdvertiseTimeout,
  inspectorByDefault,
  inspectorRoutes,
  DEFAULT_MAX_FRAME_BYTES,
  Host,
  SocketRegistry,
  WakeTimer,
  type HostEvent,
  type InspectObserver,
  type TimerApi,
} from '../../runtime/index.ts';
import './error-event.ts';

export interface ServerOptions {
  /** Interface both listeners bind to. Default 127.0.0.1. */
  host?: string;
  /** HTTP/WebSocket port. Default 8787; 0 picks a free one. */
  port?: number;
  /** libvirt-framed TCP port. Default 8788; 0 picks a free one. */
  tcpPort?: number;
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
  /** XState inspection observer, handed to the Host (steps every frame). */
  inspect?: InspectObserver;
  /** Guards GET /actors (and whatever `extend` protects with it). */
  token?: string;
  maxConnections?: number;
  /** PINGs a peer may send per interval before it is closed as a flood. Default 100; 0 = no limit. */
  maxPingsPerInterval?: number;
  /** Largest frame accepted (text message or libvirt frame), bytes. Default 1 MiB. */
  maxFrameBytes?: number;
  onEvent?: (event: HostEvent) => void;
  /** One line per notable event (connections closed, rejected, dead). Default: none. */
  log?: (line: string) => void;
  /** Mount more routes on the shared app before it serves. */
  extend?: (app: Hono) => void;
  /**
   * Serve the inspector page at /inspect (gated by `token` when one is set). Default: on
   * when bound to a loopback address or a token is set; off on an open interface without one.
   */
  inspector?: boolean;
  /** For tests: the timer API the one process timer uses. */
  timers?: TimerApi;
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
  app: Hono;
  timer: WakeTimer;
  /** Raw sockets still open, whether or not an actor still owns them (a leak shows here). */
  openSockets(): { ws: number; tcp: number };
  /** Closes every connection with `reason`, flushes snapshots, stops both listeners. */
  close(reason?: string): Promise<void>;
}

export { inspectorByDefault } from '../../runtime/index.ts';

export const DEFAULT_SERVER = {
  host: '127.0.0.1',
  port: 8787,
  tcpPort: 8788,
  interval: 5000,
  count: 5,
  sendPings: true,
} as const;

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const bind = options.host ?? DEFAULT_SERVER.host;
  const log = options.log ?? (() => {});
  const sockets = new SocketRegistry();
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const interval = options.interval ?? DEFAULT_SERVER.interval;
  const count = options.count ?? DEFAULT_SERVER.count;
  let ready = false;

  // One timer for the whole process, re-armed wherever the host says its earliest deadline moved.
  const timer = new WakeTimer({
    wake: (at) => host.tick(at),
    ...(options.timers ? { timers: options.timers } : {}),
    onError: (error) => log(`timer error: ${String(error)}`),
  });
  const host: Host = new Host({
    transport: sockets,
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
    maxFrameBytes,
    onEvent: (event) => {
      logEvent(event, log);
      options.onEvent?.(event);
    },
  });

  // @hono/node-ws reads `init.app` only when an upgrade arrives, and createApp needs the
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
  const app = createApp({
    host,
    sockets,
    upgradeWebSocket: nodeWs.upgradeWebSocket,
    ready: () => ready,
    ...(options.token ? { token: options.token } : {}),
    extend: (shared) => {
      if (options.inspector ?? inspectorByDefault(bind, options.token)) {
        shared.route('/', inspectorRoutes({ host, ...(options.token ? { token: options.token } : {}) }));
      }
      options.extend?.(shared);
    },
  });
  init.app = app;

  const http = await listenHttp(app, bind, options.port ?? DEFAULT_SERVER.port);
  nodeWs.injectWebSocket(http);
  let tcp: TcpServer;
  try {
    tcp = await listenTcp(host, sockets, log, bind, options.tcpPort ?? DEFAULT_SERVER.tcpPort);
  } catch (error) {
    await closeHttp(http);
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
    app,
    timer,
    openSockets: () => ({ ws: nodeWs.wss.clients.size, tcp: tcpSockets.size }),
    close(reason = 'server shutting down') {
      closing ??= (async () => {
        ready = false;
        // Stop taking peers first, so none opens after the goodbye round.
        const tcpClosed = new Promise<void>((resolve) => tcp.close(() => resolve()));
        await host.closeAll(reason);
        timer.stop();
        for (const socket of tcpSockets) socket.destroy();
        for (const ws of nodeWs.wss.clients) ws.terminate();
        await Promise.all([tcpClosed, closeHttp(http)]);
      })();
      return closing;
    },
  };
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
    // Attached before opening, so whatever the actor says first has a socket to go to.
    sockets.attach(id, {
      send: (frame) => {
        socket.write(frame);
      },
      // TCP has no close reason on the wire; the reason is in the log line.
      close: () => socket.destroy(),
    });
    try {
      host.open({ id, role: 'server', codec: { name: 'libvirt', advertise: true }, stream: true, meta: { transport: 'tcp' } });
    } catch (error) {
      sockets.detach(id);
      const reason = error instanceof CapacityError ? error.message : String(error);
      log(`tcp ${socket.remoteAddress}:${socket.remotePort} refused: ${reason}`);
      socket.destroy();
      return;
    }
    socket.on('data', (chunk) => host.receive(id, chunk));
    socket.on('error', (error) => log(`tcp ${id}: ${error.message}`));
    socket.on('close', () => {
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

function logEvent(event: HostEvent, log: (line: string) => void): void {
  switch (event.type) {
    case 'opened':
      log(`${event.id} opened`);
      return;
    case 'rejected':
      log(`${event.id} rejected: ${event.reason}`);
      return;
    case 'dead':
      log(`${event.id} dead: ${event.reason}`);
      return;
    case 'closed':
      log(`${event.id} closed: ${event.reason}`);
      return;
  }
}
