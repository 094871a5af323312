/**
 * The client's events, as plain `Event` subclasses: `MessageEvent` and `CloseEvent` are
 * not globals everywhere the client runs (Node 22 has no `CloseEvent`), `Event` is. The
 * same events on every runtime; `sent`, `received` and `negotiated` tell what the
 * protocol does (a command line prints them), the rest what an application needs.
 */
import type { KeepaliveMessage } from '../../actors/keepalive.ts';
import type { KeepaliveSupport } from '../protocol/index.ts';

/** A socket is open and our ADVERTISE is out: the first connection, or a reconnect. */
export class ClientOpenEvent extends Event {
  /** 0 for the first connection, else the reconnect attempt that succeeded. */
  readonly attempt: number;
  /** The same actor carries on over this socket (a resume), not a new one. */
  readonly resumed: boolean;
  constructor(attempt: number, resumed = false) {
    super('open');
    this.attempt = attempt;
    this.resumed = resumed;
  }
}

/** A keepalive message went out (`sent`) or came in (`received`; `MESSAGE` for an application frame). */
export class ClientFrameEvent extends Event {
  readonly message: KeepaliveMessage | 'MESSAGE';
  readonly at: number;
  constructor(type: 'sent' | 'received', message: KeepaliveMessage | 'MESSAGE', at: number) {
    super(type);
    this.message = message;
    this.at = at;
  }
}

/**
 * libvirt dialect: `negotiating` when CONNECT_SUPPORTS_FEATURE went out (with its serial),
 * `negotiated` with the daemon's answer. Unsupported: we send nothing keepalive and never
 * declare the daemon dead.
 */
export class NegotiationEvent extends Event {
  readonly serial: number;
  readonly support: KeepaliveSupport | null;
  readonly at: number;
  constructor(type: 'negotiating' | 'negotiated', serial: number, support: KeepaliveSupport | null, at: number) {
    super(type);
    this.serial = serial;
    this.support = support;
    this.at = at;
  }
}

/** An application frame from the server: text as a string, binary as a Uint8Array. */
export class ClientMessageEvent extends Event {
  readonly data: string | Uint8Array;
  /** When it arrived, ms since the epoch. */
  readonly at: number;
  /** Its sequence number in delivery mode (each arrives once, in order); undefined otherwise. */
  readonly seq: number | undefined;
  constructor(data: string | Uint8Array, at: number, seq?: number) {
    super('message');
    this.data = data;
    this.at = at;
    this.seq = seq;
  }
}

/**
 * Our statechart declared the server dead: silent for `silentFor` ms with `unanswered`
 * PINGs unanswered. The socket is closed; `reconnecting` follows unless reconnect is off
 * (then `close`).
 */
export class DeadEvent extends Event {
  readonly reason: string;
  readonly silentFor: number;
  readonly unanswered: number;
  /** When the verdict was reached, ms since the epoch. */
  readonly at: number;
  constructor(reason: string, at: number, silentFor: number, unanswered: number) {
    super('dead');
    this.reason = reason;
    this.at = at;
    this.silentFor = silentFor;
    this.unanswered = unanswered;
  }
}

/** The socket is gone (or an attempt failed); attempt `attempt` starts in `delay` ms. */
export class ReconnectingEvent extends Event {
  readonly attempt: number;
  readonly delay: number;
  /** Why the last socket went, e.g. `server closed the connection (1006)`. */
  readonly reason: string;
  constructor(attempt: number, delay: number, reason: string) {
    super('reconnecting');
    this.attempt = attempt;
    this.delay = delay;
    this.reason = reason;
  }
}

/** Over for good: `close()` was called, reconnect is off, or it gave up. Nothing follows. */
export class ClientCloseEvent extends Event {
  /** The WebSocket close code: ours (1000 for `close()`, 4000 after a dead verdict) or the server's. */
  readonly code: number;
  /** A sentence a person can read, e.g. `client closing`, `gave up after 5 attempts: ...`. */
  readonly reason: string;
  /** True only when `close()` ended it. */
  readonly wasClean: boolean;
  /**
   * Delivery mode: what was sent and never acknowledged by the server, oldest first. The
   * server may have had some of them (its acknowledgement was lost with the socket); it never
   * got the rest. Empty otherwise.
   */
  readonly undelivered: readonly (string | Uint8Array)[];
  constructor(code: number, reason: string, wasClean: boolean, undelivered: readonly (string | Uint8Array)[] = []) {
    super('close');
    this.code = code;
    this.reason = reason;
    this.wasClean = wasClean;
    this.undelivered = undelivered;
  }
}

/** A bug in a callback the client ran (its timer's tick threw); the connection carries on. */
export class ClientErrorEvent extends Event {
  readonly error: Error;
  constructor(error: Error) {
    super('error');
    this.error = error;
  }
}

export interface ClientEventMap {
  open: ClientOpenEvent;
  sent: ClientFrameEvent;
  received: ClientFrameEvent;
  negotiating: NegotiationEvent;
  negotiated: NegotiationEvent;
  message: ClientMessageEvent;
  dead: DeadEvent;
  reconnecting: ReconnectingEvent;
  close: ClientCloseEvent;
  error: ClientErrorEvent;
}
