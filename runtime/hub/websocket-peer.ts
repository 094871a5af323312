/**
 * A WebSocket as a peer of the hub, written once for every runtime. A platform only
 * translates: it implements a small port (how to send a frame, how to close with a code
 * and reason, whether it can let a socket go at once) and feeds its socket's events in
 * (`message`, `closed`, `failed`). What they mean is decided here: whether the socket is
 * still its connection's (not closed by the host, replaced by a resume, or let go on a
 * restart), a binary frame as a plain `Uint8Array` view, a close as the peer's, an error
 * as a lost socket.
 *
 * One peer record per socket and nothing else: the port and the hub's parts are shared by
 * every socket of a hub, and a platform's listeners are shared functions that find the peer
 * on the socket they fire on (`peerOf`). A closure per socket is memory every peer pays for
 * its whole life (figure 9: a Node server holds about 16.6 KiB per live connection).
 */
import type { Frame } from '../codec/index.ts';
import type { ConnectionId, Host, PeerSocket, SocketRegistry } from '../host/index.ts';
import { abandonsPeer, closeFrame, isPresenceFrame, type EndCause } from '../protocol/index.ts';
import type { PresenceFeed } from '../presence/index.ts';
import type { ConnectGate, ConnectRefusal, ConnectTicket } from './connect.ts';
import type { HubDelivery } from './delivery.ts';

/** What a platform's WebSocket does, given the socket: one object per platform (or server), shared by all its sockets. */
export interface WebSocketPort<S> {
  send(socket: S, frame: Frame): void;
  close(socket: S, code: number, reason: string): void;
  /**
   * Lets the socket go now, after its close frame went out, without waiting for the peer's
   * half of the handshake (`ws.terminate()` on Node). Absent where the platform has none
   * (Deno: denoland/deno#24292; a Durable Object).
   */
  terminate?(socket: S): void;
}

/** What every WebSocket peer of one hub is bound to: its platform's port and the hub's parts. */
export interface PeerHub<S> {
  readonly port: WebSocketPort<S>;
  readonly host: Host;
  readonly sockets: SocketRegistry;
  readonly gate: ConnectGate;
  /** Frames in go through here: a delivery-mode connection's link, else the host. */
  readonly delivery: HubDelivery;
  /** Presence for peers, when the hub has it on: its frames go here, in either mode. */
  readonly presence?: PresenceFeed | undefined;
}

/** A socket failed without a close frame: nothing more is known. */
const LOST: EndCause = Object.freeze({ cause: 'socket-lost' });

/** One WebSocket as the host sees it, and what its events mean. `H`: the platform's hub, when it keeps more per hub. */
export class WebSocketPeer<S, H extends PeerHub<S> = PeerHub<S>> implements PeerSocket {
  /** The connection it is bound to; undefined until then. */
  id: ConnectionId | undefined = undefined;
  readonly socket: S;
  readonly hub: H;

  constructor(socket: S, hub: H) {
    this.socket = socket;
    this.hub = hub;
  }

  send(frame: Frame): void {
    this.hub.port.send(this.socket, frame);
  }

  close(cause: EndCause): void {
    const { port } = this.hub;
    const { code, reason } = closeFrame(cause);
    port.close(this.socket, code, reason);
    // A dead peer (or one that never advertised) may never finish the close handshake: the
    // close frame goes out with its reason, then the socket is let go now, not after the
    // platform's close timeout (ws: 30 s).
    if (abandonsPeer(cause)) port.terminate?.(this.socket);
  }

  /** Still the socket of its connection: not closed by the host, replaced by a resume, or let go on a restart. */
  get current(): boolean {
    return this.hub.sockets.holds(this.id, this);
  }

  /**
   * Binds the socket to the connection its ticket admitted (a new one, with `id` when the
   * platform named it already, or the session's it resumes), or says why not after all.
   */
  attach(ticket: ConnectTicket, id?: ConnectionId): ConnectionId | ConnectRefusal {
    const bound = this.hub.gate.attach(ticket, this, id);
    if (typeof bound === 'string') this.id = bound;
    return bound;
  }

  /** `attach` for a socket that is open already: refused, it is closed with the refusal's code. */
  open(ticket: ConnectTicket): boolean {
    const bound = this.attach(ticket);
    if (typeof bound === 'string') return true;
    this.hub.port.close(this.socket, bound.code, bound.error);
    return false;
  }

  /** The connection's socket again, after the object that bound it went away (a Durable Object's, hibernated). */
  adopt(id: ConnectionId): void {
    this.id = id;
    this.hub.sockets.attach(id, this);
  }

  /**
   * A message arrived: text as is, binary (an `ArrayBuffer` or a view of one, a Node
   * `Buffer`) as a plain `Uint8Array` view, no copy, as on every runtime. Anything else (a
   * `Blob`) closes the socket with 1003. Returns what the host says (false: not current).
   */
  message(data: unknown, at?: number): boolean {
    if (!this.current) return false;
    const frame = frameOf(data);
    const presence = this.hub.presence;
    if (presence && isPresenceFrame(frame)) {
      // A control frame outside delivery mode's sequence, and a sign of life like any frame.
      presence.receive(this.id!, frame);
      return this.hub.host.deliver(this.id!, 'MESSAGE', at) && this.hub.host.has(this.id!);
    }
    if (frame !== undefined) return this.hub.delivery.receive(this.id!, frame, at);
    this.hub.port.close(this.socket, 1003, 'unsupported frame');
    return false;
  }

  /** The peer closed the socket (`code` 1006: it went without a close frame). Returns whether it was the connection's socket. */
  closed(code: number, said: string): boolean {
    if (!this.current) return false;
    this.hub.gate.closedByPeer(this.id!, code, said);
    return true;
  }

  /** The socket failed under us (an error event, `error` saying what if the platform does). Returns whether it was the connection's socket. */
  failed(error?: string): boolean {
    if (!this.current) return false;
    this.hub.gate.socketGone(this.id!, 1006, error === undefined ? LOST : { cause: 'socket-lost', error });
    return true;
  }
}

/** A WebSocket message as a frame: text as is, binary bytes as a plain `Uint8Array` view; undefined for anything else. */
export function frameOf(data: unknown): Frame | undefined {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

const PEER = Symbol('keepalive peer');

/** A new peer for `socket`, kept on the socket itself, where a platform's shared listeners find it (`peerOf`). */
export function bindPeer<S extends object, H extends PeerHub<S>>(socket: S, hub: H): WebSocketPeer<S, H> {
  const peer = new WebSocketPeer(socket, hub);
  (socket as S & { [PEER]: WebSocketPeer<S, H> })[PEER] = peer;
  return peer;
}

/** The peer `bindPeer` kept on `socket` (the `this` of a shared listener). */
export function peerOf<S extends object, H extends PeerHub<S> = PeerHub<S>>(socket: S): WebSocketPeer<S, H> {
  return (socket as S & { [PEER]: WebSocketPeer<S, H> })[PEER];
}
