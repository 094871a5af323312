/**
 * WebSocket peers on Node, straight on `ws`: the hub's app answers `/connect` (admission is
 * runtime/hub/connect.ts), and only an admitted request is upgraded. Nothing of the HTTP
 * request outlives the upgrade: a framework context kept per socket is memory every peer
 * pays (figure 9), and a refusal is written whole (status, headers, the JSON body saying
 * why), where @hono/node-ws wrote an empty answer.
 *
 * Frames out are queued and written together at the end of the turn (the host's tick
 * PINGs many connections at once): syscalls in a row, not between statechart steps, cost
 * less each. Per socket the order holds, and a close writes what is queued first.
 */
import { type IncomingMessage, type Server as HttpServer, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Hono } from 'hono';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { ConnectionId, Host, PeerSocket, SocketRegistry } from '../../runtime/host/index.ts';
import { abandonsPeer, closeFrame, type EndCause } from '../../runtime/protocol/index.ts';
import type { AcceptSocket, ConnectGate, ConnectTicket } from '../../runtime/hub/index.ts';
import type { Frame } from '../../runtime/codec/index.ts';

/** What the HTTP layer hands the app with each request (@hono/node-server's `env`). */
interface NodeBindings {
  incoming: IncomingMessage;
}

export class NodeUpgrades {
  readonly wss: WebSocketServer;
  /** Tickets of admitted requests, until their upgrade completes. */
  readonly #admitted = new WeakMap<IncomingMessage, ConnectTicket>();
  readonly #log: (line: string) => void;

  constructor(maxPayload: number, log: (line: string) => void) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload });
    this.#log = log;
  }

  /** The hub's `accept`: an admitted request is remembered for the upgrade below. */
  acceptor(parts: { host: Host; sockets: SocketRegistry; gate: ConnectGate }): AcceptSocket {
    this.#parts = { ...parts, log: this.#log };
    return (c, ticket) => {
      const incoming = (c.env as NodeBindings | undefined)?.incoming;
      if (!incoming) return Response.json({ error: 'not a Node upgrade request' }, { status: 500 });
      this.#admitted.set(incoming, ticket);
      // Not sent: the upgrade below answers 101 itself.
      return new Response(null, { status: 204 });
    };
  }

  #parts: Parts | undefined;

  /** Routes every upgrade request of `http` through `app`. */
  listen(http: HttpServer, app: Hono): void {
    http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => {});
      void this.#upgrade(app, request, socket, head).catch((error: unknown) => {
        this.#log(`upgrade failed: ${String(error)}`);
        socket.destroy();
      });
    });
  }

  async #upgrade(app: Hono, request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const headers = new Headers();
    for (const [key, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers.append(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await app.fetch(new Request(url, { headers }), { incoming: request } satisfies NodeBindings);
    const ticket = this.#admitted.get(request);
    this.#admitted.delete(request);
    if (!ticket || !this.#parts) return refuse(socket, response);
    const parts = this.#parts;
    this.wss.handleUpgrade(request, socket, head, (ws) => bind(ws, ticket, parts));
  }
}

/** Writes the app's answer on a socket that asked to upgrade, then closes it. */
async function refuse(socket: Duplex, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  const lines = [`HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ''}`, 'Connection: close', `Content-Length: ${body.length}`];
  response.headers.forEach((value, key) => {
    if (key !== 'content-length' && key !== 'connection') lines.push(`${key}: ${value}`);
  });
  socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), body]));
}

/** What every socket of one server is bound to. */
interface Parts {
  host: Host;
  sockets: SocketRegistry;
  gate: ConnectGate;
  log: (line: string) => void;
}

/**
 * One upgraded socket as the host sees it. Its listeners are shared by every socket (they
 * find their peer on `this`, the socket they fire on): closures per socket would be memory
 * every peer pays for its whole life.
 */
class WsPeer implements PeerSocket {
  id: ConnectionId | undefined = undefined;
  readonly ws: WebSocket;
  readonly parts: Parts;

  constructor(ws: WebSocket, parts: Parts) {
    this.ws = ws;
    this.parts = parts;
  }

  send(frame: Frame): void {
    if (outgoing.length === 0) queueMicrotask(flushOutgoing);
    outgoing.push(this.ws, frame);
  }

  close(cause: EndCause): void {
    flushOutgoing();
    const { code, reason } = closeFrame(cause);
    this.ws.close(code, reason);
    // A dead peer (or one that never advertised) may never finish the close handshake:
    // the close frame goes out with its reason, then the socket is let go now, not after
    // ws's 30 s close timeout.
    if (abandonsPeer(cause)) this.ws.terminate();
  }

  /** Still the socket of its connection: not closed by the host, replaced by a resume, or let go on a restart. */
  get current(): boolean {
    return this.parts.sockets.holds(this.id, this);
  }
}

const PEER = Symbol('keepalive peer');
type BoundSocket = WebSocket & { [PEER]: WsPeer };
const peerOf = (ws: WebSocket): WsPeer => (ws as BoundSocket)[PEER];

/** The upgraded socket, bound to its connection (or closed, if the hub changed meanwhile). */
function bind(ws: WebSocket, ticket: ConnectTicket, parts: Parts): void {
  const peer = new WsPeer(ws, parts);
  (ws as BoundSocket)[PEER] = peer;
  ws.on('error', onError);
  const bound = parts.gate.attach(ticket, peer);
  if (typeof bound !== 'string') return ws.close(bound.code, bound.error);
  peer.id = bound;
  ws.on('message', onMessage);
  ws.on('close', onClose);
}

function onError(this: WebSocket, error: Error): void {
  peerOf(this).parts.log(`websocket error: ${error.message}`);
}

function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  const peer = peerOf(this);
  if (!peer.current) return;
  const { host } = peer.parts;
  const id = peer.id!;
  // Binary frames as plain Uint8Array views (no copy), as on every other runtime.
  if (!isBinary) host.receive(id, data.toString());
  else if (data instanceof ArrayBuffer) host.receive(id, new Uint8Array(data));
  else {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : data;
    host.receive(id, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
}

function onClose(this: WebSocket, code: number, reason: Buffer): void {
  const peer = peerOf(this);
  if (!peer.current) return;
  peer.parts.gate.closedByPeer(peer.id!, code, reason.toString());
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
