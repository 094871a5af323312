/**
 * Every default of the one settings model (runtime/config/settings.ts), in a module of its own
 * with no imports: the host and the browser client need the defaults, not the parser.
 */

/** libvirtd's keepalive settings, and what a local server binds to. */
export const DEFAULTS = {
  host: '127.0.0.1',
  port: 8787,
  tcpPort: 8788,
  interval: 5000,
  count: 5,
  sendPings: true,
  maxPingsPerInterval: 100,
  maxFrameBytes: 1024 * 1024,
  hub: 'default',
  webhookRetryMs: 1000,
  /** Delivery mode: messages sent and not yet acknowledged that one connection may hold (each side). */
  deliveryWindow: 10_000,
  /** ... and their bytes (the client's send buffer's too). */
  deliveryWindowBytes: 1024 * 1024,
  /** Presence for peers (docs/protocol.md, "Presence"): off unless the hub turns it on. */
  presence: false,
  /** A peer's presence state, its JSON in UTF-8 bytes. */
  presenceStateBytes: 1024,
} as const;

/** What a peer gets to ADVERTISE unless told otherwise: as long as a silent advertised peer may live. */
export function defaultAdvertiseTimeout(interval: number, count: number): number {
  return interval * (count + 1);
}

/**
 * Our client's longest wait between reconnect attempts at this keepalive interval, unless
 * told otherwise: short enough to reattach while the server still holds the connection, and
 * what a clustered hub's takeover waits for a live peer to come back (runtime/cluster/takeover.ts).
 */
export function defaultReconnectMaxDelay(interval: number): number {
  return Math.min(interval / 2, 2000);
}
