/**
 * A keepalive client for Deno: the shared `ClientSession` (one `client` actor, its own
 * Host and WakeTimer) over the web-standard `WebSocket` (`ws://`, text dialect) or
 * `Deno.connect` (`tcp://`, libvirt frames). Same events as the Node client.
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
    if (transport === 'tcp') void this.#connectTcp(parsed);
    else this.#connectWs(url);
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

  #connectWs(url: string): void {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    let socketError: string | null = null;
    ws.onopen = () => {
      this.#session.opened(
        {
          send: (frame) => ws.send(typeof frame === 'string' ? frame : (frame as Uint8Array<ArrayBuffer>)),
          // A dead server never answers the close frame; `settled` does not wait for it
          // (see main.ts), the frame is on its way either way.
          close: (reason) => ws.close(closeCode(reason), closeReason(reason)),
        },
        'ws',
      );
    };
    ws.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
      this.#session.receive(typeof event.data === 'string' ? event.data : new Uint8Array(event.data));
    };
    // 'close' always follows 'error'; the error says why.
    ws.onerror = (event) => (socketError = event instanceof ErrorEvent ? event.message : 'socket error');
    ws.onclose = (event) => {
      if (socketError !== null && this.id === null) this.#session.socketClosed(`connection failed: ${socketError}`);
      // A thawed client may owe PONGs to a server that already hung up: Deno then reports
      // the failed send (code 0) before it reads the server's close frame.
      else {
        const why = event.reason ? `: ${event.reason}` : socketError !== null ? ` (${socketError})` : '';
        this.#session.socketClosed(`server closed the connection (${event.code})${why}`);
      }
      this.#settle();
    };
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
