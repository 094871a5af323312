/**
 * `/connect` admission, written once for every runtime: the dialect, the session secret,
 * who the peer is (the `authorize` hook or `?peer=`), whether the hub has room, and, once
 * the platform has a socket, opening or resuming the connection behind it. A platform only
 * turns an admitted request into a socket (`ws` on Node, `Deno.upgradeWebSocket` on Deno,
 * `acceptWebSocket` on a Durable Object) and reports its frames and its close.
 *
 * The order of the checks decides which answer a request that is wrong twice gets, so it
 * is the same everywhere: 426 (no upgrade), 400 (dialect, session secret, peer name),
 * the hook's own answer, 409 (session attached), 503 (full; a resume never counts).
 */
import type { CodecSpec } from '../codec/index.ts';
import { CapacityError, type ConnectionId, type Host, type PeerSocket, type SocketRegistry } from '../host/index.ts';
import { hashSessionSecret, isSessionSecret, newConnectionId, outlivesSocket, SESSION_META, SESSION_PARAM, SessionIndex, type EndCause } from '../protocol/index.ts';
import { type Admitted, type Application, isResponse, PEER_META, PRESENCE_META, refusal, type PresenceMark } from '../application/index.ts';
import { PRESENCE_PARAM } from '../protocol/index.ts';
import { chosenProtocol, DELIVERY_META, offersDelivery, type HubDelivery } from './delivery.ts';

/** The query parameter that picks the dialect on `/connect`. */
export const CODEC_PARAM = 'codec';

/** `?codec=libvirt` on /connect: binary frames in libvirt's format; default: the text dialect. */
export function codecFromQuery(value: string | null | undefined): CodecSpec | Error {
  if (value === undefined || value === null || value === '' || value === 'text') return TEXT;
  if (value === 'libvirt') return LIBVIRT;
  return new Error(`unknown codec "${value.slice(0, 40)}": use text (default) or libvirt`);
}

const TEXT: CodecSpec = Object.freeze({ name: 'text' });
const LIBVIRT: CodecSpec = Object.freeze({ name: 'libvirt', advertise: true });
/** Shared by every connection with nothing of its own to keep: a meta object per connection is memory every peer pays. */
const PLAIN_META: Record<CodecSpec['name'], Readonly<Record<string, string>>> = {
  text: Object.freeze({ transport: 'websocket', codec: 'text' }),
  libvirt: Object.freeze({ transport: 'websocket', codec: 'libvirt' }),
};
const TCP_META: Readonly<Record<string, string>> = Object.freeze({ transport: 'tcp', codec: 'libvirt' });

/** What an admitted `/connect` request goes ahead with, decided before the upgrade. */
export interface ConnectTicket {
  readonly codec: CodecSpec;
  /** The connection's meta if it is new: the hook's, the transport, the dialect, the peer, the session. */
  readonly meta: Readonly<Record<string, string>>;
  /** SHA-256 of the presented session secret, if any. */
  readonly session: string | undefined;
  /** Delivery mode: the connection's frames go through its link (runtime/hub/delivery.ts). */
  readonly delivery: boolean;
  /** The subprotocol the platform selects in the upgrade's answer, if any. */
  readonly protocol: string | undefined;
}

/** Why a socket could not be bound after all (the state changed during the upgrade). */
export interface ConnectRefusal {
  readonly status: 409 | 503;
  /** The WebSocket close code when the socket is already open. */
  readonly code: 4409 | 1013;
  readonly error: string;
}

export const ERRORS = {
  upgrade: 'expected a WebSocket upgrade',
  session: 'a session secret is 16 to 128 characters of A-Z a-z 0-9 _ -',
  attached: 'this session is attached to a live connection',
  full: 'connection limit reached',
  elsewhere: 'this session is held by another process that is not answering; try again shortly',
  delivery: 'this session was opened in delivery mode: offer its subprotocol on every connect',
  plain: 'this session was opened without delivery mode: it cannot change on a resume',
} as const;

/** Where a presented session's connection is in a clustered hub (see `Cluster.claim`). */
export type RemoteSession = (hash: string) => Promise<'here' | 'none' | 'attached' | 'unavailable'>;

export interface ConnectGateOptions {
  host: Host;
  sockets: SocketRegistry;
  application: Application;
  /** A peer reattached a new socket to its connection. */
  onResume?: ((id: ConnectionId) => void) | undefined;
  /** A clustered hub: brings a session another process holds here before it is claimed. */
  remoteSession?: RemoteSession | undefined;
  /** Delivery mode's links: told when a socket comes and goes. */
  delivery?: HubDelivery | undefined;
  /** Presence for peers is on: a connection may subscribe (`?presence=1`), `authorize` may deny it or hide the peer. */
  presence?: boolean | undefined;
  /** A socket now carries connection `id` (new or resumed), after the platform accepted it. */
  onAttached?: ((id: ConnectionId) => void) | undefined;
}

export class ConnectGate {
  readonly #host: Host;
  readonly #sockets: SocketRegistry;
  readonly #application: Application;
  readonly #onResume: ((id: ConnectionId) => void) | undefined;
  readonly #remoteSession: RemoteSession | undefined;
  readonly #delivery: HubDelivery | undefined;
  readonly #presence: boolean;
  readonly #onAttached: ((id: ConnectionId) => void) | undefined;
  /** Built on first use: a rebuilt hub indexes the connections it restored by then. */
  #sessions: SessionIndex | undefined;

  constructor(options: ConnectGateOptions) {
    this.#host = options.host;
    this.#sockets = options.sockets;
    this.#application = options.application;
    this.#onResume = options.onResume;
    this.#remoteSession = options.remoteSession;
    this.#delivery = options.delivery;
    this.#presence = options.presence ?? false;
    this.#onAttached = options.onAttached;
  }

  /** Session hashes of the host's connections; `refresh()` it after restoring more. */
  get sessions(): SessionIndex {
    return (this.#sessions ??= new SessionIndex(this.#host));
  }

  /** Every check `/connect` makes before the upgrade. A `Response` refuses: answer it as is. */
  async admit(request: Request): Promise<ConnectTicket | Response> {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') return refusal(426, ERRORS.upgrade);
    const query = new URL(request.url).searchParams;
    const codec = codecFromQuery(query.get(CODEC_PARAM));
    if (codec instanceof Error) return refusal(400, codec.message);
    const secret = query.get(SESSION_PARAM);
    if (secret !== null && !isSessionSecret(secret)) return refusal(400, ERRORS.session);
    const admitted = await this.#application.admit(request);
    if (isResponse(admitted)) return admitted;
    const session = secret === null ? undefined : await hashSessionSecret(secret);
    let claim = session === undefined ? 'new' : this.sessions.claim(session, this.#attached).kind;
    if (claim === 'new' && session !== undefined && this.#remoteSession) {
      const place = await this.#remoteSession(session);
      if (place === 'unavailable') return refusal(503, ERRORS.elsewhere);
      if (place === 'attached') claim = 'attached';
      else if (place === 'here') claim = this.sessions.claim(session, this.#attached).kind;
    }
    // Never two sockets on one actor, and never someone else's live connection.
    if (claim === 'attached') return refusal(409, ERRORS.attached);
    if (claim === 'new' && this.#host.atCapacity) return refusal(503, ERRORS.full);
    // Delivery mode needs a connection that outlives its socket (a session), on the text dialect.
    const delivery = this.#delivery !== undefined && session !== undefined && codec.name === 'text' && offersDelivery(request);
    if (claim === 'resume') {
      const resumed = this.sessions.lookup(session!);
      const speaks = resumed !== undefined && this.#delivery?.speaks(resumed) === true;
      if (speaks !== delivery) return refusal(400, speaks ? ERRORS.delivery : ERRORS.plain);
    }
    const presence = this.#presence ? presenceMark(admitted, query.get(PRESENCE_PARAM)) : undefined;
    const plain = admitted.peer === null && session === undefined && presence === undefined && Object.keys(admitted.meta).length === 0;
    const meta: Readonly<Record<string, string>> = plain
      ? PLAIN_META[codec.name]
      : {
          ...admitted.meta,
          transport: 'websocket',
          codec: codec.name,
          ...(admitted.peer !== null ? { [PEER_META]: admitted.peer } : {}),
          ...(session === undefined ? {} : { [SESSION_META]: session }),
          ...(delivery ? { [DELIVERY_META]: '1' } : {}),
          ...(presence === undefined ? {} : { [PRESENCE_META]: presence }),
        };
    return { codec, meta, session, delivery, protocol: chosenProtocol(request.headers.get('sec-websocket-protocol'), delivery) };
  }

  /**
   * Binds an upgraded socket: the session's connection resumed (same id, counters and
   * deadlines; its arrival is a sign of life), or a new connection opened (with `id` when
   * the platform named it already). Decided again now: another socket may have claimed
   * the session, or the hub filled up, while the upgrade went on.
   */
  attach(ticket: ConnectTicket, socket: PeerSocket, id?: ConnectionId): ConnectionId | ConnectRefusal {
    const claim = ticket.session === undefined ? ({ kind: 'new' } as const) : this.sessions.claim(ticket.session, this.#attached);
    if (claim.kind === 'attached') return { status: 409, code: 4409, error: ERRORS.attached };
    if (claim.kind === 'resume') {
      this.#sockets.attach(claim.id, socket);
      this.#delivery?.attach(claim.id, socket);
      this.#host.noteSignOfLife(claim.id, Date.now());
      this.#onResume?.(claim.id);
      this.#onAttached?.(claim.id);
      return claim.id;
    }
    let opened: ConnectionId;
    try {
      // Attached first, so whatever the actor says first has a socket to go to.
      if (id !== undefined) this.#sockets.attach(id, socket);
      opened = this.#host.open({ ...(id === undefined ? {} : { id }), role: 'server', codec: ticket.codec, meta: ticket.meta });
    } catch (error) {
      if (id !== undefined) this.#sockets.detach(id);
      if (error instanceof CapacityError) return { status: 503, code: 1013, error: ERRORS.full };
      throw error;
    }
    if (id === undefined) this.#sockets.attach(opened, socket);
    this.#delivery?.attach(opened, socket);
    if (ticket.session !== undefined) this.sessions.add(ticket.session, opened);
    this.#onAttached?.(opened);
    return opened;
  }

  /**
   * The socket of `id` closed (`code`: 1006 when it failed without a close frame). Its
   * connection ends, unless it has a session whose peer left without a goodbye: then it
   * waits, detached, for the peer's secret or the keepalive rule. Call it only for the
   * socket the connection still has (not one a resume replaced, nor one the host closed).
   */
  socketGone(id: ConnectionId, code: number, cause: EndCause = { cause: 'peer-closed', code }): void {
    this.#sockets.detach(id);
    this.#delivery?.detach(id);
    if (outlivesSocket(this.#host, id, code)) return;
    this.#host.peerClosed(id, cause);
  }

  /** `socketGone` for a close the peer sent, with what it said (empty: nothing to add). */
  closedByPeer(id: ConnectionId, code: number, said: string): void {
    this.socketGone(id, code, { cause: 'peer-closed', code, ...(said ? { said } : {}) });
  }

  /**
   * A libvirt-framed byte stream (TCP, a UNIX socket): no upgrade, no session, opened at
   * once. Returns the connection, or why it was refused (the hub is full).
   */
  openStream(socket: PeerSocket): ConnectionId | CapacityError {
    const id = newConnectionId();
    this.#sockets.attach(id, socket);
    try {
      this.#host.open({ id, role: 'server', codec: LIBVIRT, stream: true, meta: TCP_META });
    } catch (error) {
      this.#sockets.detach(id);
      if (error instanceof CapacityError) return error;
      throw error;
    }
    return id;
  }

  /** A stream's socket closed. Ignored unless the connection still has that socket (not one the host closed or a restart let go of). */
  streamGone(id: ConnectionId, socket: PeerSocket): void {
    if (this.#sockets.get(id) !== socket) return;
    this.#sockets.detach(id);
    this.#host.peerClosed(id, { cause: 'peer-closed', stream: true });
  }

  readonly #attached = (id: ConnectionId): boolean => this.#sockets.get(id) !== undefined;
}

/** What presence may do with a connection: `authorize`'s word, and whether it asked to subscribe (`?presence=1`). */
function presenceMark(admitted: Admitted, asked: string | null): PresenceMark | undefined {
  const subscribe = asked === '1' || asked === 'true';
  if (admitted.presence === 'hidden') return subscribe ? 'hidden-sub' : 'hidden';
  if (!subscribe) return undefined;
  return admitted.presence === false ? 'off' : 'sub';
}

