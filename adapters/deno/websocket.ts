/**
 * Hono's Deno WebSocket helper, with the server's raw sockets counted: `openSockets()`
 * shows a socket that outlived its actor, and shutdown can wait for every goodbye.
 *
 * Deno's server `WebSocket.close()` sends the close frame and then waits for the peer's;
 * there is no `terminate()` (denoland/deno#24292, #27924). So the socket of a peer
 * declared dead while its process is frozen stays counted until that process answers or
 * its TCP connection fails; its actor is gone at once.
 */
import type { UpgradeWebSocket } from 'hono/ws';
import { defineWebSocketHelper } from 'hono/ws';
import { upgradeWebSocket as denoUpgradeWebSocket } from 'hono/deno';

export type DenoUpgradeWebSocket = UpgradeWebSocket<WebSocket, Deno.UpgradeWebSocketOptions>;

/** The raw WebSockets a server holds, from upgrade to close. */
export class OpenSockets {
  readonly #open = new Set<WebSocket>();
  #waiters: (() => void)[] = [];

  get size(): number {
    return this.#open.size;
  }

  add(ws: WebSocket): void {
    this.#open.add(ws);
  }

  delete(ws: WebSocket): void {
    this.#open.delete(ws);
    if (this.#open.size > 0) return;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves once every socket has closed (at once when none is open). */
  empty(): Promise<void> {
    if (this.#open.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

export function trackedUpgradeWebSocket(open: OpenSockets): DenoUpgradeWebSocket {
  return defineWebSocketHelper<WebSocket, Deno.UpgradeWebSocketOptions>((c, events, options) => {
    // Not an upgrade: fall through to the next handler (404), as on Node.
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') return;
    return denoUpgradeWebSocket(
      c,
      {
        ...events,
        onOpen(event, ws) {
          if (ws.raw) open.add(ws.raw);
          events.onOpen?.(event, ws);
        },
        onClose(event, ws) {
          if (ws.raw) open.delete(ws.raw);
          events.onClose?.(event, ws);
        },
      },
      options,
    );
  });
}
