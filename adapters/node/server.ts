/**
 * The Node runtime: the hub (runtime/hub/) on @hono/node-server, WebSocket peers straight
 * on `ws` (upgrade.ts), libvirt-framed peers on `node:net`, every
 * deadline on one process timer, and with `statePath` a SQLite file that connections and
 * undelivered events outlive the process in.
 */
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { DEFAULTS } from '../../runtime/protocol/index.ts';
import { SHUTDOWN_GRACE_MS, startHubServer, type DurableParts, type HttpListening, type RunningServer, type ServerOptions as HubServerOptions, type StreamAcceptor, type TcpListening } from '../../runtime/server/index.ts';
import { type PeerSocket, WakeTimer } from '../../runtime/host/index.ts';
import { NodeUpgrades } from './upgrade.ts';

export interface ServerOptions extends HubServerOptions {
  /**
   * A SQLite file for snapshots and undelivered events (created if missing). Connections
   * stored there are resumed before the server listens, and a shutdown keeps them for the
   * next start. Default: in memory, gone with the process.
   */
  statePath?: string;
}

export type { CloseOptions, RunningServer } from '../../runtime/server/index.ts';
export type { ClusterOptions } from '../../runtime/cluster/index.ts';

export async function startServer(options: ServerOptions = {}): Promise<RunningServer<WakeTimer>> {
  const log = options.log ?? (() => {});
  // Frames a little over the limit reach the Host, which closes with a reason naming the
  // limit; ws cuts off anything far larger (1009) before buffering it (its default is 100 MiB).
  const upgrades = new NodeUpgrades((options.maxFrameBytes ?? DEFAULTS.maxFrameBytes) * 2, log);
  const { wss } = upgrades;
  return startHubServer(options, {
    durable: options.statePath ? await sqliteState(options.statePath) : undefined,
    timer: (wake, onError) => new WakeTimer({ wake, onError, ...(options.timers ? { timers: options.timers } : {}) }),
    accept: (parts) => upgrades.acceptor(parts),
    async serve(app, hostname, port) {
      const http = await listenHttp(app, hostname, port);
      upgrades.listen(http, app);
      const closed = new Promise<void>((resolve) => http.once('close', () => resolve()));
      return {
        port: (http.address() as AddressInfo).port,
        openSockets: () => wss.clients.size,
        stop: () => http.close(),
        async close() {
          // The goodbyes' close handshakes get a moment; a frozen peer never answers.
          const deadline = Date.now() + SHUTDOWN_GRACE_MS;
          while (wss.clients.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
          for (const ws of wss.clients) ws.terminate();
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
  const deliveries = new (await import('./sqlite-deliveries.ts')).SqliteDeliveryStore(store);
  return { store, events, deliveries, where: store.path, close: () => store.close() };
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
