/**
 * Why a connection ended, as a value. Everything that depends on it is derived here and
 * nowhere else: the sentence a person reads (`endText`), the WebSocket close code and
 * reason (`closeFrame`), the metric label (`endLabel`), and whether a socket may be let go
 * without waiting for the peer's half of the close handshake (`abandonsPeer`). Rewording a
 * sentence changes nothing else; nothing anywhere decides by a reason's text.
 */
import type { FrameErrorCode } from '../codec/index.ts';

/** Why a delivery-mode frame was refused (runtime/delivery/wire.ts's `DeliveryError`). */
export type DeliveryErrorCode = 'malformed' | 'oversized' | 'sequence' | 'ack' | 'resume';

export type EndCause =
  /** The statechart's verdict: `count` PINGs unanswered and one more silent interval. */
  | { readonly cause: 'dead'; readonly silentFor: number; readonly unanswered: number }
  /** A server's peer did not ADVERTISE within `advertiseTimeout` ms. */
  | { readonly cause: 'no-advertise'; readonly timeout: number }
  /**
   * The peer closed its socket: a WebSocket close frame (`code`, and what it `said`, if
   * anything), or a byte stream's end (`stream`).
   */
  | { readonly cause: 'peer-closed'; readonly code?: number; readonly said?: string; readonly stream?: boolean }
  /** The socket failed under us (an error event), or was gone when a Durable Object came back (`away`). */
  | { readonly cause: 'socket-lost'; readonly error?: string; readonly away?: boolean }
  /** The peer sent something the protocol does not allow; the connection is closed for it. */
  | { readonly cause: 'protocol'; readonly code: FrameErrorCode; readonly message: string }
  /** The peer broke delivery mode's rules (a sequence that skips, an ack beyond what was sent, ...: docs/protocol.md). */
  | { readonly cause: 'delivery'; readonly code: DeliveryErrorCode; readonly message: string }
  /**
   * libvirt's supports-feature handshake (a client of a libvirt daemon): the daemon does not
   * do keepalive (`detail` says how we know), or did not answer within `timeout` ms.
   */
  | { readonly cause: 'negotiation'; readonly detail: string }
  | { readonly cause: 'negotiation'; readonly timeout: number }
  /** Writing to the socket threw. */
  | { readonly cause: 'send-failed'; readonly error: string }
  /**
   * The server goes away and keeps the connection for whoever serves it next (the next
   * process, another process of a cluster, another shard): its peer reconnects and resumes.
   */
  | { readonly cause: 'restart'; readonly signal?: string; readonly detail?: string }
  /** The server shuts down and the connection ends with it. */
  | { readonly cause: 'shutdown'; readonly signal?: string; readonly detail?: string }
  /** The application closed it (`conn.close(reason)` in a hook, or a client's `close()`). */
  | { readonly cause: 'application'; readonly reason?: string }
  /** Whoever owns the `Host` closed it (`host.close(id)`), saying `reason` or nothing. */
  | { readonly cause: 'local'; readonly reason?: string };

export type EndCauseName = EndCause['cause'];

/** The sentence a person reads: hooks' `info.reason`, logs, the close frame, the inspector. */
export function endText(end: EndCause): string {
  switch (end.cause) {
    case 'dead':
      return `peer dead: silent for ${end.silentFor} ms, ${end.unanswered} keepalive PING(s) unanswered`;
    case 'no-advertise':
      return `no ADVERTISE within ${end.timeout} ms`;
    case 'peer-closed':
      if (end.said) return `peer closed: ${end.said}`;
      return end.stream ? 'peer closed the TCP connection' : 'peer closed the connection';
    case 'socket-lost':
      if (end.away) return 'socket lost while the hub was away';
      return end.error === undefined ? 'socket error' : `socket error: ${end.error}`;
    case 'protocol':
      return `protocol error (${end.code}): ${end.message}`;
    case 'delivery':
      return `delivery error (${end.code}): ${end.message}`;
    case 'negotiation':
      return 'timeout' in end ? `no reply to CONNECT_SUPPORTS_FEATURE within ${end.timeout} ms` : `libvirt peer does not support keepalive: ${end.detail}`;
    case 'send-failed':
      return `send failed: ${end.error}`;
    case 'restart':
      return `server restarting${end.signal ? ` (${end.signal})` : ''}${end.detail ? `: ${end.detail}` : ''}`;
    case 'shutdown':
      return end.detail ?? `server shutting down${end.signal ? ` (${end.signal})` : ''}`;
    case 'application':
      return end.reason ?? 'closed by the application';
    case 'local':
      return end.reason ?? 'closed locally';
  }
}

/**
 * The WebSocket close code: 1012 (Service Restart, IANA registry) when the connection
 * survives for whoever serves it next, 4000 (application range) for a dead peer, a protocol
 * error or a missed ADVERTISE, 4002 for a broken delivery rule, 1000 for any other orderly
 * close.
 */
export function closeCode(end: EndCause): number {
  switch (end.cause) {
    case 'restart':
      return 1012;
    case 'delivery':
      return 4002;
    case 'dead':
    case 'protocol':
    case 'no-advertise':
      return 4000;
    default:
      return 1000;
  }
}

/** What a close frame carries: the code, and the sentence cut to WebSocket's 123 bytes. */
export function closeFrame(end: EndCause): { code: number; reason: string } {
  return { code: closeCode(end), reason: closeReason(endText(end)) };
}

/** WebSocket close reasons are limited to 123 bytes of UTF-8 (RFC 6455, 5.5). */
export function closeReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.length <= 123) return reason;
  return new TextDecoder().decode(bytes.slice(0, 120)).replace(/\uFFFD$/, '') + '...';
}

/** Closes after which the peer is not waited for: a dead or never-advertised peer may never finish the handshake. */
export function abandonsPeer(end: EndCause): boolean {
  return end.cause === 'dead' || end.cause === 'no-advertise';
}

/**
 * The `reason` label of `keepalive_connections_closed_total` (docs/operations.md). A
 * restart counts as a shutdown: both are the server going away.
 */
export function endLabel(end: EndCause): 'dead' | 'peer_closed' | 'no_advertise' | 'protocol_error' | 'shutdown' | 'application' | 'other' {
  switch (end.cause) {
    case 'dead':
      return 'dead';
    case 'peer-closed':
      return 'peer_closed';
    case 'no-advertise':
      return 'no_advertise';
    case 'protocol':
    case 'delivery':
      return 'protocol_error';
    case 'restart':
    case 'shutdown':
      return 'shutdown';
    case 'application':
      return 'application';
    default:
      return 'other';
  }
}

const CAUSES: ReadonlySet<string> = new Set<EndCauseName>([
  'dead',
  'no-advertise',
  'peer-closed',
  'socket-lost',
  'protocol',
  'delivery',
  'negotiation',
  'send-failed',
  'restart',
  'shutdown',
  'application',
  'local',
]);

/** A cause read back from storage or the wire: an object naming a cause we know. */
export function isEndCause(value: unknown): value is EndCause {
  return typeof value === 'object' && value !== null && CAUSES.has((value as { cause?: unknown }).cause as string);
}
