/**
 * A libvirt client's keepalive handshake, platform-free: the adapter writes `call` first,
 * then feeds every received chunk through `receive` instead of straight to the host.
 *
 * libvirt has no ADVERTISE. Its client asks CONNECT_SUPPORTS_FEATURE(PROGRAM_KEEPALIVE)
 * right after authentication, before CONNECT_OPEN (src/remote/remote_driver.c,
 * doRemoteOpen: "Disabling keepalive protocol since it is not supported by the server"
 * otherwise); the daemon answers it without an open connection and starts its keepalive
 * for this client while doing so (src/remote/remote_daemon_dispatch.c,
 * remoteDispatchConnectSupportsFeature). So a reply of 1 is delivered to the client actor
 * as the peer's ADVERTISE. Anything else (0, an error reply) leaves the actor waiting for
 * an ADVERTISE that never comes: it sends nothing keepalive and never times the peer,
 * which is what a peer without keepalive needs.
 *
 * Until the reply, the byte stream is split here so the reply can be read; other frames
 * go on to the host whole. Once the reply is handled and no partial frame is held, raw
 * chunks go to the host's own frame reader again.
 */
import { decodeSupportsFeatureReply, describeRemoteError, encodeSupportsFeatureCall, FrameError, FrameReader } from '../codec/index.ts';
import type { ConnectionId, Host, TimerApi } from '../host/index.ts';
import { DEFAULTS } from './defaults.ts';

/** libvirtd's default `tcp_port` (libvirtd.conf). */
export const LIBVIRT_TCP_PORT = 16509;

export type KeepaliveSupport = { supported: true } | { supported: false; reason: string };

export interface LibvirtNegotiationOptions {
  /** The host connection: opened as a libvirt stream client that awaits ADVERTISE. */
  host: Host;
  id: ConnectionId;
  /** Serial of our CALL. Default 1. */
  serial?: number;
  /** Largest frame accepted while splitting here (use the host's `maxFrameBytes`). */
  maxFrameBytes?: number;
  /**
   * Called once, in stream order, before the outcome reaches the actor and before any
   * later frame does. The connection may be closed from here (a required feature missing).
   */
  onOutcome?: (support: KeepaliveSupport, at: number) => void;
}

export class LibvirtNegotiation {
  readonly serial: number;
  /** The CALL to write before anything else. */
  readonly call: Uint8Array;
  readonly #host: Host;
  readonly #id: ConnectionId;
  readonly #onOutcome: ((support: KeepaliveSupport, at: number) => void) | undefined;
  #reader: FrameReader | null;
  #outcome: KeepaliveSupport | null = null;

  constructor(options: LibvirtNegotiationOptions) {
    this.#host = options.host;
    this.#id = options.id;
    this.#onOutcome = options.onOutcome;
    this.serial = options.serial ?? 1;
    this.call = encodeSupportsFeatureCall(this.serial);
    this.#reader = options.maxFrameBytes === undefined ? new FrameReader() : new FrameReader(options.maxFrameBytes);
  }

  /** null until the daemon has answered. */
  get outcome(): KeepaliveSupport | null {
    return this.#outcome;
  }

  /** Feeds received bytes; false once the connection is closed (bad input closes it). */
  receive(chunk: Uint8Array, at: number = Date.now()): boolean {
    const reader = this.#reader;
    if (!reader) return this.#host.receive(this.#id, chunk, at);
    const error = reader.read(chunk, (frame) => this.#frame(frame, at));
    if (error) return this.#refuse(error, at);
    if (this.#outcome && reader.buffered === 0) this.#reader = null;
    return this.#host.has(this.#id);
  }

  #frame(frame: Uint8Array, at: number): boolean {
    if (this.#outcome) return this.#host.receive(this.#id, frame, at);
    const reply = decodeSupportsFeatureReply(frame, this.serial);
    if (reply === null) return this.#host.receive(this.#id, frame, at);
    if (reply instanceof FrameError) return this.#refuse(reply, at);
    const support: KeepaliveSupport =
      reply.status === 'error'
        ? { supported: false, reason: describeRemoteError(reply.error) }
        : reply.supported === 1
          ? { supported: true }
          : { supported: false, reason: `the daemon replied supported=${reply.supported}` };
    this.#outcome = support;
    this.#onOutcome?.(support, at);
    // The reply is the daemon's first message: a sign of life either way.
    return this.#host.deliver(this.#id, support.supported ? 'ADVERTISE' : 'MESSAGE', at) && this.#host.has(this.#id);
  }

  #refuse(error: FrameError, at: number): false {
    this.#reader = null;
    this.#host.close(this.#id, { cause: 'protocol', code: error.code, message: error.message }, at);
    return false;
  }
}

/** How long to wait for the CONNECT_SUPPORTS_FEATURE reply before giving up. */
export const DEFAULT_NEGOTIATION_TIMEOUT = 10_000;

export interface LibvirtHandshakeOptions {
  host: Host;
  id: ConnectionId;
  write: (frame: Uint8Array) => void;
  timeout: number;
  /** Close the connection when the daemon has no keepalive, instead of staying unchecked. */
  requireKeepalive: boolean;
  onCall: (serial: number, at: number) => void;
  onOutcome: (support: KeepaliveSupport, at: number) => void;
  timers?: TimerApi;
}

export interface LibvirtHandshake {
  /** Every received chunk goes here instead of to `host.receive`. */
  receive(chunk: Uint8Array): boolean;
  /** The connection ended: drop the timer. */
  stop(): void;
}

/** Writes the CALL now; the host connection must already be open (awaiting ADVERTISE). */
export function startLibvirtHandshake(options: LibvirtHandshakeOptions): LibvirtHandshake {
  const { host, id } = options;
  const timers = options.timers ?? globalThis;
  const negotiation = new LibvirtNegotiation({
    host,
    id,
    maxFrameBytes: DEFAULTS.maxFrameBytes,
    onOutcome: (support, at) => {
      timers.clearTimeout(timer);
      options.onOutcome(support, at);
      if (!support.supported && options.requireKeepalive) {
        host.close(id, { cause: 'negotiation', detail: support.reason }, at);
      }
    },
  });
  // The awaiting actor has no deadline of its own, so a daemon that never answers would
  // otherwise hold the client forever.
  const timer = timers.setTimeout(() => {
    if (negotiation.outcome === null) host.close(id, { cause: 'negotiation', timeout: options.timeout });
  }, options.timeout) as ReturnType<typeof setTimeout>;
  options.write(negotiation.call);
  options.onCall(negotiation.serial, Date.now());
  return {
    receive: (chunk) => negotiation.receive(chunk),
    stop: () => timers.clearTimeout(timer),
  };
}
