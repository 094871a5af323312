/**
 * How a request becomes a WebSocket on Node: every upgrade request goes through the hub's
 * app, and one it admitted at `/connect` (runtime/hub/connect.ts) is upgraded by `ws` into
 * the hub's peer (websocket.ts); anything else gets the app's answer written whole (status,
 * headers, the JSON body saying why). Nothing of the request outlives the upgrade: a
 * framework context kept per socket is memory every peer pays (figure 9).
 */
import { type IncomingMessage, type Server as HttpServer, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Hono } from 'hono';
import { WebSocketServer } from 'ws';
import type { AcceptSocket, ConnectTicket } from '../../runtime/hub/index.ts';
import { type NodeHub, WS_PORT, wsPeer } from './websocket.ts';

/** Admitted requests while `ws` upgrades them, for its subprotocol choice (gone with the request). */
const upgrading = new WeakMap<IncomingMessage, ConnectTicket>();

/** What the HTTP layer hands the app with a request (@hono/node-server's `env`), and the ticket `/connect` gave it. */
type Bindings = { incoming?: IncomingMessage; ticket?: ConnectTicket } | undefined;

export class NodeUpgrades {
  readonly wss: WebSocketServer;
  readonly #log: (line: string) => void;
  #hub: NodeHub | undefined;

  constructor(maxPayload: number, log: (line: string) => void) {
    // The subprotocol is the hub's choice, made at admission (delivery mode's, or the client's first).
    this.wss = new WebSocketServer({ noServer: true, maxPayload, handleProtocols: (_offered, request) => upgrading.get(request)?.protocol ?? false });
    this.#log = log;
  }

  /** The hub's `accept`: an admitted request keeps its ticket for the upgrade. */
  acceptor(parts: Omit<NodeHub, 'port' | 'log'>): AcceptSocket {
    this.#hub = { ...parts, port: WS_PORT, log: this.#log };
    return (c, ticket) => {
      const bindings = c.env as Bindings;
      if (!bindings?.incoming) return Response.json({ error: 'not a Node upgrade request' }, { status: 500 });
      bindings.ticket = ticket;
      // Not sent: the upgrade answers 101 itself.
      return new Response(null, { status: 204 });
    };
  }

  /** Routes every upgrade request of `http` through `app`. */
  listen(http: HttpServer, app: Hono): void {
    http.on('upgrade', (incoming: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => {});
      this.#upgrade(app, incoming, socket, head).catch((error: unknown) => {
        this.#log(`upgrade failed: ${String(error)}`);
        socket.destroy();
      });
    });
  }

  async #upgrade(app: Hono, incoming: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const headers = new Headers();
    for (const [key, value] of Object.entries(incoming.headers)) if (value !== undefined) headers.append(key, Array.isArray(value) ? value.join(', ') : value);
    const bindings: Bindings = { incoming };
    const response = await app.fetch(new Request(new URL(incoming.url ?? '/', 'http://localhost'), { headers }), bindings);
    const { ticket } = bindings;
    const hub = this.#hub;
    if (ticket && hub) {
      upgrading.set(incoming, ticket);
      return this.wss.handleUpgrade(incoming, socket, head, (ws) => wsPeer(ws, ticket, hub));
    }
    const body = Buffer.from(await response.arrayBuffer());
    const lines = [`HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ''}`, 'Connection: close', `Content-Length: ${body.length}`];
    response.headers.forEach((value, key) => void (key === 'content-length' || key === 'connection' || lines.push(`${key}: ${value}`)));
    socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), body]));
  }
}
