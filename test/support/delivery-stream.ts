/**
 * Delivery mode under a cutting relay, for any server: a client of ours connects through a
 * TCP relay that destroys every connection at random moments, while both sides send `rate`
 * numbered messages a second. The server's side of the stream is supplied by the caller (in
 * process, or over HTTP to a server in another process); the client's is here.
 */
import { connect, type KeepaliveClient } from '../../adapters/node/client.ts';
import { startProxy, type TcpProxy } from './tcp-proxy.ts';
import { cutEvery, StreamTally } from './stream-count.ts';
import { until } from './wait.ts';

export interface ServerStream {
  /** Starts sending `rate` messages a second to the client's connection (numbered `s0`, `s1`, ...). */
  start(rate: number): Promise<void>;
  /** Stops sending; resolves to how many were sent (every one accepted by `send`). */
  stop(): Promise<number>;
  /** What arrived from the client, in arrival order. */
  received(): Promise<string[]>;
}

export interface CutsRun {
  cuts: number;
  down: StreamTally;
  up: StreamTally;
  opens: number;
  client: KeepaliveClient;
}

export interface CutsOptions {
  /** Where the server listens (`host:port`); the relay forwards to it. */
  target: { host: string; port: number };
  /** `/connect` path (a Worker names its hub). */
  path?: string;
  server: ServerStream;
  rate: number;
  /** Cuts to make at least; both sides keep sending until then. */
  cuts: number;
  cutMin: number;
  cutMax: number;
  /** The client's keepalive. */
  interval: number;
  count: number;
  /** How long the last messages may take to arrive after sending stops, ms. */
  settleMs?: number;
}

export async function streamUnderCuts(options: CutsOptions): Promise<CutsRun> {
  const proxy: TcpProxy = await startProxy(options.target.port, options.target.host);
  const down = new StreamTally('s');
  const up = new StreamTally('c');
  let opens = 0;
  const client = connect(`ws://127.0.0.1:${proxy.port}${options.path ?? '/connect'}`, {
    delivery: true,
    interval: options.interval,
    count: options.count,
    reconnect: { minDelay: 20, maxDelay: 100 },
  });
  client.addEventListener('open', () => opens++);
  client.addEventListener('message', (event) => down.arrived(String(event.data)));
  await new Promise<void>((resolve, reject) => {
    client.addEventListener('open', () => resolve(), { once: true });
    client.addEventListener('close', (event) => reject(new Error(`closed before opening: ${event.reason}`)), { once: true });
  });
  await options.server.start(options.rate);
  const every = 1000 / options.rate;
  const sender = setInterval(() => client.send(up.next()), every);
  const cuts = cutEvery(options.cutMin, options.cutMax, () => proxy.cut());
  while (cuts.cuts < options.cuts) await new Promise((resolve) => setTimeout(resolve, 50));
  cuts.stop();
  clearInterval(sender);
  const sentDown = await options.server.stop();
  // What is still missing after the settling time shows in the tally, not as a throw here.
  await until(async () => down.count.delivered >= sentDown && (await options.server.received()).length >= up.sent, 'the rest of both streams', options.settleMs ?? 10_000, 50).catch(() => undefined);
  for (const message of await options.server.received()) up.arrived(message);
  await proxy.close();
  // The tally knows what the client sent; the server says what it sent.
  down.sentElsewhere(sentDown);
  return { cuts: cuts.cuts, down, up, opens, client };
}
