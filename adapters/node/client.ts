/**
 * A keepalive client for Node: one `client` actor in its own Host and process timer,
 * over a WebSocket (`ws://`, text dialect) or a TCP socket (`tcp://`, libvirt frames).
 */
import { EventEmitter } from 'node:events';
import { connect as tcpConnect, type Socket } from 'node:net';
import { nanoid } from 'nanoid';
import WebSocket from 'ws';
import {
  closeCode,
  closeReason,
  Host,
  SocketRegistry,
  type ConnectionView,
  type HostEvent,
  type KeepaliveMessage,
  type PeerSocket,
  type TimerApi,
  WakeTimer,
} from '../../runtime/index.ts';

export interface ClientOptions {
  /** Our keepalive interval, ms. Default 5000. */
  interval?: number;
  /** Unanswered PINGs before the server is dead. Default 5. */
  count?: number;
  /** false: never PING, never declare death; the server's PINGs are still answered. */
  sendPings?: boolean;
  onEvent?: (event: HostEvent) => void;
  timers?: TimerApi;
}

export type Direction = 'in' | 'out';

export interface ClientEvents {
  /** The socket is up and our ADVERTISE has been sent. */
  open: [];
  /** Anything arrived from the server. */
  alive: [at: number];
  sent: [message: KeepaliveMessage, at: number];
  received: [message: KeepaliveMessage | 'MESSAGE', at: number];
  /** We declared the server dead and closed the socket. */
  dead: [reason: string, at: number];
  /** The connection is over, for whatever reason (after `dead` too). */
  closed: [reason: string, by: 'us' | 'peer'];
  error: [error: Error];
}

export class KeepaliveClient extends EventEmitter<ClientEvents> {
  readonly url: string;
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

  constructor(url: string, options: ClientOptions = {}) {
    super();
    const parsed = new URL(url);
    if (!['ws:', 'wss:', 'tcp:'].includes(parsed.protocol)) {
      throw new TypeError(`unsupported URL ${url}: use ws://host:port/connect or tcp://host:port`);
    }
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
    if (parsed.protocol === 'tcp:') this.#connectTcp(parsed);
    else this.#connectWs(url);
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

  close(reason = 'client closing'): void {
    if (this.#closedReason !== null) return;
    if (this.#id === null) {
      // Still connecting: close as soon as the socket is up (or give up if it fails).
      this.#pendingClose = reason;
      return;
    }
    this.view();
    this.host.close(this.#id, reason);
  }

  #opened(socket: PeerSocket, transport: 'ws' | 'tcp'): void {
    const tcp = transport === 'tcp';
    // Attached before opening: a client's ADVERTISE goes out from inside `open`.
    const id = nanoid();
    this.#sockets.attach(id, socket);
    this.#id = id;
    this.host.open({
      id,
      role: 'client',
      ...(tcp ? { codec: { name: 'libvirt', advertise: true } as const, stream: true } : {}),
      meta: { transport, url: this.url },
    });
    this.view();
    this.emit('open');
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

  #connectWs(url: string): void {
    const ws = new WebSocket(url);
    ws.on('open', () => {
      this.#opened(
        {
          send: (frame) => ws.send(frame),
          close: (reason) => {
            const code = closeCode(reason);
            ws.close(code, closeReason(reason));
            // A dead or misbehaving server will not finish the close handshake; do not wait
            // ws's 30 s for it. The close frame is already on its way.
            if (code !== 1000) ws.terminate();
          },
        },
        'ws',
      );
    });
    ws.on('message', (data, isBinary) => {
      if (this.#id === null) return;
      if (!isBinary) this.host.receive(this.#id, data.toString());
      else this.host.receive(this.#id, Array.isArray(data) ? Buffer.concat(data) : new Uint8Array(data as ArrayBuffer | Buffer));
    });
    // 'close' always follows 'error'; the error says why.
    ws.on('error', (error) => (this.#socketError = error.message));
    ws.on('close', (code, reason) => {
      const text = reason.toString();
      if (this.#socketError !== null && this.#id === null) this.#socketClosed(`connection failed: ${this.#socketError}`);
      else this.#socketClosed(`server closed the connection (${code})${text ? `: ${text}` : ''}`);
    });
  }

  #connectTcp(url: URL): void {
    const socket: Socket = tcpConnect({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port), noDelay: true });
    socket.on('connect', () => {
      this.#opened(
        {
          send: (frame) => {
            socket.write(frame);
          },
          // TCP carries no reason; each side logs its own.
          close: () => socket.destroy(),
        },
        'tcp',
      );
    });
    socket.on('data', (chunk) => {
      if (this.#id !== null) this.host.receive(this.#id, chunk);
    });
    socket.on('error', (error) => (this.#socketError = error.message));
    socket.on('close', () => {
      if (this.#id === null) this.#socketClosed(`connection failed: ${this.#socketError ?? 'closed before connecting'}`);
      // EPIPE/ECONNRESET once connected: the server hung up while we were writing.
      else this.#socketClosed(`server closed the TCP connection${this.#socketError !== null ? ` (${this.#socketError})` : ''}`);
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
    this.emit('closed', reason, by);
  }
}

/** Connects to a keepalive server at `ws://host:port/connect` or `tcp://host:port`. */
export function connect(url: string, options: ClientOptions = {}): KeepaliveClient {
  return new KeepaliveClient(url, options);
}
