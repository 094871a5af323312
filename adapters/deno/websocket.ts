/**
 * WebSocket peers on Deno, straight on `Deno.upgradeWebSocket`: the hub's app answers
 * `/connect` (admission is runtime/hub/connect.ts) and an admitted request is upgraded
 * here. As on Node (adapters/node/upgrade.ts), nothing per socket but the socket and one
 * small peer record: its listeners are shared functions that find the peer on the socket
 * they fire on, where Hono's helper kept a context and four closures per socket.
 *
 * Deno's server `WebSocket.close()` sends the close frame and then waits for the peer's;
 * there is no `terminate()` (denoland/deno#24292, #27924). So the socket of a peer
 * declared dead while its process is frozen stays counted (`OpenSockets`) until that
 * process answers or its TCP connection fails; its actor is gone at once.
 */
import type { ConnectionId, Host, PeerSocket, SocketRegistry } from '../../runtime/host/index.ts';
import { closeFrame, type EndCause } from '../../runtime/protocol/index.ts';
import type { AcceptSocket, ConnectGate, ConnectTicket } from '../../runtime/hub/index.ts';
import type { Frame } from '../../runtime/codec/index.ts';

/** The raw WebSockets a server holds, from upgrade to close. */
export class OpenSockets {
  readonly #open = new Set<WebSocket>();
  #waiters: (() => void)[] = [];

  get size(): number {
    return this.#open.size;
  }

  add(ws: WebSocket): void {
    this.#open.add(ws);
  }

  delete(ws: WebSocket): void {
    this.#open.delete(ws);
    if (this.#open.size > 0) return;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves once every socket has closed (at once when none is open). */
  empty(): Promise<void> {
    if (this.#open.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** What every socket of one server is bound to. */
interface Parts {
  host: Host;
  sockets: SocketRegistry;
  gate: ConnectGate;
  open: OpenSockets;
}

/** One upgraded socket as the host sees it. */
class DenoPeer implements PeerSocket {
  id: ConnectionId | undefined = undefined;
  /** Until the socket opens and is bound. */
  ticket: ConnectTicket | undefined;
  readonly ws: WebSocket;
  readonly parts: Parts;

  constructor(ws: WebSocket, ticket: ConnectTicket, parts: Parts) {
    this.ws = ws;
    this.ticket = ticket;
    this.parts = parts;
  }

  send(frame: Frame): void {
    this.ws.send(frame as string | Uint8Array<ArrayBuffer>);
  }

  close(cause: EndCause): void {
    const { code, reason } = closeFrame(cause);
    this.ws.close(code, reason);
  }

  /** Still the socket of its connection: not closed by the host, replaced by a resume, or let go on a restart. */
  get current(): boolean {
    return this.parts.sockets.holds(this.id, this);
  }
}

const PEER = Symbol('keepalive peer');
type BoundSocket = WebSocket & { [PEER]: DenoPeer };
const peerOf = (ws: WebSocket): DenoPeer => (ws as BoundSocket)[PEER];

/** The hub's `accept` on Deno: upgrades an admitted `/connect` (the hub has checked the upgrade header). */
export function denoAcceptor(parts: { host: Host; sockets: SocketRegistry; gate: ConnectGate }, open: OpenSockets): AcceptSocket {
  const shared: Parts = { ...parts, open };
  return (c, ticket) => {
    // As `ws` on Node and Hono's helper did: the client's first subprotocol, if it offers any.
    const protocol = c.req.header('sec-websocket-protocol')?.split(',')[0]?.trim();
    // idleTimeout 0: Deno's own idle check re-arms a system timer with a fresh closure on every
    // inbound message; the keepalive statechart already decides when this peer is dead.
    const options: Deno.UpgradeWebSocketOptions = { idleTimeout: 0 };
    if (protocol) options.protocol = protocol;
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw, options);
    socket.binaryType = 'arraybuffer';
    (socket as BoundSocket)[PEER] = new DenoPeer(socket, ticket, shared);
    socket.addEventListener('open', onOpen);
    socket.addEventListener('message', onMessage);
    socket.addEventListener('close', onClose);
    socket.addEventListener('error', onError);
    return response;
  };
}

function onOpen(this: WebSocket): void {
  const peer = peerOf(this);
  peer.parts.open.add(this);
  const bound = peer.parts.gate.attach(peer.ticket!, peer);
  peer.ticket = undefined;
  if (typeof bound === 'string') peer.id = bound;
  else this.close(bound.code, bound.error);
}

function onMessage(this: WebSocket, event: MessageEvent): void {
  const peer = peerOf(this);
  if (!peer.current) return;
  const data: unknown = event.data;
  if (typeof data === 'string') peer.parts.host.receive(peer.id!, data);
  else if (data instanceof ArrayBuffer) peer.parts.host.receive(peer.id!, new Uint8Array(data));
  else this.close(1003, 'unsupported frame');
}

function onClose(this: WebSocket, event: CloseEvent): void {
  const peer = peerOf(this);
  peer.parts.open.delete(this);
  if (peer.current) peer.parts.gate.closedByPeer(peer.id!, event.code, event.reason);
}

function onError(this: WebSocket): void {
  const peer = peerOf(this);
  if (peer.current) peer.parts.gate.socketGone(peer.id!, 1006, { cause: 'socket-lost' });
}
