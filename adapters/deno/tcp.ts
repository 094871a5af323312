/**
 * libvirt-framed peers over TCP with `Deno.listen`, as the Node adapter serves them: the
 * Host splits the byte stream (`stream: true`) and decodes. Not available on Deno Deploy.
 */
import { nanoid } from 'nanoid';
import { CapacityError, type Host, type SocketRegistry } from '../../runtime/index.ts';
import { closeQuietly, ConnWriter, isClosedError } from './conn.ts';

export interface TcpListener {
  port: number;
  /** TCP connections still open. */
  readonly open: number;
  /** Stops accepting; open connections stay (the Host closes them). */
  stop(): void;
  /** Drops every connection still open. */
  destroyAll(): void;
}

export interface TcpOptions {
  host: Host;
  sockets: SocketRegistry;
  hostname: string;
  port: number;
  log: (line: string) => void;
}

export function listenTcp(options: TcpOptions): TcpListener {
  const { host, sockets, log } = options;
  const listener = Deno.listen({ hostname: options.hostname, port: options.port, transport: 'tcp' });
  const conns = new Set<Deno.TcpConn>();
  void (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        void serveConn(conn, host, sockets, log).finally(() => conns.delete(conn));
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) log(`tcp listener: ${String(error)}`);
    }
  })();
  return {
    port: listener.addr.port,
    get open() {
      return conns.size;
    },
    stop: () => closeQuietly(listener),
    destroyAll: () => conns.forEach(closeQuietly),
  };
}

async function serveConn(conn: Deno.TcpConn, host: Host, sockets: SocketRegistry, log: (line: string) => void): Promise<void> {
  conn.setNoDelay(true);
  const id = nanoid();
  const writer = new ConnWriter(conn);
  // Attached before opening, so whatever the actor says first has a socket to go to.
  sockets.attach(id, {
    send: (frame) => writer.write(frame),
    // TCP has no close reason on the wire; the reason is in the log line.
    close: () => closeQuietly(conn),
  });
  try {
    host.open({ id, role: 'server', codec: { name: 'libvirt', advertise: true }, stream: true, meta: { transport: 'tcp' } });
  } catch (error) {
    sockets.detach(id);
    const reason = error instanceof CapacityError ? error.message : String(error);
    log(`tcp ${addressOf(conn)} refused: ${reason}`);
    closeQuietly(conn);
    return;
  }
  try {
    // Each chunk is a fresh buffer, so the Host's frame reader may keep views into it.
    for await (const chunk of conn.readable) host.receive(id, chunk);
  } catch (error) {
    // Closed by us (dead peer, protocol error) while a read was pending, or reset by the peer.
    if (!isClosedError(error)) log(`tcp ${id}: ${String(error)}`);
  } finally {
    sockets.detach(id);
    host.peerClosed(id, 'peer closed the TCP connection');
    closeQuietly(conn);
  }
}

function addressOf(conn: Deno.TcpConn): string {
  return `${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`;
}
