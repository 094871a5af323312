/**
 * Baselines for figure 5: the least a server can do for a round trip, an echo. A raw `ws`
 * WebSocketServer (the library the Node server upgrades with) and a raw `net` server, both on
 * loopback with Nagle off like the adapter's TCP listener.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { WebSocketServer } from 'ws';

export interface EchoServer {
  url: string;
  close(): Promise<void>;
}

export function wsEcho(): Promise<EchoServer> {
  return new Promise((resolve) => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = wss.address() as AddressInfo;
      resolve({
        url: `ws://127.0.0.1:${port}/`,
        close: () =>
          new Promise((done) => {
            for (const ws of wss.clients) ws.terminate();
            wss.close(() => done());
          }),
      });
    });
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  });
}

export function tcpEcho(): Promise<EchoServer> {
  return new Promise((resolve) => {
    const sockets = new Set<import('node:net').Socket>();
    const server: Server = createServer({ noDelay: true }, (socket) => {
      sockets.add(socket);
      socket.on('data', (chunk) => socket.write(chunk));
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
    });
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `tcp://127.0.0.1:${port}`,
        close: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
