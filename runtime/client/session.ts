/**
 * One socket's life of a keepalive client: one `client` actor in its own Host, woken by
 * its own WakeTimer. The client (keepalive-client.ts) reports here when its socket opened,
 * what arrived and when it closed; what happens comes back out through `emit`. With
 * `dialect: 'libvirt'` it runs libvirt's supports-feature handshake instead of ADVERTISE.
 * With `resumable` a dropped socket may be replaced under the same actor (`lost`, then
 * `reattached`): the client holds the secret and the backoff, this the actor.
 */
import { nanoid } from 'nanoid';
import type { KeepaliveMessage } from '../../actors/keepalive.ts';
import { assertApplicationFrame, TEXT_FRAMES, type Frame, type Inbound } from '../codec/index.ts';
import type { CodecFactory } from '../host/index.ts';
import { type ConnectionView, Host, type HostEvent, type PeerSocket, SocketRegistry, type TimerApi, WakeTimer } from '../host/index.ts';
import { DEFAULT_NEGOTIATION_TIMEOUT, endText, type EndCause, type KeepaliveSupport, type LibvirtHandshake, type LibvirtHandshakeOptions } from '../protocol/index.ts';

export interface ClientOptions {
  /** Our keepalive interval, ms. Default 5000. */
  interval?: number;
  /** Unanswered PINGs before the server is dead. Default 5. */
  count?: number;
  /** false: never PING, never declare death; the server's PINGs are still answered. */
  sendPings?: boolean;
  onEvent?: (event: HostEvent) => void;
  timers?: TimerApi;
  /** Default `keepalive`. `libvirt`: a libvirt daemon over TCP or its UNIX socket. */
  dialect?: Dialect;
  /** libvirt: close when the daemon has no keepalive. Default: stay connected, unchecked, sending nothing keepalive. */
  requireKeepalive?: boolean;
  /** libvirt: ms to wait for the CONNECT_SUPPORTS_FEATURE reply. Default 10000. */
  negotiationTimeout?: number;
  /**
   * libvirt: runs the supports-feature handshake (`startLibvirtHandshake`). Given by the
   * clients that can reach a libvirt daemon (Node), so a browser's bundle carries none of it.
   */
  handshake?: (options: LibvirtHandshakeOptions) => LibvirtHandshake;
  /** The dialects' codecs (`createCodec`), from the clients that speak libvirt frames; default: text only. */
  codecs?: CodecFactory;
  /**
   * The client presents a session secret (ws:// only): when the socket drops, the actor
   * keeps running (PINGs meanwhile go nowhere and count as unanswered) while the client
   * reconnects, so the server resumes our connection. A server that stays away longer than
   * our bound is declared dead as usual.
   */
  resumable?: boolean;
}

/**
 * `keepalive`: this project's servers (ADVERTISE on open). `libvirt`: a libvirt daemon,
 * asked CONNECT_SUPPORTS_FEATURE instead; our ADVERTISE is never sent to it.
 */
export type Dialect = 'keepalive' | 'libvirt';

export interface ClientEvents {
  /** libvirt: CONNECT_SUPPORTS_FEATURE(VIR_DRV_FEATURE_PROGRAM_KEEPALIVE) sent with this serial. */
  negotiating: [serial: number, at: number];
  /** libvirt: the daemon's answer. Unsupported: we send no keepalive message and never declare it dead. */
  negotiated: [support: KeepaliveSupport, at: number];
  sent: [message: KeepaliveMessage, at: number];
  received: [message: KeepaliveMessage | 'MESSAGE', at: number];
  /** An application frame from the server (anything not keepalive), as it came: text or bytes. */
  message: [data: Frame, at: number];
  /** We declared the server dead and closed the socket: silent for `silentFor` ms, `unanswered` PINGs. */
  dead: [reason: string, at: number, silentFor: number, unanswered: number];
  /** The actor is over, for whatever reason (after `dead` too). */
  closed: [cause: EndCause, reason: string];
  error: [error: Error];
}

/** Upgrade answers worth retrying: the session is still attached to a socket the server has not yet seen die, overload, gateways. */
export const RETRY_STATUS = (status: number): boolean => status === 409 || status === 429 || (status >= 500 && status < 600);

export type ClientEmit = <K extends keyof ClientEvents>(name: K, ...args: ClientEvents[K]) => void;

/** ws:// and wss:// speak the text dialect; tcp:// and UNIX sockets libvirt frames. */
export type ClientTransport = 'ws' | 'tcp' | 'unix';

/**
 * The wait before reconnect attempt `attempt` (1, 2, ...): doubling from `min` up to `max`,
 * jittered down to half so a restarted server does not see every client come back in the
 * same ms.
 */
export function reconnectDelay(attempt: number, min: number, max: number): number {
  const ceiling = Math.min(max, min * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

export class ClientSession {
  readonly url: string;
  readonly dialect: Dialect;
  readonly host: Host;
  readonly timer: WakeTimer;
  readonly #options: ClientOptions;
  readonly #emit: ClientEmit;
  readonly #sockets = new SocketRegistry();
  #id: string | null = null;
  #closedReason: string | null = null;
  #lastView: ConnectionView | undefined;
  #pendingClose: string | null = null;
  #handshake: LibvirtHandshake | null = null;

  constructor(url: string, options: ClientOptions, emit: ClientEmit) {
    this.url = url;
    this.dialect = options.dialect ?? 'keepalive';
    this.#options = options;
    this.#emit = emit;
    // Unlike a server's, this timer holds the process open: a client whose server froze
    // must still wake up to declare it dead.
    this.timer = new WakeTimer({
      wake: (at) => this.host.tick(at),
      unref: false,
      ...(options.timers ? { timers: options.timers } : {}),
      onError: (error) => this.#emit('error', error instanceof Error ? error : new Error(String(error))),
    });
    this.host = new Host({
      ...(options.codecs ? { codecs: options.codecs } : {}),
      transport: this.#sockets,
      onNextWake: this.timer.schedule,
      defaults: {
        ...(options.interval !== undefined ? { interval: options.interval } : {}),
        ...(options.count !== undefined ? { count: options.count } : {}),
        ...(options.sendPings !== undefined ? { sendPings: options.sendPings } : {}),
      },
      onEvent: (event) => {
        this.#onHostEvent(event);
        options.onEvent?.(event);
      },
      onMessage: (_id, data, at) => this.#emit('message', data, at),
    });
  }

  /**
   * Sends an application frame to the server (text or bytes). Returns false when no socket
   * carries the connection right now (connecting, reconnecting, closed): nothing was sent.
   */
  send(data: Frame): boolean {
    assertApplicationFrame(data);
    const socket = this.#id === null ? undefined : this.#sockets.get(this.#id);
    if (socket === undefined || this.#closedReason !== null) return false;
    socket.send(data);
    return true;
  }

  /** Connection id in the client's host, once the socket is open. */
  get id(): string | null {
    return this.#id;
  }

  /** The connection's counters and state (the last ones seen, once it is closed). */
  view(): ConnectionView | undefined {
    if (this.#id !== null) this.#lastView = this.host.view(this.#id) ?? this.#lastView;
    return this.#lastView;
  }

  get closed(): boolean {
    return this.#closedReason !== null;
  }

  /** Whether a drop (or a failed reconnect) is one to ride out under the same actor. */
  resumable(): boolean {
    return this.#options.resumable === true && this.#closedReason === null && this.#id !== null && this.host.has(this.#id);
  }

  /** resumable: the socket is gone but the actor goes on timing the server. */
  lost(): void {
    if (this.#id !== null) this.#sockets.detach(this.#id);
  }

  /** resumable: a new socket for the same actor; the server answering is a sign of life. */
  reattached(socket: PeerSocket): void {
    const id = this.#id!;
    this.#sockets.attach(id, socket);
    const at = Date.now();
    this.host.noteSignOfLife(id, at);
    // A server that lost our connection opens a new one, which waits for an ADVERTISE
    // before it PINGs or answers; one that resumed it takes this as one more sign of life.
    socket.send(TEXT_FRAMES.ADVERTISE);
    this.#emit('sent', 'ADVERTISE', at);
  }

  /** Ends the actor: the application closes (`reason`: what it said). */
  close(reason = 'client closing'): void {
    if (this.#closedReason !== null) return;
    if (this.#id === null) {
      // Still connecting: close as soon as the socket is up (or give up if it fails).
      this.#pendingClose = reason;
      return;
    }
    this.view();
    this.host.close(this.#id, { cause: 'application', reason });
  }

  /** The socket is up: the actor starts and sends its ADVERTISE. */
  opened(socket: PeerSocket, transport: ClientTransport): void {
    const libvirt = this.dialect === 'libvirt';
    // Attached before opening: a client's ADVERTISE goes out from inside `open`.
    const id = nanoid();
    this.#sockets.attach(id, socket);
    this.#id = id;
    this.host.open({
      id,
      role: 'client',
      ...(transport !== 'ws' ? { codec: { name: 'libvirt', advertise: !libvirt } as const, stream: true } : {}),
      // libvirt: silent until the supports-feature reply stands in for the daemon's ADVERTISE.
      ...(libvirt ? { advertise: false, awaitAdvertise: true } : {}),
      meta: { transport, url: this.url, dialect: this.dialect },
    });
    this.view();
    if (libvirt && this.#pendingClose === null) {
      const handshake = this.#options.handshake;
      if (!handshake) throw new TypeError('the libvirt dialect needs a client that speaks it (keepalive-actors/node)');
      this.#handshake = handshake({
        host: this.host,
        id,
        write: (frame) => socket.send(frame),
        timeout: this.#options.negotiationTimeout ?? DEFAULT_NEGOTIATION_TIMEOUT,
        requireKeepalive: this.#options.requireKeepalive ?? false,
        ...(this.#options.timers ? { timers: this.#options.timers } : {}),
        onCall: (serial, at) => this.#emit('negotiating', serial, at),
        onOutcome: (support, at) => this.#emit('negotiated', support, at),
      });
    }
    if (this.#pendingClose !== null) this.close(this.#pendingClose);
  }

  /** A frame (WebSocket) or a chunk of the byte stream (TCP) from the server. */
  receive(data: Frame): void {
    if (this.#id === null) return;
    if (this.#handshake && typeof data !== 'string') this.#handshake.receive(data);
    else this.host.receive(this.#id, data);
  }

  /** Delivery mode: what the link made of a frame, for the keepalive actor (a PING to answer, a sign of life). */
  heard(message: Inbound): void {
    if (this.#id !== null) this.host.deliver(this.#id, message);
  }

  /** The socket is gone, whoever closed it. */
  socketClosed(cause: EndCause): void {
    if (this.#id !== null) {
      this.view();
      this.#sockets.detach(this.#id);
      this.host.peerClosed(this.#id, cause);
    }
    // Not opened yet, or already ended by the host (dead, closed): nothing left to step.
    this.#finish(cause, endText(cause));
  }

  #onHostEvent(event: HostEvent): void {
    switch (event.type) {
      case 'sent':
        this.#emit('sent', event.message, event.at);
        return;
      case 'received':
        this.#emit('received', event.message, event.at);
        return;
      case 'dead':
        this.view();
        this.#emit('dead', event.reason, event.at, event.silentFor, event.unanswered);
        this.#finish(event.cause, event.reason);
        return;
      case 'closed':
        this.#finish(event.cause, event.reason);
        return;
    }
  }

  #finish(cause: EndCause, reason: string): void {
    if (this.#closedReason !== null) return;
    this.#closedReason = reason;
    this.timer.stop();
    this.#handshake?.stop();
    this.#emit('closed', cause, reason);
  }
}
