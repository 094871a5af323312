/**
 * `keepalive-actors/client`: the keepalive client for anywhere with a global `WebSocket`
 * (browsers, Web Workers, Deno, Cloudflare Workers, Node 22+). No Node module, no `ws`.
 *
 *   const client = connect('wss://example.com/connect', { peer: 'ada' });
 *   client.onmessage = (event) => console.log(event.data);
 *   client.ondead = (event) => console.warn(event.reason); // then it reconnects
 *   client.send('hello');
 *
 * See docs/client.md.
 */
export { connect, KeepaliveClient, type ReadyState } from './client.ts';
export { DEFAULT_MAX_BUFFERED, type ConnectOptions, type ReconnectOptions } from '../../runtime/client/index.ts';
export {
  ClientCloseEvent,
  ClientErrorEvent,
  ClientFrameEvent,
  ClientMessageEvent,
  ClientOpenEvent,
  ClientPresence,
  DeadEvent,
  NegotiationEvent,
  ReconnectingEvent,
  PresenceEvent,
  type ClientEventMap,
  type PresenceEventMap,
} from '../../runtime/client/index.ts';
export type { PresenceConnection, PresencePeer, PresenceState } from '../../runtime/protocol/index.ts';
export type { ConnectionView } from '../../runtime/host/index.ts';
