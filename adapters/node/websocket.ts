/**
 * A `ws` WebSocket as the hub's peer (runtime/hub/websocket-peer.ts): Node's port, and the
 * listeners every socket shares (each finds its peer on `this`, the socket it fires on):
 * closures per socket would be memory every peer pays for its whole life (figure 9).
 */
import type { RawData, WebSocket } from 'ws';
import type { Frame } from '../../runtime/codec/index.ts';
import { bindPeer, type ConnectTicket, type PeerHub, peerOf, type WebSocketPort } from '../../runtime/hub/index.ts';

/** A hub's WebSocket peers on Node: they also report ws's errors. */
export type NodeHub = PeerHub<WebSocket> & { readonly log: (line: string) => void };

/**
 * Frames out wait here and are written together at the end of the turn (a tick PINGs many
 * connections at once): syscalls in a row, not between statechart steps, cost less each.
 * Per socket the order holds, and a close writes what is queued first. Socket, frame,
 * socket, frame...: one flat array, no object per frame.
 */
const outgoing: (WebSocket | Frame)[] = [];

export const WS_PORT: WebSocketPort<WebSocket> = {
  send(ws, frame) {
    if (outgoing.length === 0) queueMicrotask(flush);
    outgoing.push(ws, frame);
  },
  close(ws, code, reason) {
    flush();
    ws.close(code, reason);
  },
  // Without it ws waits 30 s for the peer's close frame.
  terminate: (ws) => ws.terminate(),
};

function flush(): void {
  for (let i = 0; i < outgoing.length; i += 2) {
    try {
      (outgoing[i] as WebSocket).send(outgoing[i + 1] as Frame);
    } catch {
      // ws throws only before the socket opened, which a queued frame's socket has; a closed one drops it.
    }
  }
  outgoing.length = 0;
}

/** The upgraded socket, bound to its connection (or closed, if the hub changed during the upgrade). */
export function wsPeer(ws: WebSocket, ticket: ConnectTicket, hub: NodeHub): void {
  const peer = bindPeer(ws, hub);
  ws.on('error', onError);
  if (!peer.open(ticket)) return;
  ws.on('message', onMessage);
  ws.on('close', onClose);
}

function onError(this: WebSocket, error: Error): void {
  // ws follows every error with a close event, which ends the connection; the error is news only.
  peerOf<WebSocket, NodeHub>(this).hub.log(`websocket error: ${error.message}`);
}

function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  peerOf(this).message(isBinary ? (Array.isArray(data) ? Buffer.concat(data) : data) : data.toString());
}

function onClose(this: WebSocket, code: number, reason: Buffer): void {
  peerOf(this).closed(code, reason.toString());
}
