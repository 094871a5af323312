/**
 * A keepalive client for Node: one `client` actor in its own Host and process timer
 * (the shared `ClientSession`), over a WebSocket (`ws://`, text dialect) or a TCP socket
 * (`tcp://`, libvirt frames). With `dialect: 'libvirt'` it talks to a real libvirt daemon
 * over TCP or its UNIX socket. With `resume` (WebSocket only) a dropped socket is replaced
 * under the same actor.
 */
import { EventEmitter } from 'node:events';
import { connect as netConnect, type NetConnectOpts, type Socket } from 'node:net';
import WebSocket from 'ws';
import {
  ClientSession,
  clientTransport,
  closeCode,
  closeReason,
  type ClientEvents,
  type ClientOptions,
  type ConnectionView,
  type Dialect,
  type Host,
  type KeepaliveSupport,
  type WakeTimer,
} from '../../runtime/internal.ts';
import { libvirtTarget } from './libvirt-client.ts';

export type { ClientEvents, ClientOptions, Dialect } from '../../runtime/internal.ts';

export type Direction = 'in' | 'out';

export class KeepaliveClient extends EventEmitter<ClientEvents> {
  readonly url: string;
  readonly dialect: Dialect;
  readonly host: Host;
  readonly timer: WakeTimer;
  readonly #session: ClientSession;
  #socketError: string | null = null;
  /** The WebSocket in use or being opened; events of any other are stale. */
  #ws: WebSocket | null = null;
  #retry: ReturnType<typeof setTimeout> | null = null;

  constructor(url: string, options: ClientOptions = {}) {
    super();
    this.dialect = options.dialect ?? 'keepalive';
    const target = this.dialect === 'libvirt' ? libvirtTarget(url) : keepaliveTarget(url);
    this.url = url;
    // EventEmitter's generic emit cannot check a forwarded tuple; ClientEmit already did.
    const emit = this.emit.bind(this) as (name: keyof ClientEvents, ...args: unknown[]) => boolean;
    this.#session = new ClientSession(url, options, (name, ...args) => void emit(name, ...args));
    this.host = this.#session.host;
    this.timer = this.#session.timer;
    // However it ended (our verdict, close(), the peer), nothing is left to reconnect.
    this.once('closed', () => this.#stopReconnecting());
    if (target === 'ws') this.#connectWs(0);
    else this.#connectSocket(target);
  }

  /** True while a socket carries the actor (false while connecting or reconnecting). */
  get connected(): boolean {
    return this.#session.connected;
  }

  /** Connection id in the client's host, once the socket is open. */
  get id(): string | null {
    return this.#session.id;
  }

  /** The connection's counters and state (the last ones seen, once it is closed). */
  view(): ConnectionView | undefined {
    return this.#session.view();
  }

  get closed(): boolean {
    return this.#session.closed;
  }

  /** Why the connection ended, or null while it is open. */
  get closedReason(): string | null {
    return this.#session.closedReason;
  }

  /** Why we declared the server dead, or null. */
  get deadReason(): string | null {
    return this.#session.deadReason;
  }

  /** Negotiation status in the libvirt dialect: null until the daemon answered (always null otherwise). */
  get keepaliveSupport(): KeepaliveSupport | null {
    return this.#session.keepaliveSupport;
  }

  /** Sends an application frame (text or bytes); false while no socket carries the connection. */
  send(data: string | Uint8Array): boolean {
    return this.#session.send(data);
  }

  close(reason = 'client closing'): void {
    this.#session.close(reason);
  }

  /** Attempt 0 opens the connection; later attempts carry the same actor on (resume). */
  #connectWs(attempt: number): void {
    this.#retry = null;
    const ws = new WebSocket(this.#session.connectUrl());
    this.#ws = ws;
    let error: string | null = null;
    let status = 0;
    let opened = false;
    ws.on('open', () => {
      if (this.#ws !== ws) return;
      opened = true;
      const socket = {
        send: (frame: string | Uint8Array) => ws.send(frame),
        close: (reason: string) => {
          const code = closeCode(reason);
          ws.close(code, closeReason(reason));
          // A dead or misbehaving server will not finish the close handshake; do not wait
          // ws's 30 s for it. The close frame is already on its way.
          if (code !== 1000) ws.terminate();
        },
      };
      if (attempt === 0) this.#session.opened(socket, 'ws');
      else this.#session.reattached(socket, attempt);
    });
    ws.on('message', (data, isBinary) => {
      if (this.#ws !== ws) return;
      if (!isBinary) this.#session.receive(data.toString());
      else this.#session.receive(Array.isArray(data) ? Buffer.concat(data) : new Uint8Array(data as ArrayBuffer | Buffer));
    });
    ws.on('unexpected-response', (_request, response) => {
      status = response.statusCode ?? 0;
      error = `server answered ${status}`;
      ws.terminate();
    });
    // 'close' always follows 'error'; the error says why.
    ws.on('error', (e) => (error ??= e.message));
    ws.on('close', (code, reason) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      const text = reason.toString();
      const closed = `server closed the connection (${code})${text ? `: ${text}` : ''}`;
      if (this.id === null) {
        this.#session.socketClosed(error !== null ? `connection failed: ${error}` : closed);
        return;
      }
      const why = opened ? closed : `reconnect failed: ${error ?? closed}`;
      this.#retry = this.#session.socketLost({ opened, code, status, why, attempt }, (next) => this.#connectWs(next));
    });
  }

  #stopReconnecting(): void {
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
    const ws = this.#ws;
    this.#ws = null;
    // Only a reconnect still in progress: an attached socket is the host's to close.
    if (ws !== null && !this.connected) ws.terminate();
  }

  /** TCP or a UNIX socket; libvirt frames either way. */
  #connectSocket(target: NetConnectOpts): void {
    const unix = 'path' in target;
    const socket: Socket = netConnect(unix ? target : { ...target, noDelay: true });
    socket.on('connect', () => {
      this.#session.opened(
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
    socket.on('data', (chunk) => this.#session.receive(chunk));
    socket.on('error', (error) => (this.#socketError = error.message));
    socket.on('close', () => {
      if (this.id === null) this.#session.socketClosed(`connection failed: ${this.#socketError ?? 'closed before connecting'}`);
      // EPIPE/ECONNRESET once connected: the server hung up while we were writing.
      else this.#session.socketClosed(`server closed the ${unix ? 'UNIX socket' : 'TCP'} connection${this.#socketError !== null ? ` (${this.#socketError})` : ''}`);
    });
  }
}

/** ws(s):// is a WebSocket (text dialect); tcp://host:port is our server's libvirt-framed TCP. */
function keepaliveTarget(url: string): NetConnectOpts | 'ws' {
  const { url: parsed, transport } = clientTransport(url);
  return transport === 'ws' ? 'ws' : { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port) };
}

/** Connects to a keepalive server at `ws://host:port/connect` or `tcp://host:port`, or (`dialect: 'libvirt'`) to a libvirt daemon. */
export function connect(url: string, options: ClientOptions = {}): KeepaliveClient {
  return new KeepaliveClient(url, options);
}
