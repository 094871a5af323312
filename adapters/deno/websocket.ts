/**
 * WebSocket peers on Deno: an admitted `/connect` (runtime/hub/connect.ts) is upgraded with
 * `Deno.upgradeWebSocket` into the hub's peer (runtime/hub/websocket-peer.ts). Nothing per
 * socket but the socket and its peer record: the listeners are shared functions that find
 * the peer on the socket they fire on, where Hono's helper kept a context and four closures.
 *
 * Deno's server `WebSocket.close()` sends the close frame and then waits for the peer's;
 * there is no `terminate()` (denoland/deno#24292, #27924). So the socket of a peer declared
 * dead while its process is frozen stays counted (`OpenSockets`) until that process
 * answers or its TCP connection fails; its actor is gone at once.
 */
import { type AcceptSocket, bindPeer, type ConnectTicket, type PeerHub, peerOf, type WebSocketPort } from '../../runtime/hub/index.ts';
import type { OpenSockets } from './open-sockets.ts';

type DenoHub = PeerHub<WebSocket> & { readonly open: OpenSockets };

const PORT: WebSocketPort<WebSocket> = {
  send: (ws, frame) => ws.send(frame as string | Uint8Array<ArrayBuffer>),
  close: (ws, code, reason) => ws.close(code, reason),
};

/** Tickets of upgraded sockets until they open and are bound. */
const tickets = new WeakMap<WebSocket, ConnectTicket>();

/** The hub's `accept` on Deno: upgrades an admitted `/connect` (the hub has checked the upgrade header). */
export function denoAcceptor(parts: Omit<DenoHub, 'port' | 'open'>, open: OpenSockets): AcceptSocket {
  const hub: DenoHub = { ...parts, port: PORT, open };
  return (c, ticket) => {
    // The hub's choice, made at admission (delivery mode's, or the client's first).
    const protocol = ticket.protocol;
    // idleTimeout 0: Deno's own idle check re-arms a system timer with a fresh closure on every
    // inbound message; the keepalive statechart already decides when this peer is dead.
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw, protocol ? { idleTimeout: 0, protocol } : { idleTimeout: 0 });
    socket.binaryType = 'arraybuffer';
    bindPeer(socket, hub);
    tickets.set(socket, ticket);
    socket.addEventListener('open', onOpen);
    socket.addEventListener('message', onMessage);
    socket.addEventListener('close', onClose);
    socket.addEventListener('error', onError);
    return response;
  };
}

function onOpen(this: WebSocket): void {
  const peer = peerOf<WebSocket, DenoHub>(this);
  peer.hub.open.add(this);
  peer.open(tickets.get(this)!);
  tickets.delete(this);
}

function onMessage(this: WebSocket, event: MessageEvent): void {
  peerOf(this).message(event.data);
}

function onClose(this: WebSocket, event: CloseEvent): void {
  const peer = peerOf<WebSocket, DenoHub>(this);
  peer.hub.open.delete(this);
  peer.closed(event.code, event.reason);
}

function onError(this: WebSocket): void {
  peerOf(this).failed();
}
