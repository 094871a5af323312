/**
 * The keepalive client on the global `WebSocket` and nothing else: browsers, Web Workers,
 * Deno, Cloudflare Workers, Node 22+. The client itself is the one every runtime shares
 * (runtime/client/keepalive-client.ts); here it only gets its socket.
 */
import { type ConnectOptions, KeepaliveClient, webSocketLine } from '../../runtime/client/index.ts';

export { KeepaliveClient, type ReadyState } from '../../runtime/client/index.ts';

/** Connects to a keepalive server's `/connect` (ws://, wss://; http(s):// and relative URLs are converted). */
export function connect(url: string | URL, options: ConnectOptions = {}): KeepaliveClient {
  return new KeepaliveClient(url, options, webSocketLine);
}
