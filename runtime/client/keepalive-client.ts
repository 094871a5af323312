/**
 * The keepalive client, the same on every runtime: an `EventTarget` with WebSocket's feel,
 * reconnect with backoff and a bounded send buffer (as PartySocket). A platform supplies
 * only how a socket is opened (`OpenLine`): the web `WebSocket` in browsers and Deno, `ws`
 * on Node, a TCP or UNIX socket for libvirt frames on Node and Deno.
 *
 * Each socket's life is one `client` actor (the shared `ClientSession`), its deadlines on
 * one `WakeTimer`. Over a WebSocket the client presents a session secret of its own on
 * every connect, so after a drop, or after its own dead verdict, the server resumes the
 * same connection (same id, counters, presence). A drop keeps the actor timing the server
 * while we reconnect; a dead verdict ends it, and the next socket starts a new one. A
 * server's normal close (1000: a hook closed us, a shutdown that keeps nothing) is final;
 * so is an upgrade refusal no retry can change (a 4xx other than 409 and 429), where the
 * platform shows it.
 *
 * Events reach listeners in a microtask after the step that caused them, never from
 * inside one: a listener may call `send` or `close` and find the client already settled
 * (after `dead`, the socket is closed and `reconnecting` is queued).
 */
import { assertApplicationFrame, TEXT_FRAMES, type Frame } from '../codec/index.ts';
export type { LineTarget } from './options.ts';
import { DELIVERY_PROTOCOL, DeliveryLink, type DeliveryError } from '../delivery/index.ts';
import type { ConnectionView, PeerSocket } from '../host/index.ts';
import { closeCode, closeReason, createSessionSecret, endText, isPresenceFrame, SESSION_PARAM, type EndCause } from '../protocol/index.ts';
import { ClientPresence } from './presence.ts';
import {
  ClientCloseEvent,
  ClientErrorEvent,
  ClientFrameEvent,
  ClientMessageEvent,
  ClientOpenEvent,
  DeadEvent,
  NegotiationEvent,
  ReconnectingEvent,
  type ClientEventMap,
} from './events.ts';
import { lineTarget, reconnectOptions, toFrame, type ConnectOptions, type LineTarget, type Reconnect } from './options.ts';
import { DEFAULT_MAX_BUFFERED, SendBuffer } from './send-buffer.ts';
import { ClientSession, reconnectDelay, RETRY_STATUS, type ClientEvents, type ClientOptions, type ClientTransport, type Dialect } from './session.ts';

/** What a platform's socket reports. */
export interface LineEvents {
  /** Open; `transport` is the kind of socket it is (`tcp` or `unix` for streams); `protocol`: the subprotocol the server selected. */
  open(transport: ClientTransport, protocol?: string): void;
  frame(data: Frame): void;
  /**
   * Closed, or never opened. `status`: the HTTP answer that refused an upgrade, where the
   * platform shows it; `error`: what failed, where it says.
   */
  close(info: { code: number; reason: string; status?: number; error?: string }): void;
}

/** One socket as the client drives it. */
export interface ClientLine {
  send(frame: Frame): void;
  /** Closes with this code and reason (a line may let go at once of a server that will not answer). */
  close(code: number, reason: string): void;
  readonly bufferedAmount: number;
}

/** How a platform opens a socket: may throw (then the client ends, saying why). */
export type OpenLine = (target: LineTarget, events: LineEvents) => ClientLine;

/** As each platform's `EventTarget` types them (the DOM's and workers-types' names differ). */
type Listener = Parameters<EventTarget['addEventListener']>[1];
type AddOptions = Parameters<EventTarget['addEventListener']>[2];
type RemoveOptions = Parameters<EventTarget['removeEventListener']>[2];

type Handler<E extends Event> = ((this: KeepaliveClient, event: E) => unknown) | null;
type Handlers = { [K in keyof ClientEventMap]?: Handler<ClientEventMap[K]> };
type SessionHandlers = { [K in keyof ClientEvents]?: (...args: ClientEvents[K]) => void };

/** WebSocket's numbers; there is no CLOSING: `close()` is final at once. */
export type ReadyState = 0 | 1 | 3;

/** What a platform's `connect` gives the client beyond its sockets. */
export type ClientPlatform = Pick<ClientOptions, 'handshake' | 'codecs'>;

export class KeepaliveClient extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 3;

  /** The server URL as opened, with `?peer=` (and `?presence=1`) and without the session secret. */
  readonly url: string;
  /** Who is online in the hub, and this peer's own state (docs/client.md, "Presence"). */
  readonly presence: ClientPresence = new ClientPresence((frame) => this.#open && !!this.#line && (this.#line.send(frame), true));
  readonly dialect: Dialect;
  readonly #target: LineTarget;
  readonly #openLine: OpenLine;
  readonly #platform: ClientPlatform;
  readonly #options: ConnectOptions;
  readonly #reconnect: Reconnect | null;
  readonly #secret: string | null;
  readonly #buffer: SendBuffer;
  /** Delivery mode's side of the connection, kept across sockets and actors; null: plain frames. */
  #link: DeliveryLink | null = null;
  /** A socket opened in delivery mode at least once (a later one without it is a server that changed). */
  #delivered = false;
  /** The actor of the current (or last) socket's life; created before its socket opens. */
  #session: ClientSession;
  /** The line in use or being opened; reports of any other are stale. */
  #line: ClientLine | null = null;
  /** `#line` is open. */
  #open = false;
  /** The attempt `#line` is: 0 for the first connection, then 1, 2, ... in a row until one opens. */
  #attempt = 0;
  /** The one connection timer: backoff before an attempt, or the upgrade's deadline during one. */
  #timer: ReturnType<typeof setTimeout> | null = null;
  #ending: { code: number; reason: string; wasClean: boolean } | null = null;
  #closed = false;
  #dead = false;
  #queue: Event[] = [];
  readonly #handlers: Handlers = {};

  /** `platform`: what only some platforms give (libvirt's handshake and codec: Node, Deno), so a page's bundle has none of it. */
  constructor(url: string | URL, options: ConnectOptions, openLine: OpenLine, platform: ClientPlatform = {}) {
    super();
    this.#options = options;
    this.#openLine = openLine;
    this.#platform = platform;
    this.dialect = options.dialect ?? 'keepalive';
    if (this.dialect === 'libvirt' && !platform.handshake) throw new TypeError('the libvirt dialect needs a client that speaks it (keepalive-actors/node)');
    this.#target = lineTarget(url, options);
    this.url = this.#target.url;
    this.#reconnect = reconnectOptions(options);
    this.#buffer = new SendBuffer(options.maxBuffered);
    // Only a WebSocket can present a session: a stream's reconnect starts a new connection.
    this.#secret = this.#reconnect && this.#target.kind === 'ws' ? createSessionSecret() : null;
    // Delivery mode needs a connection that outlives its socket: a session.
    if (this.#secret !== null && options.delivery !== false) {
      this.#target.protocols = [DELIVERY_PROTOCOL];
      this.#link = new DeliveryLink({
        role: 'client',
        limits: { messages: options.maxUnacked ?? 10_000, bytes: options.maxBuffered ?? DEFAULT_MAX_BUFFERED },
        interval: options.interval ?? 5000,
        deliver: (data, seq) => this.#fire(new ClientMessageEvent(data, Date.now(), seq)),
        fail: (error) => this.#deliveryFailed(error),
      });
    }
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
    const held = this.#link ? this.#link.window.bytes : this.#buffer.bytes;
    return held + (this.#open ? (this.#line?.bufferedAmount ?? 0) : 0);
  }

  /** The current actor's connection id in the client's own host, once its socket opened. */
  get id(): string | null {
    return this.#session.id;
  }

  /** We declared the server dead at least once (the verdict is in the `dead` event). */
  get declaredDead(): boolean {
    return this.#dead;
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
    if (this.#link) {
      // A copy: the caller may reuse its buffer before the window lets go of it (WebSocket copies too).
      if (this.#link.send(typeof frame === 'string' ? frame : frame.slice())) return;
      const { size, bytes, limits } = this.#link.window;
      throw new RangeError(`delivery window full: ${size} message(s), ${bytes} bytes sent and not yet acknowledged (at most ${limits.messages}, ${limits.bytes} bytes)`);
    }
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
    options?: AddOptions,
  ): void;
  override addEventListener(type: string, listener: Listener, options?: AddOptions): void;
  override addEventListener(type: string, listener: Listener, options?: AddOptions): void {
    super.addEventListener(type, listener, options);
  }

  override removeEventListener<K extends keyof ClientEventMap>(
    type: K,
    listener: ((this: KeepaliveClient, event: ClientEventMap[K]) => unknown) | { handleEvent(event: ClientEventMap[K]): unknown } | null,
    options?: RemoveOptions,
  ): void;
  override removeEventListener(type: string, listener: Listener, options?: RemoveOptions): void;
  override removeEventListener(type: string, listener: Listener, options?: RemoveOptions): void {
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
    const o = this.#options;
    const options: ClientOptions = {
      ...(o.interval !== undefined ? { interval: o.interval } : {}),
      ...(o.count !== undefined ? { count: o.count } : {}),
      ...(o.sendPings !== undefined ? { sendPings: o.sendPings } : {}),
      dialect: this.dialect,
      ...(o.requireKeepalive !== undefined ? { requireKeepalive: o.requireKeepalive } : {}),
      ...(o.negotiationTimeout !== undefined ? { negotiationTimeout: o.negotiationTimeout } : {}),
      ...(o.onEvent ? { onEvent: o.onEvent } : {}),
      ...(o.timers ? { timers: o.timers } : {}),
      ...(this.#platform.handshake ? { handshake: this.#platform.handshake } : {}),
      ...(this.#platform.codecs ? { codecs: this.#platform.codecs } : {}),
      resumable: this.#secret !== null,
    };
    const on: SessionHandlers = {
      message: (data, at) => this.#fire(new ClientMessageEvent(data, at)),
      sent: (message, at) => this.#fire(new ClientFrameEvent('sent', message, at)),
      received: (message, at) => this.#fire(new ClientFrameEvent('received', message, at)),
      negotiating: (serial, at) => this.#fire(new NegotiationEvent('negotiating', serial, null, at)),
      negotiated: (support, at) => this.#fire(new NegotiationEvent('negotiated', 0, support, at)),
      dead: (reason, at, silentFor, unanswered) => {
        this.#dead = true;
        this.#fire(new DeadEvent(reason, at, silentFor, unanswered));
      },
      closed: (cause, reason) => this.#sessionClosed(cause, reason),
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
    const target = { ...this.#target };
    if (this.#secret !== null) {
      const url = new URL(target.url);
      url.searchParams.set(SESSION_PARAM, this.#secret);
      target.url = url.toString();
    }
    let line: ClientLine | null = null;
    const ours = () => line !== null && this.#line === line;
    const events: LineEvents = {
      open: (transport, protocol) => {
        if (ours()) this.#opened(line!, transport, protocol);
      },
      frame: (data) => {
        if (!ours()) return;
        // A control frame outside delivery mode's sequence; a sign of life all the same.
        if (isPresenceFrame(data)) return this.presence.receive(data), this.#session.heard('MESSAGE');
        if (!this.#link) return this.#session.receive(data);
        const heard = this.#link.receive(data);
        if (heard) this.#session.heard(heard);
      },
      close: ({ code, reason, status, error }) => {
        if (!ours()) return;
        const opened = this.#open;
        const detail = reason ? `: ${reason}` : error ? ` (${error})` : '';
        const why = opened
          ? this.#target.kind === 'ws'
            ? `server closed the connection (${code})${detail}`
            : `server closed the ${target.url.startsWith('tcp:') ? 'TCP' : 'UNIX socket'} connection${error ? ` (${error})` : ''}`
          : status
            ? `connection failed: server answered ${status}`
            : error
              ? `connection failed: ${error}`
              : `connection failed (${code})`;
        this.#lost(line!, code, why, opened, status);
      },
    };
    try {
      line = this.#openLine(target, events);
    } catch (error) {
      // A content security policy, or no WebSocket here at all: trying again will not help.
      return this.#end(1006, `cannot open a socket: ${error instanceof Error ? error.message : String(error)}`, false);
    }
    this.#line = line;
    this.#open = false;
    // A server that accepted the TCP connection but never answers the upgrade (frozen,
    // overloaded) gets as long as a silent server on an open socket would.
    const { interval = 5000, count = 5 } = this.#options;
    const limit = Math.max(1000, interval * (count + 1));
    const opening = line;
    this.#timer = setTimeout(() => this.#lost(opening, 1006, `no answer to the upgrade within ${limit} ms`, false), limit);
  }

  #opened(line: ClientLine, transport: ClientTransport, protocol?: string): void {
    if (this.#link && protocol !== DELIVERY_PROTOCOL) {
      if (this.#delivered) return this.#end(1002, 'the server stopped speaking delivery mode', false);
      this.#plainFrames();
    }
    this.#clearTimer();
    this.#open = true;
    this.presence.opened();
    const link = this.#link;
    const socket: PeerSocket = {
      send: link ? (frame) => line.send(frame === TEXT_FRAMES.PING ? link.keepalive('PING') : frame === TEXT_FRAMES.PONG ? link.keepalive('PONG') : frame) : (frame) => line.send(frame),
      close: (cause) => this.#release(line, closeCode(cause), endText(cause)),
    };
    let session = this.#session;
    const resumed = session.resumable();
    if (resumed) {
      session.reattached(socket);
    } else {
      if (session.id !== null) session = this.#session = this.#newSession();
      session.opened(socket, transport);
    }
    if (link) {
      // After our ADVERTISE: the handshake, then what the server has not got.
      this.#delivered = true;
      link.attach((frame) => line.send(frame));
    }
    for (const frame of this.#buffer.drain()) session.send(frame);
    this.#fire(new ClientOpenEvent(this.#attempt, resumed));
  }

  /** `line` (ours) closed, failed or timed out. */
  #lost(line: ClientLine, code: number, why: string, opened: boolean, status?: number): void {
    if (this.#line !== line) return;
    // Closed already, or abandoned while connecting: an orderly close, if any frame goes at all.
    this.#release(line, 1000, why);
    this.#clearTimer();
    if (this.#ending) return;
    const next = opened ? 1 : this.#attempt + 1;
    // The server closed us for good, or refused in a way no retry changes.
    const final = (opened && code === 1000) || (status !== undefined && status !== 0 && !RETRY_STATUS(status));
    if (final || this.#reconnect === null || next > this.#reconnect.maxRetries) {
      const reason = !final && this.#reconnect !== null && next > 1 ? `gave up after ${next - 1} failed attempt(s): ${why}` : why;
      return this.#end(code, reason, false);
    }
    this.#retry(why, next, { cause: 'peer-closed', code });
  }

  /** Reconnects after `why`; a socket that went (`gone`) is reported to the actor. */
  #retry(why: string, attempt: number, gone?: EndCause): void {
    this.#attempt = attempt;
    const delay = reconnectDelay(attempt, this.#reconnect!.minDelay, this.#reconnect!.maxDelay);
    this.#timer = setTimeout(() => this.#connect(), delay);
    const session = this.#live();
    // A drop: the actor goes on timing the server while we are away. A stream's actor cannot
    // be resumed: it ends with its socket (the timer just set says a reconnect is under way),
    // and the next socket starts a new one.
    if (session?.resumable()) session.lost();
    else if (gone) session?.socketClosed(gone);
    this.#fire(new ReconnectingEvent(attempt, delay, why));
  }

  /** The actor ended: our dead verdict, a protocol error, or `#end`. */
  #sessionClosed(cause: EndCause, reason: string): void {
    const line = this.#line;
    const code = closeCode(cause);
    // Only an open socket belongs to the ended actor; one still connecting is the next life's.
    if (line !== null && this.#open) this.#release(line, code, reason);
    if (this.#ending) return this.#finalize();
    if (this.#reconnect === null) return this.#end(code, reason, false);
    if (this.#line !== null || this.#timer !== null) return; // already reconnecting
    if (this.#reconnect.maxRetries < 1) return this.#end(code, reason, false);
    this.#retry(reason, 1);
  }

  /** Over for good, whatever the cause; `close` follows once. */
  #end(code: number, reason: string, wasClean: boolean): void {
    if (this.#ending) return;
    this.#ending = { code, reason, wasClean };
    this.#clearTimer();
    // The actor's own close sends our close frame through `#release`, with `code`.
    this.#live()?.close(reason);
    if (this.#line !== null) this.#release(this.#line, code, reason);
    this.#finalize();
  }

  #finalize(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearTimer();
    // Nothing the client accepted goes without a word: what never reached the server is named.
    const undelivered = this.#link ? this.#link.unacknowledged().map((entry) => entry.data) : this.#buffer.drain();
    const { code, reason, wasClean } = this.#ending!;
    this.#fire(new ClientCloseEvent(code, reason, wasClean, undelivered));
  }

  /** Lets go of `line`, closing it if it is not closed yet. */
  #release(line: ClientLine, ownCode: number, reason: string): void {
    if (this.#line !== line) return;
    this.#line = null;
    this.#open = false;
    this.#link?.detach();
    const code = this.#ending?.code ?? ownCode;
    // Browsers accept only 1000 and 3000-4999 from a client.
    line.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000, closeReason(reason));
  }

  /** The server does not speak delivery mode: plain frames, and what the window held goes out as sent. */
  #plainFrames(): void {
    const held = this.#link!.unacknowledged();
    this.#link = null;
    delete this.#target.protocols;
    for (const entry of held) this.#buffer.push(entry.data);
  }

  /** The server broke delivery mode's rules: nothing it says can be trusted to be in order any more. */
  #deliveryFailed(error: DeliveryError): void {
    this.#end(closeCode({ cause: 'delivery', code: error.code, message: error.message }), endText({ cause: 'delivery', code: error.code, message: error.message }), false);
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
