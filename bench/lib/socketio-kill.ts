/**
 * Socket.IO 4.8 with the Redis Streams adapter and connection state recovery, in the
 * scenario delivery mode's cluster test runs: three server processes behind a balancer, one
 * Redis; the client is held by process 1 while process 3 streams to it; process 1 is
 * SIGKILLed and the client reconnects through the balancer to another process. What arrived
 * is counted by the same tally as ours.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { io as connectClient } from 'socket.io-client';
import { startBalancer } from '../../test/support/balancer.ts';
import { freePort, startRedis } from '../../test/support/redis.ts';
import { StreamTally, type StreamCount } from '../../test/support/stream-count.ts';

const WORKER = fileURLToPath(new URL('../workers/socketio-node.ts', import.meta.url));

export interface KillResult {
  recovered: boolean;
  serverToClient: StreamCount;
}

export async function socketIoUnderKill(options: { rate: number; beforeKillMs: number; afterKillMs: number }): Promise<KillResult> {
  const redis = await startRedis();
  const ports = [await freePort(), await freePort(), await freePort()];
  const procs: ChildProcess[] = [];
  try {
    for (const port of ports) {
      const proc = spawn(process.execPath, [WORKER, String(port), redis.url], { stdio: ['ignore', 'pipe', 'inherit'] });
      procs.push(proc);
      await new Promise<void>((resolve) => proc.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('listening') && resolve()));
    }
    // The first connection goes to process 1; after its death, the balancer skips it.
    let alive = [...ports];
    const balancer = await startBalancer(() => alive);
    const down = new StreamTally('s');
    let recovered = false;
    const client = connectClient(`http://127.0.0.1:${balancer.port}`, { transports: ['websocket'], reconnectionDelay: 50, reconnectionDelayMax: 200 });
    client.on('m', (message: string) => down.arrived(message));
    client.on('connect', () => {
      if (client.recovered) recovered = true;
    });
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    await fetch(`http://127.0.0.1:${ports[2]}/stream?rate=${options.rate}`, { method: 'POST' });
    await new Promise((resolve) => setTimeout(resolve, options.beforeKillMs));
    procs[0]!.kill('SIGKILL');
    alive = ports.slice(1);
    await new Promise((resolve) => setTimeout(resolve, options.afterKillMs));
    const sent = Number(await (await fetch(`http://127.0.0.1:${ports[2]}/stop`, { method: 'POST' })).text());
    await new Promise((resolve) => setTimeout(resolve, 2000));
    down.sentElsewhere(sent);
    client.close();
    await balancer.close();
    return { recovered, serverToClient: down.count };
  } finally {
    for (const proc of procs) proc.kill('SIGKILL');
    await redis.stop();
  }
}
