/**
 * A `Transport` over whatever sockets an adapter holds: a `ws` WebSocket, a Deno
 * WebSocket, a Node `net.Socket`, a Durable Object's hibernatable WebSocket. Each only
 * needs send and close; how a close looks on the wire is derived from its cause
 * (`closeFrame` in runtime/protocol/end-cause.ts).
 */
import type { Frame } from '../codec/index.ts';
import type { EndCause } from '../protocol/index.ts';
import type { Transport } from './types.ts';
import type { ConnectionId } from './store.ts';

export interface PeerSocket {
  send(frame: Frame): void;
  close(cause: EndCause): void;
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

  close(id: ConnectionId, cause: EndCause): void {
    this.detach(id)?.close(cause);
  }
}
