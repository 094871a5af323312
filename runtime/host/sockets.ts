/**
 * A `Transport` over whatever sockets an adapter holds: a `ws` WebSocket on Node, Deno's
 * WebSocket, a Node `net.Socket`, a Durable Object's hibernatable WebSocket. Each only
 * needs send and close.
 */
import type { Frame } from '../codec/index.ts';
import type { Transport } from './host.ts';
import type { ConnectionId } from './store.ts';

export interface PeerSocket {
  send(frame: Frame): void;
  close(reason: string): void;
}

export class SocketRegistry implements Transport {
  readonly #sockets = new Map<ConnectionId, PeerSocket>();

  attach(id: ConnectionId, socket: PeerSocket): void {
    this.#sockets.set(id, socket);
  }

  detach(id: ConnectionId): PeerSocket | undefined {
    const socket = this.#sockets.get(id);
    this.#sockets.delete(id);
    return socket;
  }

  get(id: ConnectionId): PeerSocket | undefined {
    return this.#sockets.get(id);
  }

  /** `socket` is still the one of connection `id`: not closed by the host, replaced by a resume, or let go on a restart. */
  holds(id: ConnectionId | undefined, socket: PeerSocket): boolean {
    return id !== undefined && this.#sockets.get(id) === socket;
  }

  get size(): number {
    return this.#sockets.size;
  }

  send(id: ConnectionId, frame: Frame): void {
    this.#sockets.get(id)?.send(frame);
  }

  close(id: ConnectionId, reason: string): void {
    this.detach(id)?.close(reason);
  }
}

/** WebSocket close reasons are limited to 123 bytes of UTF-8 (RFC 6455, 5.5). */
export function closeReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.length <= 123) return reason;
  return new TextDecoder().decode(bytes.slice(0, 120)).replace(/\uFFFD$/, '') + '...';
}

/** A shutdown that keeps the connections for the next process: peers may resume. */
export const RESTART_REASON = 'server restarting';

/**
 * 1000 for an orderly close, 4000 (application range) for a dead peer, a protocol error or
 * a missed ADVERTISE, 1012 (Service Restart, IANA registry) when the connections survive
 * for the next process.
 */
export function closeCode(reason: string): number {
  if (reason.startsWith(RESTART_REASON)) return 1012;
  return /^(peer dead|protocol error|no ADVERTISE)/.test(reason) ? 4000 : 1000;
}

/** Closes after which the peer is not waited for (a dead or never-advertised peer may never finish the handshake). */
export function abandonsPeer(reason: string): boolean {
  return /^(peer dead|no ADVERTISE)/.test(reason);
}
