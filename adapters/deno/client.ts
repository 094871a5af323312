/**
 * A keepalive client for Deno: the shared `ClientSession` (one `client` actor, its own
 * Host and WakeTimer) over the web-standard `WebSocket` (`ws://`, text dialect) or
 * `Deno.connect` (`tcp://`, libvirt frames). Same events as the Node client, and with
 * `resume` the same reconnects: a dropped socket is replaced under the same actor, with the
 * same backoff and the same rule for which closes are worth riding out.
 */
import { EventEmitter } from 'node:events';
import {
  ClientSession,
  clientTransport,
  closeCode,
  closeReason,
  type ClientEvents,
  type ClientOptions,
  type ConnectionView,
  type Host,
  type WakeTimer,
} from '../../runtime/internal.ts';
import { closeQuietly, ConnWriter } from './conn.ts';

export type { ClientEvents, ClientOptions } from '../../runtime/internal.ts';

export class KeepaliveClient extends EventEmitter<ClientEvents> {
  readonly url: string;
  readonly host: Host;
  readonly timer: WakeTimer;
  /** Resolves once the socket itself is closed (after `closed`, or never opened). */
  readonly settled: Promise<void>;
  readonly #session: ClientSession;
  #settle: () => void = () => {};
  /** The WebSocket in use or being opened; events of any other are stale. */
  #ws: WebSocket | null = null;
  #retry: ReturnType<typeof setTimeout> | null = null;

  constructor(url: string, options: ClientOptions = {}) {
    super();
    const { url: parsed, transport } = clientTransport(url);
    this.url = url;
    this.settled = new Promise((resolve) => (this.#settle = resolve));
    // EventEmitter's generic emit cannot check a forwarded tuple; ClientEmit already did.
    const emit = this.emit.bind(this) as (name: keyof ClientEvents, ...args: unknown[]) => boolean;
    this.#session = new ClientSession(url, options, (name, ...args) => void emit(name, ...args));
    this.host = this.#session.host;
    this.timer = this.#session.timer;
    // However it ended (our verdict, close(), the peer), nothing is left to reconnect.
    this.once('closed', () => this.#stopReconnecting());
    if (transport === 'tcp') void this.#connectTcp(parsed);
    else this.#connectWs(0);
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
    ws.binaryType = 'arraybuffer';
    this.#ws = ws;
    let socketError: string | null = null;
    let opened = false;
    ws.onopen = () => {
      if (this.#ws !== ws) return;
      opened = true;
      const socket = {
        send: (frame: string | Uint8Array) => ws.send(typeof frame === 'string' ? frame : (frame as Uint8Array<ArrayBuffer>)),
        // A dead server never answers the close frame; `settled` does not wait for it
        // (see main.ts), the frame is on its way either way.
        close: (reason: string) => ws.close(closeCode(reason), closeReason(reason)),
      };
      if (attempt === 0) this.#session.opened(socket, 'ws');
      else this.#session.reattached(socket, attempt);
    };
    ws.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
      if (this.#ws !== ws) return;
      this.#session.receive(typeof event.data === 'string' ? event.data : new Uint8Array(event.data));
    };
    // 'close' always follows 'error'; the error says why.
    ws.onerror = (event) => (socketError ??= event instanceof ErrorEvent ? event.message : 'socket error');
    ws.onclose = (event) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      // A thawed client may owe PONGs to a server that already hung up: Deno then reports
      // the failed send (code 0) before it reads the server's close frame.
      const detail = event.reason ? `: ${event.reason}` : socketError !== null ? ` (${socketError})` : '';
      const closed = `server closed the connection (${event.code})${detail}`;
      if (this.id === null) {
        this.#session.socketClosed(socketError !== null ? `connection failed: ${socketError}` : closed);
        return this.#settle();
      }
      // The web WebSocket shows no upgrade status (0): a failed reconnect is always worth another try.
      const why = opened ? closed : `reconnect failed: ${socketError ?? closed}`;
      this.#retry = this.#session.socketLost({ opened, code: event.code, status: 0, why, attempt }, (next) => this.#connectWs(next));
      if (this.#retry === null) this.#settle();
    };
  }

  #stopReconnecting(): void {
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
    const ws = this.#ws;
    // Only a reconnect still in progress: an attached socket is the host's to close.
    if (ws !== null && !this.connected) {
      this.#ws = null;
      ws.close();
      this.#settle();
    }
  }

  async #connectTcp(url: URL): Promise<void> {
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port), transport: 'tcp' });
    } catch (error) {
      this.#session.socketClosed(`connection failed: ${error instanceof Error ? error.message : String(error)}`);
      this.#settle();
      return;
    }
    conn.setNoDelay(true);
    const writer = new ConnWriter(conn);
    // TCP carries no reason; each side logs its own.
    this.#session.opened({ send: (frame) => writer.write(frame), close: () => closeQuietly(conn) }, 'tcp');
    let failure = '';
    try {
      for await (const chunk of conn.readable) this.#session.receive(chunk);
    } catch (error) {
      // We closed it ourselves (dead server), or the server reset it: say which, as on Node.
      if (!(error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted)) {
        failure = ` (${error instanceof Error ? error.message : String(error)})`;
      }
    } finally {
      closeQuietly(conn);
      this.#session.socketClosed(`server closed the TCP connection${failure}`);
      this.#settle();
    }
  }
}

/** Connects to a keepalive server at `ws://host:port/connect` or `tcp://host:port`. */
export function connect(url: string, options: ClientOptions = {}): KeepaliveClient {
  return new KeepaliveClient(url, options);
}
