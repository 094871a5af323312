/**
 * A keepalive client for Node: one `client` actor in its own Host and process timer,
 * over a WebSocket (`ws://`, text dialect) or a TCP socket (`tcp://`, libvirt frames).
 * With `dialect: 'libvirt'` it talks to a real libvirt daemon over TCP or its UNIX socket.
 * With `resume` (WebSocket only) a dropped socket is replaced under the same actor.
 */
import { EventEmitter } from 'node:events';
import { connect as netConnect, type NetConnectOpts, type Socket } from 'node:net';
import { nanoid } from 'nanoid';
import WebSocket from 'ws';
import {
  closeCode,
  closeReason,
  createSessionSecret,
  Host,
  SESSION_PARAM,
  SocketRegistry,
  TEXT_FRAMES,
  type ConnectionView,
  type HostEvent,
  type KeepaliveMessage,
  type KeepaliveSupport,
  type PeerSocket,
  type TimerApi,
  WakeTimer,
} from '../../runtime/index.ts';
import { DEFAULT_NEGOTIATION_TIMEOUT, libvirtTarget, startLibvirtHandshake, type LibvirtHandshake } from './libvirt-client.ts';

/**
 * `keepalive`: this project's servers (ADVERTISE on open). `libvirt`: a libvirt daemon,
 * asked CONNECT_SUPPORTS_FEATURE instead; our ADVERTISE is never sent to it.
 */
export type Dialect = 'keepalive' | 'libvirt';

export interface ClientOptions {
  /** Our keepalive interval, ms. Default 5000. */
  interval?: number;
  /** Unanswered PINGs before the server is dead. Default 5. */
  count?: number;
  /** false: never PING, never declare death; the server's PINGs are still answered. */
  sendPings?: boolean;
  onEvent?: (event: HostEvent) => void;
  timers?: TimerApi;
  /** Default `keepalive`. `libvirt` takes tcp://host[:16509], unix:///path or an absolute socket path. */
  dialect?: Dialect;
  /** libvirt: close when the daemon has no keepalive. Default: stay connected, unchecked, sending nothing keepalive. */
  requireKeepalive?: boolean;
  /** libvirt: ms to wait for the CONNECT_SUPPORTS_FEATURE reply. Default 10000. */
  negotiationTimeout?: number;
  /**
   * ws:// only. Presents a session secret of our own on connect; when the socket drops
   * without a final goodbye (no close frame, 1012 server restarting, 1001, 1011, 1013,
   * 1014), the actor keeps running (PINGs meanwhile go nowhere and count as unanswered)
   * while we reconnect with the same secret, so a restarted server resumes our
   * connection. A server that stays away longer than our bound is declared dead as usual.
   */
  resume?: boolean;
  /**
   * Reconnect backoff (resume): first delay and cap in ms, each delay jittered down to half.
   * Default 100 and min(interval / 2, 2000): a restarted server waits one of its intervals
   * before it may declare a restored connection dead, so the cap must stay well under that.
   */
  reconnectDelay?: { min?: number; max?: number };
}

export type Direction = 'in' | 'out';

export interface ClientEvents {
  /** The socket is up and our ADVERTISE (libvirt: the supports-feature CALL) has been sent. */
  open: [];
  /** libvirt: CONNECT_SUPPORTS_FEATURE(VIR_DRV_FEATURE_PROGRAM_KEEPALIVE) sent with this serial. */
  negotiating: [serial: number, at: number];
  /** libvirt: the daemon's answer. Unsupported: we send no keepalive message and never declare it dead. */
  negotiated: [support: KeepaliveSupport, at: number];
  /** Anything arrived from the server. */
  alive: [at: number];
  sent: [message: KeepaliveMessage, at: number];
  received: [message: KeepaliveMessage | 'MESSAGE', at: number];
  /** We declared the server dead and closed the socket. */
  dead: [reason: string, at: number];
  /** The connection is over, for whatever reason (after `dead` too). */
  closed: [reason: string, by: 'us' | 'peer'];
  /** resume: the socket is gone; attempt `attempt` to reconnect starts in `delay` ms. */
  reconnecting: [attempt: number, delay: number, reason: string];
  /** resume: a new socket carries the same actor on; counters and deadlines continue. */
  resumed: [attempt: number, at: number];
  error: [error: Error];
}

/** Close codes after which the server may be back: no close frame, going away, internal error, restart, try again, bad gateway, session busy. */
const RESUMABLE_CLOSE = new Set([1001, 1006, 1011, 1012, 1013, 1014, 4409]);
/** Upgrade answers worth retrying: the session is still attached to a socket the server has not yet seen die, overload, gateways. */
const RETRY_STATUS = /Unexpected server response: (409|429|5\d\d)\b/;

export class KeepaliveClient extends EventEmitter<ClientEvents> {
  readonly url: string;
  readonly dialect: Dialect;
  readonly host: Host;
  readonly timer: WakeTimer;
  readonly #sockets = new SocketRegistry();
  #id: string | null = null;
  #closedReason: string | null = null;
  #deadReason: string | null = null;
  #lastView: ConnectionView | undefined;
  #pendingClose: string | null = null;
  #socketError: string | null = null;
  /** Set while we hand the peer's close to the host, so `closed` knows who ended it. */
  #peerClosing = false;
  readonly #options: ClientOptions;
  #handshake: LibvirtHandshake | null = null;
  #support: KeepaliveSupport | null = null;
  /** resume: our session secret, presented on every connect. */
  readonly #secret: string | null;
  /** The WebSocket in use or being opened; events of any other are stale. */
  #ws: WebSocket | null = null;
  #retry: ReturnType<typeof setTimeout> | null = null;

  constructor(url: string, options: ClientOptions = {}) {
    super();
    this.dialect = options.dialect ?? 'keepalive';
    this.#options = options;
    const target = this.dialect === 'libvirt' ? libvirtTarget(url) : keepaliveTarget(url);
    if (options.resume && target !== 'ws') {
      throw new TypeError(`resume needs a ws:// URL: a TCP or libvirt socket has no way to present a session (${url})`);
    }
    this.#secret = options.resume ? createSessionSecret() : null;
    this.url = url;
    // Unlike the server's, this timer holds the process open: a client whose server froze
    // must still wake up to declare it dead.
    this.timer = new WakeTimer({
      wake: (at) => this.host.tick(at),
      unref: false,
      ...(options.timers ? { timers: options.timers } : {}),
      onError: (error) => this.emit('error', error instanceof Error ? error : new Error(String(error))),
    });
    this.host = new Host({
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
    });
    if (target === 'ws') this.#connectWs(0);
    else this.#connectSocket(target);
  }

  /** True while a socket carries the actor (false while connecting or reconnecting). */
  get connected(): boolean {
    return this.#id !== null && this.#sockets.get(this.#id) !== undefined;
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

  /** Why the connection ended, or null while it is open. */
  get closedReason(): string | null {
    return this.#closedReason;
  }

  /** Why we declared the server dead, or null. */
  get deadReason(): string | null {
    return this.#deadReason;
  }

  /** Negotiation status in the libvirt dialect: null until the daemon answered (always null otherwise). */
  get keepaliveSupport(): KeepaliveSupport | null {
    return this.#support;
  }

  close(reason = 'client closing'): void {
    if (this.#closedReason !== null) return;
    if (this.#id === null) {
      // Still connecting: close as soon as the socket is up (or give up if it fails).
      this.#pendingClose = reason;
      return;
    }
    if (!this.connected) this.#stopReconnecting();
    this.view();
    this.host.close(this.#id, reason);
  }

  #opened(socket: PeerSocket, transport: 'ws' | 'tcp' | 'unix'): void {
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
    this.emit('open');
    if (libvirt && this.#pendingClose === null) {
      this.#handshake = startLibvirtHandshake({
        host: this.host,
        id,
        write: (frame) => socket.send(frame),
        timeout: this.#options.negotiationTimeout ?? DEFAULT_NEGOTIATION_TIMEOUT,
        requireKeepalive: this.#options.requireKeepalive ?? false,
        onCall: (serial, at) => this.emit('negotiating', serial, at),
        onOutcome: (support, at) => {
          this.#support = support;
          this.emit('negotiated', support, at);
        },
      });
    }
    if (this.#pendingClose !== null) this.close(this.#pendingClose);
  }

  /** The socket is gone, whoever closed it. */
  #socketClosed(reason: string): void {
    if (this.#id !== null) {
      this.view();
      this.#sockets.detach(this.#id);
      this.#peerClosing = true;
      try {
        this.host.peerClosed(this.#id, reason);
      } finally {
        this.#peerClosing = false;
      }
    }
    // Not opened yet, or already ended by the host (dead, closed): nothing left to step.
    this.#finish(reason, 'peer');
  }

  /** Attempt 0 opens the connection; later attempts carry the same actor on (resume). */
  #connectWs(attempt: number): void {
    this.#retry = null;
    const ws = new WebSocket(this.#connectUrl());
    this.#ws = ws;
    let error: string | null = null;
    let opened = false;
    ws.on('open', () => {
      if (this.#ws !== ws) return;
      opened = true;
      const socket: PeerSocket = {
        send: (frame) => ws.send(frame),
        close: (reason) => {
          const code = closeCode(reason);
          ws.close(code, closeReason(reason));
          // A dead or misbehaving server will not finish the close handshake; do not wait
          // ws's 30 s for it. The close frame is already on its way.
          if (code !== 1000) ws.terminate();
        },
      };
      if (attempt === 0) this.#opened(socket, 'ws');
      else this.#reattached(socket, attempt);
    });
    ws.on('message', (data, isBinary) => {
      if (this.#id === null || this.#ws !== ws) return;
      if (!isBinary) this.host.receive(this.#id, data.toString());
      else this.host.receive(this.#id, Array.isArray(data) ? Buffer.concat(data) : new Uint8Array(data as ArrayBuffer | Buffer));
    });
    // 'close' always follows 'error'; the error says why.
    ws.on('error', (e) => (error = e.message));
    ws.on('close', (code, reason) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      const text = reason.toString();
      const closed = `server closed the connection (${code})${text ? `: ${text}` : ''}`;
      if (this.#id === null) {
        this.#socketClosed(error !== null ? `connection failed: ${error}` : closed);
        return;
      }
      const why = opened ? closed : `reconnect failed: ${error ?? closed}`;
      if (this.#resumes(code, opened ? null : error)) this.#lost(why, opened ? 1 : attempt + 1);
      else this.#socketClosed(why);
    });
  }

  #connectUrl(): string {
    if (this.#secret === null) return this.url;
    const url = new URL(this.url);
    url.searchParams.set(SESSION_PARAM, this.#secret);
    return url.toString();
  }

  /** Whether this drop (or failed reconnect) is one to ride out under the same actor. */
  #resumes(code: number, error: string | null): boolean {
    if (this.#secret === null || this.#closedReason !== null || this.#id === null || !this.host.has(this.#id)) return false;
    if (error !== null && error.startsWith('Unexpected server response')) return RETRY_STATUS.test(error);
    return error !== null || RESUMABLE_CLOSE.has(code);
  }

  /** The socket is gone but the actor goes on timing the server; try again after a backoff. */
  #lost(reason: string, attempt: number): void {
    const id = this.#id!;
    this.#sockets.detach(id);
    const min = this.#options.reconnectDelay?.min ?? 100;
    const max = this.#options.reconnectDelay?.max ?? Math.min((this.#options.interval ?? 5000) / 2, 2000);
    const ceiling = Math.min(max, min * 2 ** Math.min(attempt - 1, 30));
    // Jitter: a restarted server should not see every client come back in the same ms.
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.emit('reconnecting', attempt, delay, reason);
    this.#retry = setTimeout(() => this.#connectWs(attempt), delay);
  }

  /** A new socket for the same actor: the server answering is a sign of life. */
  #reattached(socket: PeerSocket, attempt: number): void {
    const id = this.#id!;
    this.#sockets.attach(id, socket);
    const at = Date.now();
    this.host.noteSignOfLife(id, at);
    // A server that lost our connection opens a new one, which waits for an ADVERTISE
    // before it PINGs or answers; one that resumed it takes this as one more sign of life.
    socket.send(TEXT_FRAMES.ADVERTISE);
    this.emit('sent', 'ADVERTISE', at);
    this.emit('resumed', attempt, at);
  }

  #stopReconnecting(): void {
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
    const ws = this.#ws;
    this.#ws = null;
    ws?.terminate();
  }

  /** TCP or a UNIX socket; libvirt frames either way. */
  #connectSocket(target: NetConnectOpts): void {
    const unix = 'path' in target;
    const socket: Socket = netConnect(unix ? target : { ...target, noDelay: true });
    socket.on('connect', () => {
      this.#opened(
        {
          send: (frame) => {
            socket.write(frame);
          },
          // TCP carries no reason; each side logs its own.
          close: () => socket.destroy(),
        },
        unix ? 'unix' : 'tcp',
      );
    });
    socket.on('data', (chunk) => {
      if (this.#id === null) return;
      if (this.#handshake) this.#handshake.receive(chunk);
      else this.host.receive(this.#id, chunk);
    });
    socket.on('error', (error) => (this.#socketError = error.message));
    socket.on('close', () => {
      if (this.#id === null) this.#socketClosed(`connection failed: ${this.#socketError ?? 'closed before connecting'}`);
      // EPIPE/ECONNRESET once connected: the server hung up while we were writing.
      else this.#socketClosed(`server closed the ${unix ? 'UNIX socket' : 'TCP'} connection${this.#socketError !== null ? ` (${this.#socketError})` : ''}`);
    });
  }

  #onHostEvent(event: HostEvent): void {
    switch (event.type) {
      case 'sent':
        this.emit('sent', event.message, event.at);
        return;
      case 'received':
        this.emit('alive', event.at);
        this.emit('received', event.message, event.at);
        return;
      case 'dead':
        this.#deadReason = event.reason;
        this.view();
        this.emit('dead', event.reason, event.at);
        this.#finish(event.reason, 'us');
        return;
      case 'closed':
        this.#finish(event.reason, this.#peerClosing ? 'peer' : 'us');
        return;
    }
  }

  #finish(reason: string, by: 'us' | 'peer'): void {
    if (this.#closedReason !== null) return;
    this.#closedReason = reason;
    this.timer.stop();
    if (!this.connected) this.#stopReconnecting();
    this.#handshake?.stop();
    this.emit('closed', reason, by);
  }
}

/** ws(s):// is a WebSocket (text dialect); tcp://host:port is our server's libvirt-framed TCP. */
function keepaliveTarget(url: string): NetConnectOpts | 'ws' {
  const parsed = new URL(url);
  if (parsed.protocol === 'ws:' || parsed.protocol === 'wss:') return 'ws';
  if (parsed.protocol === 'tcp:') return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port) };
  throw new TypeError(`unsupported URL ${url}: use ws://host:port/connect or tcp://host:port (a libvirt daemon: dialect libvirt)`);
}

/** Connects to a keepalive server at `ws://host:port/connect` or `tcp://host:port`, or (`dialect: 'libvirt'`) to a libvirt daemon. */
export function connect(url: string, options: ClientOptions = {}): KeepaliveClient {
  return new KeepaliveClient(url, options);
}
