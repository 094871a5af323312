/**
 * The Node runtime: the hub (runtime/hub/) on @hono/node-server, WebSocket peers through
 * @hono/node-ws with frames straight from `ws`, libvirt-framed peers on `node:net`, every
 * deadline on one process timer, and with `statePath` a SQLite file that connections and
 * undelivered events outlive the process in.
 */
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { serve } from '@hono/node-server';
import { createNodeWebSocket, type NodeWebSocketInit } from '@hono/node-ws';
import { Hono } from 'hono';
import type { WSContext } from 'hono/ws';
import type { RawData, WebSocket } from 'ws';
import { abandonsPeer, DEFAULTS, startHubServer, WakeTimer, type DirectSocket, type DurableParts, type Frame, type HttpListening, type PeerSocket, type RunningServer, type ServerOptions as HubServerOptions, type StreamAcceptor, type TcpListening } from '../../runtime/internal.ts';
import './error-event.ts';

export interface ServerOptions extends HubServerOptions {
  /**
   * A SQLite file for snapshots and undelivered events (created if missing). Connections
   * stored there are resumed before the server listens, and a shutdown keeps them for the
   * next start. Default: in memory, gone with the process.
   */
  statePath?: string;
}

export type { CloseOptions, RunningServer } from '../../runtime/internal.ts';

/** How long a shutdown waits for peers to finish the WebSocket close handshake. */
const SHUTDOWN_GRACE_MS = 1000;

export async function startServer(options: ServerOptions = {}): Promise<RunningServer<WakeTimer>> {
  const log = options.log ?? (() => {});
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULTS.maxFrameBytes;
  // @hono/node-ws reads `init.app` only when an upgrade arrives: it is pointed at the hub's app in `serve`.
  const init: NodeWebSocketInit = { app: new Hono() };
  const nodeWs = createNodeWebSocket(init);
  // Frames a little over the limit reach the Host, which closes with a reason naming the
  // limit; ws cuts off anything far larger (1009) before buffering it (its default is 100 MiB).
  nodeWs.wss.options.maxPayload = maxFrameBytes * 2;
  nodeWs.wss.on('connection', (ws) => ws.on('error', (error) => log(`websocket error: ${error.message}`)));
  return startHubServer(options, {
    durable: options.statePath ? await sqliteState(options.statePath) : undefined,
    timer: (wake, onError) => new WakeTimer({ wake, onError, ...(options.timers ? { timers: options.timers } : {}) }),
    upgradeWebSocket: nodeWs.upgradeWebSocket,
    direct: directSocket,
    async serve(app, hostname, port) {
      init.app = app;
      const http = await listenHttp(app, hostname, port);
      nodeWs.injectWebSocket(http);
      const closed = new Promise<void>((resolve) => http.once('close', () => resolve()));
      return {
        port: (http.address() as AddressInfo).port,
        openSockets: () => nodeWs.wss.clients.size,
        stop: () => http.close(),
        async close() {
          // The goodbyes' close handshakes get a moment; a frozen peer never answers.
          const deadline = Date.now() + SHUTDOWN_GRACE_MS;
          while (nodeWs.wss.clients.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
          for (const ws of nodeWs.wss.clients) ws.terminate();
          http.closeAllConnections();
          await closed;
        },
      } satisfies HttpListening;
    },
    listenTcp,
  });
}

/** node:sqlite only when asked for: the in-memory default runs on Node versions without it. */
async function sqliteState(path: string): Promise<DurableParts> {
  const store = new (await import('./sqlite-store.ts')).SqliteSnapshotStore(path);
  const events = new (await import('./sqlite-events.ts')).SqliteEventStore(store);
  return { store, events, where: store.path, close: () => store.close() };
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
    // A dead peer (or one that never advertised) may never finish the close handshake: send
    // the close frame with its reason, then let go of the socket now instead of after ws's
    // 30 s close timeout.
    close: (code, reason) => {
      raw.close(code, reason);
      if (abandonsPeer(reason)) raw.terminate();
    },
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

/** libvirt-framed peers: the Host splits the byte stream (stream: true) and decodes. */
function listenTcp(hostname: string, port: number, accept: StreamAcceptor): Promise<TcpListening> {
  const open = new Set<Socket>();
  const server: TcpServer = createTcpServer({ noDelay: true }, (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    const peer: PeerSocket = {
      send: (frame) => void socket.write(frame),
      // TCP has no close reason on the wire; the reason is in the log line.
      close: () => socket.destroy(),
    };
    const id = accept.open(peer, `${socket.remoteAddress}:${socket.remotePort}`);
    if (id === undefined) return void socket.destroy();
    socket.on('data', (chunk) => accept.receive(id, peer, chunk));
    socket.on('error', (error) => accept.error(id, error));
    socket.on('close', () => accept.closed(id, peer));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, hostname, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        openSockets: () => open.size,
        stop: () => server.close(),
        destroyAll: () => open.forEach((socket) => socket.destroy()),
      });
    });
  });
}
