/**
 * The Node side of the libvirt dialect: where a libvirt daemon listens (TCP, or its UNIX
 * socket) and the handshake's one timer. The handshake itself is platform-free
 * (runtime/libvirt-negotiation.ts).
 */
import type { NetConnectOpts } from 'node:net';
import {
  DEFAULT_MAX_FRAME_BYTES,
  LibvirtNegotiation,
  type ConnectionId,
  type Host,
  type KeepaliveSupport,
} from '../../runtime/index.ts';

/** libvirtd's default `tcp_port` (libvirtd.conf). */
export const LIBVIRT_TCP_PORT = 16509;
/** How long to wait for the CONNECT_SUPPORTS_FEATURE reply before giving up. */
export const DEFAULT_NEGOTIATION_TIMEOUT = 10_000;

/** `tcp://host[:port]` (port 16509 by default), `unix:///path/to/libvirt-sock`, or an absolute socket path. */
export function libvirtTarget(url: string): NetConnectOpts {
  if (url.startsWith('/')) return { path: url };
  const parsed = new URL(url);
  if (parsed.protocol === 'unix:' && parsed.pathname.length > 1 && !parsed.host) {
    return { path: decodeURIComponent(parsed.pathname) };
  }
  if (parsed.protocol === 'tcp:' && parsed.hostname) {
    return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: parsed.port ? Number(parsed.port) : LIBVIRT_TCP_PORT };
  }
  throw new TypeError(
    `unsupported URL ${url} for the libvirt dialect: use tcp://host[:${LIBVIRT_TCP_PORT}], unix:///path/to/libvirt-sock or an absolute socket path`,
  );
}

export interface LibvirtHandshakeOptions {
  host: Host;
  id: ConnectionId;
  write: (frame: Uint8Array) => void;
  timeout: number;
  /** Close the connection when the daemon has no keepalive, instead of staying unchecked. */
  requireKeepalive: boolean;
  onCall: (serial: number, at: number) => void;
  onOutcome: (support: KeepaliveSupport, at: number) => void;
}

export interface LibvirtHandshake {
  /** Every received chunk goes here instead of to `host.receive`. */
  receive(chunk: Uint8Array): boolean;
  /** The connection ended: drop the timer. */
  stop(): void;
}

/** Writes the CALL now; the host connection must already be open (awaiting ADVERTISE). */
export function startLibvirtHandshake(options: LibvirtHandshakeOptions): LibvirtHandshake {
  const { host, id } = options;
  const negotiation = new LibvirtNegotiation({
    host,
    id,
    maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
    onOutcome: (support, at) => {
      clearTimeout(timer);
      options.onOutcome(support, at);
      if (!support.supported && options.requireKeepalive) {
        host.close(id, `libvirt peer does not support keepalive: ${support.reason}`, at);
      }
    },
  });
  // The awaiting actor has no deadline of its own, so a daemon that never answers would
  // otherwise hold the client forever.
  const timer = setTimeout(() => {
    if (negotiation.outcome === null) host.close(id, `no reply to CONNECT_SUPPORTS_FEATURE within ${options.timeout} ms`);
  }, options.timeout);
  options.write(negotiation.call);
  options.onCall(negotiation.serial, Date.now());
  return {
    receive: (chunk) => negotiation.receive(chunk),
    stop: () => clearTimeout(timer),
  };
}
