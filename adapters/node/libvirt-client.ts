/**
 * The Node side of the libvirt dialect: where a libvirt daemon listens (TCP, or its UNIX
 * socket). The handshake itself is platform-free (runtime/protocol/libvirt-negotiation.ts) and run
 * by the shared client session (runtime/client/session.ts).
 */
import type { NetConnectOpts } from 'node:net';
import { LIBVIRT_TCP_PORT } from '../../runtime/protocol/index.ts';

export { LIBVIRT_TCP_PORT } from '../../runtime/protocol/index.ts';

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
