/**
 * A TCP relay on loopback a test can freeze (every byte, both ways, held until `thaw`:
 * what a frozen server or a stalled network looks like to both ends) or cut (every
 * connection destroyed without a close frame: a dropped network).
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Connections relayed so far. */
  readonly accepted: number;
  freeze(): void;
  thaw(): void;
  cut(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  let frozen = false;
  let accepted = 0;
  const held: (() => void)[] = [];
  const sockets = new Set<Socket>();
  const relay = (from: Socket, to: Socket) => {
    from.on('data', (chunk) => {
      if (frozen) held.push(() => to.write(chunk));
      else to.write(chunk);
    });
    from.on('end', () => (frozen ? held.push(() => to.end()) : to.end()));
    from.on('close', () => (frozen ? held.push(() => to.destroy()) : to.destroy()));
    from.on('error', () => {});
  };
  const server = createServer((client) => {
    accepted++;
    const upstream = connect(targetPort, targetHost);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    }
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get accepted() {
      return accepted;
    },
    freeze() {
      frozen = true;
    },
    thaw() {
      frozen = false;
      for (const step of held.splice(0)) step();
    },
    cut() {
      for (const socket of sockets) socket.destroy();
    },
    close() {
      frozen = false;
      held.length = 0;
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
