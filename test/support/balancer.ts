/**
 * A TCP load balancer on loopback, as a deployment puts in front of several processes:
 * each new connection goes to the next backend in turn, and to the one after it when that
 * one refuses (a killed process). A client behind it that reconnects lands anywhere.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface Balancer {
  port: number;
  url: string;
  /** The backend each accepted connection went to, in order. */
  readonly routed: number[];
  /** Drops every connection it carries (a network blip): their clients reconnect, and land wherever it routes now. */
  cut(): void;
  close(): Promise<void>;
}

export async function startBalancer(backends: () => readonly number[]): Promise<Balancer> {
  let next = 0;
  const routed: number[] = [];
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  };
  const server = createServer({ pauseOnConnect: true }, (client) => {
    track(client);
    const ports = backends();
    const attempt = (tries: number) => {
      if (tries >= ports.length || client.destroyed) return void client.destroy();
      const port = ports[next++ % ports.length]!;
      const upstream = connect(port, '127.0.0.1');
      upstream.once('error', () => attempt(tries + 1));
      upstream.once('connect', () => {
        track(upstream);
        routed.push(port);
        client.pipe(upstream);
        upstream.pipe(client);
        client.once('close', () => upstream.destroy());
        upstream.once('close', () => client.destroy());
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}/connect`,
    routed,
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
