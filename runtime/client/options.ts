/**
 * What `connect(url, options)` takes, checked up front so a mistake throws at the call
 * (a server refusing the upgrade is invisible to a browser: it only sees code 1006).
 */
import type { HostEvent, TimerApi } from '../host/index.ts';
import type { Frame } from '../codec/index.ts';
import { defaultReconnectMaxDelay, PRESENCE_PARAM, SESSION_PARAM } from '../protocol/index.ts';
import type { Dialect } from './session.ts';

export interface ReconnectOptions {
  /** First delay, ms. Default 100. */
  minDelay?: number;
  /**
   * Largest delay, ms; each delay doubles up to it and is jittered down to half. Default
   * min(interval / 2, 2000): after a drop the server keeps our connection only until its
   * own death bound, so we must be back well before that.
   */
  maxDelay?: number;
  /** Attempts in a row that may fail before the client gives up (`close`). Default Infinity. */
  maxRetries?: number;
}

export interface ConnectOptions {
  /** Our keepalive interval, ms: after this much silence from the server we PING. Default 5000. */
  interval?: number;
  /** Unanswered PINGs before the server is dead (one more silent interval after the last). Default 5. */
  count?: number;
  /** false: never PING and never declare the server dead; its PINGs are still answered. Default true. */
  sendPings?: boolean;
  /** Who we are, sent as `?peer=NAME`: 1-64 of `A-Z a-z 0-9 . _ : @ -`. */
  peer?: string;
  /** Reconnect (and resume our connection on the server) after a drop or a dead verdict. Default on; false: off. */
  reconnect?: boolean | ReconnectOptions;
  /**
   * Bytes `send` may hold while no socket is open (before the first, while reconnecting); in
   * delivery mode, bytes sent and not yet acknowledged. Default 1 MiB.
   */
  maxBuffered?: number;
  /**
   * Delivery mode (docs/delivery.md): every message is numbered, acknowledged on the
   * keepalive frames, and sent again after a drop, so each arrives once, in order, both
   * ways. Default: on wherever the client can resume (a WebSocket with reconnect on); false:
   * off. Our servers select it; a page's WebSocket fails the handshake with a server that
   * selects no subprotocol (the Node client opens again without offering it).
   */
  delivery?: boolean;
  /**
   * Subscribe to the hub's presence (`client.presence`; docs/client.md, "Presence"): asked for
   * with `?presence=1` on every connect; a hub without it ignores the question. Default on.
   */
  presence?: boolean;
  /** Delivery mode: messages sent and not yet acknowledged that `send` may hold; past it `send` throws. Default 10000. */
  maxUnacked?: number;
  /**
   * Node and Deno: `libvirt` talks to a libvirt daemon (tcp://host[:16509], a UNIX socket
   * path) and negotiates keepalive with CONNECT_SUPPORTS_FEATURE instead of ADVERTISE.
   * Default `keepalive`: our servers (ws://, or tcp:// for libvirt frames).
   */
  dialect?: Dialect;
  /** libvirt: close when the daemon has no keepalive. Default: stay connected, unchecked. */
  requireKeepalive?: boolean;
  /** libvirt: ms to wait for the CONNECT_SUPPORTS_FEATURE reply. Default 10000. */
  negotiationTimeout?: number;
  /** Every host event of the client's actor (a test's or a log's view of each frame). */
  onEvent?: (event: HostEvent) => void;
  /** For tests: the timer API the client's timer uses. */
  timers?: TimerApi;
}

export interface Reconnect {
  minDelay: number;
  maxDelay: number;
  maxRetries: number;
}

/** Same rule as the server's `?peer=` check (runtime/application/peer.ts). */
const PEER_NAME = /^[A-Za-z0-9._:@-]{1,64}$/;

export function reconnectOptions(options: ConnectOptions): Reconnect | null {
  if (options.reconnect === false) return null;
  const given = options.reconnect === true || options.reconnect === undefined ? {} : options.reconnect;
  const reconnect = {
    minDelay: given.minDelay ?? 100,
    maxDelay: given.maxDelay ?? defaultReconnectMaxDelay(options.interval ?? 5000),
    maxRetries: given.maxRetries ?? Infinity,
  };
  for (const [name, value] of Object.entries(reconnect)) {
    if (!(value >= 0)) throw new RangeError(`reconnect.${name} must be a number >= 0, got ${value}`);
  }
  return reconnect;
}

/**
 * The URL to open: ws(s)://, or http(s):// and relative URLs turned into one (as browsers'
 * own WebSocket does), with `?peer=` set.
 */
export function serverUrl(url: string | URL, peer: string | undefined): URL {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  const parsed = new URL(url, base);
  if (parsed.protocol === 'http:' || parsed.protocol === 'https:') parsed.protocol = parsed.protocol === 'http:' ? 'ws:' : 'wss:';
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new TypeError(`unsupported URL ${String(url)}: use ws://host/connect or wss://host/connect`);
  parsed.hash = '';
  if (parsed.searchParams.has(SESSION_PARAM)) throw new TypeError(`the client sets ?${SESSION_PARAM}= itself`);
  if (peer !== undefined) {
    if (!PEER_NAME.test(peer)) throw new TypeError(`peer must be 1 to 64 characters of A-Z a-z 0-9 . _ : @ - (got ${JSON.stringify(peer)})`);
    parsed.searchParams.set('peer', peer);
  }
  return parsed;
}

/** Where a line goes: a WebSocket URL (with our query), or a byte stream (tcp://, a libvirt socket). */
export interface LineTarget {
  kind: 'ws' | 'stream';
  url: string;
  dialect: Dialect;
  /** WebSocket subprotocols to offer (delivery mode's, when it is asked for). */
  protocols?: string[];
}

/** A WebSocket URL (ws(s)://, or http(s):// and relative ones converted, with `?peer=`), or a byte stream. */
export function lineTarget(url: string | URL, options: ConnectOptions): LineTarget {
  const dialect = options.dialect ?? 'keepalive';
  const text = String(url);
  const stream = dialect === 'libvirt' || /^tcp:/i.test(text);
  if (!stream) {
    const target = serverUrl(url, options.peer);
    if (options.presence !== false) target.searchParams.set(PRESENCE_PARAM, '1');
    return { kind: 'ws', url: target.toString(), dialect };
  }
  if (options.peer !== undefined) throw new TypeError(`peer needs a ws:// URL: a byte stream has nowhere to carry it (${text})`);
  return { kind: 'stream', url: text, dialect };
}

export function toFrame(data: string | ArrayBuffer | ArrayBufferView): Frame {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('send takes a string, an ArrayBuffer or a typed array / DataView');
}
