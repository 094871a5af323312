/**
 * A keepalive client on the global `WebSocket` and nothing else: browsers, Web Workers,
 * Deno, Cloudflare Workers, Node 22+. An `EventTarget` with WebSocket's feel, plus
 * reconnect with backoff and a bounded send buffer (as PartySocket).
 *
 * Each socket's life is one `client` actor (the shared `ClientSession`), its deadlines on
 * one `WakeTimer`. The client presents a session secret of its own on every connect, so
 * after a drop, or after its own dead verdict, the server resumes the same connection
 * (same id, counters, presence). A drop keeps the actor timing the server while we
 * reconnect; a dead verdict ends it, and the next socket starts a new one.
 *
 * Events reach listeners in a microtask after the step that caused them, never from
 * inside one: a listener may call `send` or `close` and find the client already settled
 * (after `dead`, the socket is closed and `reconnecting` is queued).
 */
import { assertApplicationFrame, ClientSession, reconnectDelay, type ClientEvents, type ClientOptions } from '../../runtime/client.ts';
import type { Frame } from '../../runtime/codec/index.ts';
import type { ConnectionView } from '../../runtime/host.ts';
import { createSessionSecret, SESSION_PARAM } from '../../runtime/sessions.ts';
import { closeCode, closeReason, type PeerSocket } from '../../runtime/sockets.ts';
import {
  ClientCloseEvent,
  ClientErrorEvent,
  ClientMessageEvent,
  ClientOpenEvent,
  DeadEvent,
  ReconnectingEvent,
  type ClientEventMap,
} from './events.ts';
import { reconnectOptions, serverUrl, type ConnectOptions, type Reconnect } from './options.ts';
import { SendBuffer } from './send-buffer.ts';

type Handler<E extends Event> = ((this: KeepaliveClient, event: E) => unknown) | null;
type Handlers = { [K in keyof ClientEventMap]?: Handler<ClientEventMap[K]> };
type SessionHandlers = { [K in keyof ClientEvents]?: (...args: ClientEvents[K]) => void };

/** WebSocket's numbers; there is no CLOSING: `close()` is final at once. */
export type ReadyState = 0 | 1 | 3;

export class KeepaliveClient extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 3;

  /** The server URL as opened, with `?peer=` and without the session secret. */
  readonly url: string;
  readonly #options: ConnectOptions;
  readonly #reconnect: Reconnect | null;
  readonly #secret: string | null;
  readonly #buffer: SendBuffer;
  /** The actor of the current (or last) socket's life; created before its socket opens. */
  #session: ClientSession;
  /** The socket in use or being opened; events of any other are stale. */
  #ws: WebSocket | null = null;
  /** `#ws` finished its handshake. */
  #open = false;
  /** The attempt `#ws` is: 0 for the first connection, then 1, 2, ... in a row until one opens. */
  #attempt = 0;
  /** The one connection timer: backoff before an attempt, or the upgrade's deadline during one. */
  #timer: ReturnType<typeof setTimeout> | null = null;
  #ending: { code: number; reason: string; wasClean: boolean } | null = null;
  #closed = false;
  #queue: Event[] = [];
  readonly #handlers: Handlers = {};

  constructor(url: string | URL, options: ConnectOptions = {}) {
    super();
    this.url = serverUrl(url, options.peer).toString();
    this.#options = options;
    this.#reconnect = reconnectOptions(options);
    this.#buffer = new SendBuffer(options.maxBuffered);
    this.#secret = this.#reconnect ? createSessionSecret() : null;
    // Built now so bad keepalive settings throw here, not in a socket callback.
    this.#session = this.#newSession();
    this.#connect();
  }

  /** 0 while connecting or reconnecting, 1 while a socket carries the connection, 3 once closed for good. */
  get readyState(): ReadyState {
    if (this.#closed) return 3;
    return this.#open && this.#live() !== null ? 1 : 0;
  }

  /** Bytes sent but not yet on the wire: held while reconnecting, plus the socket's own. */
  get bufferedAmount(): number {
    return this.#buffer.bytes + (this.#open ? (this.#ws?.bufferedAmount ?? 0) : 0);
  }

  /** The current actor's counters and state (our PINGs, the server's PONGs...), as `/actors` shows the server's. */
  view(): ConnectionView | undefined {
    return this.#session.view();
  }

  /**
   * Sends an application frame: a string, or bytes (ArrayBuffer, typed array, DataView).
   * While no socket is open it is held (up to `maxBuffered` bytes, then a RangeError) and
   * sent on the next open, in order. A string starting with `keepalive:` is a TypeError:
   * that prefix is the protocol's own. After `close` it throws.
   */
  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.#ending) throw new Error(`the client is closed: ${this.#ending.reason}`);
    const frame = toFrame(data);
    assertApplicationFrame(frame);
    if (this.#open && this.#live()?.send(frame)) return;
    // A copy: the caller may reuse its buffer before we get to send it (WebSocket copies too).
    this.#buffer.push(typeof frame === 'string' ? frame : frame.slice());
  }

  /** Closes for good: no reconnect, `close` follows (1000 unless given 3000-4999). */
  close(code = 1000, reason = 'client closing'): void {
    if (code !== 1000 && !(code >= 3000 && code <= 4999)) throw new RangeError(`close code must be 1000 or 3000-4999, got ${code}`);
    this.#end(code, reason, true);
  }

  override addEventListener<K extends keyof ClientEventMap>(
    type: K,
    listener: ((this: KeepaliveClient, event: ClientEventMap[K]) => unknown) | { handleEvent(event: ClientEventMap[K]): unknown } | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void {
    super.addEventListener(type, listener, options);
  }

  override removeEventListener<K extends keyof ClientEventMap>(
    type: K,
    listener: ((this: KeepaliveClient, event: ClientEventMap[K]) => unknown) | { handleEvent(event: ClientEventMap[K]): unknown } | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void {
    super.removeEventListener(type, listener, options);
  }

  get onopen(): Handler<ClientOpenEvent> {
    return this.#handlers.open ?? null;
  }
  set onopen(handler: Handler<ClientOpenEvent>) {
    this.#setHandler('open', handler);
  }
  get onmessage(): Handler<ClientMessageEvent> {
    return this.#handlers.message ?? null;
  }
  set onmessage(handler: Handler<ClientMessageEvent>) {
    this.#setHandler('message', handler);
  }
  get ondead(): Handler<DeadEvent> {
    return this.#handlers.dead ?? null;
  }
  set ondead(handler: Handler<DeadEvent>) {
    this.#setHandler('dead', handler);
  }
  get onreconnecting(): Handler<ReconnectingEvent> {
    return this.#handlers.reconnecting ?? null;
  }
  set onreconnecting(handler: Handler<ReconnectingEvent>) {
    this.#setHandler('reconnecting', handler);
  }
  get onclose(): Handler<ClientCloseEvent> {
    return this.#handlers.close ?? null;
  }
  set onclose(handler: Handler<ClientCloseEvent>) {
    this.#setHandler('close', handler);
  }
  get onerror(): Handler<ClientErrorEvent> {
    return this.#handlers.error ?? null;
  }
  set onerror(handler: Handler<ClientErrorEvent>) {
    this.#setHandler('error', handler);
  }

  /** As WebSocket's `on…` attributes: one listener, registered on first set, calling whatever is set now. */
  #setHandler<K extends keyof ClientEventMap>(type: K, handler: Handler<ClientEventMap[K]>): void {
    if (!(type in this.#handlers)) {
      super.addEventListener(type, (event) => (this.#handlers[type] as Handler<Event> | undefined)?.call(this, event));
    }
    (this.#handlers as Record<K, Handler<ClientEventMap[K]>>)[type] = typeof handler === 'function' ? handler : null;
  }

  #fire(event: Event): void {
    this.#queue.push(event);
    if (this.#queue.length === 1) queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    for (const event of this.#queue.splice(0)) this.dispatchEvent(event);
  }

  #newSession(): ClientSession {
    const { interval, count, sendPings } = this.#options;
    const options: ClientOptions = {
      ...(interval !== undefined ? { interval } : {}),
      ...(count !== undefined ? { count } : {}),
      ...(sendPings !== undefined ? { sendPings } : {}),
      ...(this.#secret !== null ? { resume: true, sessionSecret: this.#secret } : {}),
      ...(this.#reconnect ? { reconnectDelay: { min: this.#reconnect.minDelay, max: this.#reconnect.maxDelay } } : {}),
    };
    const on: SessionHandlers = {
      message: (data, at) => this.#fire(new ClientMessageEvent(data, at)),
      dead: (reason, at, silentFor, unanswered) => this.#fire(new DeadEvent(reason, at, silentFor, unanswered)),
      closed: (reason) => this.#sessionClosed(reason),
      reconnecting: (attempt, delay, reason) => this.#fire(new ReconnectingEvent(attempt, delay, reason)),
      error: (error) => this.#fire(new ClientErrorEvent(error)),
    };
    const session: ClientSession = new ClientSession(this.url, options, (name, ...args) => {
      if (session === this.#session) (on[name] as ((...args: ClientEvents[typeof name]) => void) | undefined)?.(...args);
    });
    return session;
  }

  /** The current actor if it is running (opened, not ended). */
  #live(): ClientSession | null {
    return this.#session.id !== null && !this.#session.closed ? this.#session : null;
  }

  #connect(): void {
    this.#timer = null;
    const url = new URL(this.url);
    if (this.#secret !== null) url.searchParams.set(SESSION_PARAM, this.#secret);
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch (error) {
      // A content security policy, or no WebSocket here at all: trying again will not help.
      return this.#end(1006, `cannot open a WebSocket: ${error instanceof Error ? error.message : String(error)}`, false);
    }
    ws.binaryType = 'arraybuffer';
    this.#ws = ws;
    this.#open = false;
    // A server that accepted the TCP connection but never answers the upgrade (frozen,
    // overloaded) gets as long as a silent server on an open socket would.
    const { interval = 5000, count = 5 } = this.#options;
    const limit = Math.max(1000, interval * (count + 1));
    this.#timer = setTimeout(() => this.#lost(ws, 1006, `no answer to the upgrade within ${limit} ms`, false), limit);
    ws.onopen = () => {
      if (this.#ws === ws) this.#opened(ws);
    };
    ws.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
      if (this.#ws !== ws) return;
      this.#session.receive(typeof event.data === 'string' ? event.data : new Uint8Array(event.data));
    };
    ws.onclose = (event) => {
      if (this.#ws !== ws) return;
      const opened = this.#open;
      const why = opened ? `server closed the connection (${event.code})${event.reason ? `: ${event.reason}` : ''}` : `connection failed (${event.code})`;
      this.#lost(ws, event.code, why, opened);
    };
  }

  #opened(ws: WebSocket): void {
    this.#clearTimer();
    this.#open = true;
    const socket: PeerSocket = {
      send: (frame) => ws.send(frame as string | Uint8Array<ArrayBuffer>),
      close: (reason) => this.#release(ws, reason),
    };
    let session = this.#session;
    if (session.resumable()) {
      session.reattached(socket, this.#attempt);
    } else {
      if (session.id !== null) session = this.#session = this.#newSession();
      session.opened(socket, 'ws');
    }
    for (const frame of this.#buffer.drain()) session.send(frame);
    this.#fire(new ClientOpenEvent(this.#attempt));
  }

  /** `ws` (ours) closed, failed or timed out. */
  #lost(ws: WebSocket, code: number, why: string, opened: boolean): void {
    if (this.#ws !== ws) return;
    this.#release(ws, why);
    this.#clearTimer();
    if (this.#ending) return;
    const next = opened ? 1 : this.#attempt + 1;
    if (this.#reconnect === null || next > this.#reconnect.maxRetries) {
      const reason = this.#reconnect !== null && next > 1 ? `gave up after ${next - 1} failed attempt(s): ${why}` : why;
      return this.#end(code, reason, false);
    }
    this.#retry(why, next);
  }

  #retry(why: string, attempt: number): void {
    this.#attempt = attempt;
    const session = this.#live();
    // A drop: the actor goes on timing the server while we are away (it announces the attempt).
    const delay = session?.resumable() ? session.lost(why, attempt) : this.#announce(attempt, why);
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  #announce(attempt: number, why: string): number {
    const delay = reconnectDelay(attempt, {
      ...(this.#options.interval !== undefined ? { interval: this.#options.interval } : {}),
      reconnectDelay: { min: this.#reconnect!.minDelay, max: this.#reconnect!.maxDelay },
    });
    this.#fire(new ReconnectingEvent(attempt, delay, why));
    return delay;
  }

  /** The actor ended: our dead verdict, a protocol error, or `#end`. */
  #sessionClosed(reason: string): void {
    const ws = this.#ws;
    // Only an open socket belongs to the ended actor; one still connecting is the next life's.
    if (ws !== null && this.#open) this.#release(ws, reason);
    if (this.#ending) return this.#finalize();
    if (this.#reconnect === null) return this.#end(closeCode(reason), reason, false);
    if (this.#ws !== null || this.#timer !== null) return; // already reconnecting
    if (this.#reconnect.maxRetries < 1) return this.#end(closeCode(reason), reason, false);
    this.#retry(reason, 1);
  }

  /** Over for good, whatever the cause; `close` follows once. */
  #end(code: number, reason: string, wasClean: boolean): void {
    if (this.#ending) return;
    this.#ending = { code, reason, wasClean };
    this.#clearTimer();
    // The actor's own close sends our close frame through `#release`, with `code`.
    this.#live()?.close(reason);
    if (this.#ws !== null) this.#release(this.#ws, reason);
    this.#finalize();
  }

  #finalize(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearTimer();
    this.#buffer.drain();
    const { code, reason, wasClean } = this.#ending!;
    this.#fire(new ClientCloseEvent(code, reason, wasClean));
  }

  /** Lets go of `ws`, closing it if it is not closed yet. */
  #release(ws: WebSocket, reason: string): void {
    if (this.#ws === ws) {
      this.#ws = null;
      this.#open = false;
    }
    if (ws.readyState !== WebSocket.CONNECTING && ws.readyState !== WebSocket.OPEN) return;
    const code = this.#ending?.code ?? closeCode(reason);
    // Browsers accept only 1000 and 3000-4999 from a client.
    ws.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000, closeReason(reason));
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

function toFrame(data: string | ArrayBuffer | ArrayBufferView): Frame {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('send takes a string, an ArrayBuffer or a typed array / DataView');
}

/** Connects to a keepalive server's `/connect` (ws://, wss://; http(s):// and relative URLs are converted). */
export function connect(url: string | URL, options: ConnectOptions = {}): KeepaliveClient {
  return new KeepaliveClient(url, options);
}
