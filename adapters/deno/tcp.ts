/**
 * libvirt-framed peers over TCP with `Deno.listen`, as the Node adapter serves them: the
 * hub opens each socket's connection and the Host splits the byte stream. Not available
 * on Deno Deploy.
 */
import type { PeerSocket } from '../../runtime/host/index.ts';
import type { StreamAcceptor, TcpListening } from '../../runtime/server/index.ts';
import { closeQuietly, ConnWriter, isClosedError } from './conn.ts';

export interface TcpOptions {
  hostname: string;
  port: number;
  accept: StreamAcceptor;
  log: (line: string) => void;
}

export function listenTcp(options: TcpOptions): TcpListening {
  const { accept, log } = options;
  const listener = Deno.listen({ hostname: options.hostname, port: options.port, transport: 'tcp' });
  const conns = new Set<Deno.TcpConn>();
  void (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        void serveConn(conn, accept).finally(() => conns.delete(conn));
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) log(`tcp listener: ${String(error)}`);
    }
  })();
  return {
    port: listener.addr.port,
    openSockets: () => conns.size,
    stop: () => closeQuietly(listener),
    destroyAll: () => conns.forEach(closeQuietly),
  };
}

async function serveConn(conn: Deno.TcpConn, accept: StreamAcceptor): Promise<void> {
  conn.setNoDelay(true);
  const writer = new ConnWriter(conn);
  const peer: PeerSocket = {
    send: (frame) => writer.write(frame),
    // TCP has no close reason on the wire; the reason is in the log line.
    close: () => closeQuietly(conn),
  };
  const id = accept.open(peer, `${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`);
  if (id === undefined) return closeQuietly(conn);
  try {
    // Each chunk is a fresh buffer, so the Host's frame reader may keep views into it.
    for await (const chunk of conn.readable) accept.receive(id, peer, chunk);
  } catch (error) {
    // Closed by us (dead peer, protocol error) while a read was pending, or reset by the peer.
    if (!isClosedError(error)) accept.error(id, error);
  } finally {
    accept.closed(id, peer);
    closeQuietly(conn);
  }
}
