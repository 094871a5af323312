/**
 * Ours in the two scenarios Socket.IO is measured in (bench/lib/socketio-cuts.ts and
 * socketio-kill.ts), for figure 13's side-by-side table, counted by the same tally:
 *
 * - cuts: our Node server in this process, our client (delivery mode) behind a relay that
 *   cuts every connection at random moments, both sides streaming (test/support/delivery-stream.ts);
 * - kill: three Node processes of a clustered hub on one redis-server behind a balancer, as
 *   test/cluster/delivery.test.ts runs them; process b streams to the client held by a, a is
 *   SIGKILLed and the client resumes on c.
 */
import { fileURLToPath } from 'node:url';
import { connect } from '../../adapters/node/client.ts';
import { startServer } from '../../adapters/node/server.ts';
import type { Connection } from '../../runtime/application/index.ts';
import { killAll, NODE, spawnProcess, until, withUrls } from '../../test/node/helpers.ts';
import { startBalancer } from '../../test/support/balancer.ts';
import { streamUnderCuts } from '../../test/support/delivery-stream.ts';
import { startRedis } from '../../test/support/redis.ts';
import { StreamTally, type StreamCount } from '../../test/support/stream-count.ts';

export interface OursCuts {
  cuts: number;
  serverToClient: StreamCount;
  clientToServer: StreamCount;
  seconds: number;
}

export async function oursUnderCuts(options: { rate: number; cuts: number; cutMin: number; cutMax: number; settleMs: number }): Promise<OursCuts> {
  let conn: Connection | undefined;
  const received: string[] = [];
  let timer: ReturnType<typeof setInterval> | undefined;
  let sent = 0;
  const server = await startServer({
    port: 0,
    tcpPort: null,
    inspector: false,
    interval: 1000,
    count: 2,
    hooks: {
      onOpen: (c) => void (conn = c),
      onMessage: (_c, data) => void received.push(String(data)),
    },
  });
  const started = performance.now();
  try {
    const run = await streamUnderCuts({
      target: { host: '127.0.0.1', port: Number(new URL(server.wsUrl).port) },
      server: {
        async start(rate) {
          await until(() => conn, 'the connection opened');
          timer = setInterval(() => {
            if (conn!.send(`s${sent}`)) sent++;
          }, 1000 / rate);
        },
        async stop() {
          clearInterval(timer);
          return sent;
        },
        received: async () => received,
      },
      rate: options.rate,
      cuts: options.cuts,
      cutMin: options.cutMin,
      cutMax: options.cutMax,
      interval: 1000,
      count: 2,
      settleMs: options.settleMs,
    });
    const seconds = (performance.now() - started) / 1000;
    run.client.close();
    return { cuts: run.cuts, serverToClient: run.down.count, clientToServer: run.up.count, seconds };
  } finally {
    clearInterval(timer);
    await server.close(undefined, { keepConnections: false });
  }
}

const HUB = fileURLToPath(new URL('../../test/cluster/stream-hub.ts', import.meta.url));

export interface OursKill {
  resumed: boolean;
  /** b's sends to the connection. */
  serverToClient: StreamCount;
  /** b's broadcasts, which the connection also receives. */
  broadcasts: StreamCount;
}

export async function oursUnderKill(options: { rate: number; beforeKillMs: number; afterKillMs: number }): Promise<OursKill> {
  const redis = await startRedis();
  try {
    const servers = [];
    for (const node of ['a', 'b', 'c']) servers.push(await withUrls(spawnProcess(NODE, [HUB], { REDIS: redis.url, NODE: node })));
    const [a, b, c] = servers as [(typeof servers)[0], (typeof servers)[0], (typeof servers)[0]];
    let routeTo = [a];
    const balancer = await startBalancer(() => routeTo.map((server) => Number(new URL(server.http).port)));
    const down = new StreamTally('s');
    const broadcasts = new StreamTally('b');
    let resumed = false;
    const client = connect(balancer.url, { peer: 'stream', interval: 2000, count: 3, reconnect: { minDelay: 50, maxDelay: 200 } });
    client.addEventListener('message', (event) => {
      const data = String(event.data);
      (data.startsWith('s') ? down : broadcasts).arrived(data);
    });
    client.addEventListener('open', (event) => void (event.resumed && (resumed = true)));
    await new Promise<void>((resolve) => client.addEventListener('open', () => resolve(), { once: true }));
    const presence = async (server: typeof a) => (await (await fetch(`${server.http}/presence`)).json()) as { connection: string; node: string }[];
    const id = await until(async () => (await presence(a)).find((row) => row.node === 'a')?.connection, 'a holds the connection');
    await until(async () => (await presence(b)).some((row) => row.connection === id), 'b knows where it is');
    await fetch(`${b.http}/stream/start?to=${id}&rate=${options.rate}`, { method: 'POST' });
    await new Promise((resolve) => setTimeout(resolve, options.beforeKillMs));
    routeTo = [c];
    a.proc.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, options.afterKillMs));
    const { sent, broadcast } = (await (await fetch(`${b.http}/stream/stop`, { method: 'POST' })).json()) as { sent: number; broadcast: number };
    await until(() => down.count.delivered >= sent && broadcasts.count.delivered >= broadcast, 'everything arrived', 10_000).catch(() => undefined);
    down.sentElsewhere(sent);
    broadcasts.sentElsewhere(broadcast);
    client.close();
    await balancer.close();
    return { resumed, serverToClient: down.count, broadcasts: broadcasts.count };
  } finally {
    killAll();
    await redis.stop();
  }
}
