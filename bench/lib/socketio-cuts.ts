/**
 * Socket.IO 4.8 with connection state recovery, in the scenario delivery mode is tested in:
 * one client behind a TCP relay that cuts every connection at random moments, both sides
 * sending `rate` messages a second. What each side received is counted (lost, duplicated,
 * out of order) by the same tally as ours (test/support/stream-count.ts).
 *
 * Recovery is set as its documentation says (`connectionStateRecovery`); the server sends to
 * a room (recovery replays room packets only), the client with `emit` (buffered while
 * disconnected, as socket.io-client does by default).
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io as connectClient } from 'socket.io-client';
import { startProxy } from '../../test/support/tcp-proxy.ts';
import { cutEvery, StreamTally, type StreamCount } from '../../test/support/stream-count.ts';

export interface CutsOptions {
  /** Messages per second, each way. */
  rate: number;
  /** How long both sides send, ms. */
  durationMs: number;
  /** Cuts come this many ms apart, at random in between. */
  cutMin: number;
  cutMax: number;
  /** After sending stops, how long to wait for the rest to arrive, ms. */
  settleMs: number;
}

export interface CutsResult {
  cuts: number;
  /** Reconnects the system reported as recovered / not recovered. */
  recovered: number;
  notRecovered: number;
  serverToClient: StreamCount;
  clientToServer: StreamCount;
}

export async function socketIoUnderCuts(options: CutsOptions): Promise<CutsResult> {
  const http: HttpServer = createServer();
  const server = new Server(http, { connectionStateRecovery: { maxDisconnectionDuration: 2 * 60_000, skipMiddlewares: true } });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const proxy = await startProxy((http.address() as AddressInfo).port);
  const down = new StreamTally('s');
  const up = new StreamTally('c');
  let recovered = 0;
  let notRecovered = 0;
  server.on('connection', (socket) => {
    if (socket.recovered) recovered++;
    else {
      socket.join('peer');
      if (down.sent > 0) notRecovered++;
    }
    socket.on('m', (message: string) => up.arrived(message));
  });
  const client = connectClient(`http://127.0.0.1:${proxy.port}`, { transports: ['websocket'], reconnectionDelay: 50, reconnectionDelayMax: 200 });
  client.on('m', (message: string) => down.arrived(message));
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));

  const every = 1000 / options.rate;
  const sender = setInterval(() => {
    server.to('peer').emit('m', down.next());
    client.emit('m', up.next());
  }, every);
  const cuts = cutEvery(options.cutMin, options.cutMax, () => proxy.cut());
  await new Promise((resolve) => setTimeout(resolve, options.durationMs));
  clearInterval(sender);
  cuts.stop();
  await new Promise((resolve) => setTimeout(resolve, options.settleMs));
  const result: CutsResult = { cuts: cuts.cuts, recovered, notRecovered, serverToClient: down.count, clientToServer: up.count };
  client.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await proxy.close();
  return result;
}
