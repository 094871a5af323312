/**
 * Delivery mode across a server process killed with SIGKILL mid-stream and started again on
 * its store (Node `--state`, Deno `--kv`): a client of ours sends `c0`, `c1`, ... while the
 * first process sends `a0`, `a1`, ... and, after the restart, the second one `b0`, `b1`, ...
 * Each server process prints every message it hands to `onMessage` as it does
 * (`heard <data> <seq>`), so what the killed one handled is known, and the second one first
 * prints the window the first left in the store (`stored <id> received=R floor=F next=N`).
 * Just before the kill the relay between them holds every byte for a while, so the first
 * process's window holds messages the client never saw, and the client's holds messages that
 * never reached the server: both are replayed from the stores after the restart.
 * The caller asserts; this only runs it and reads what happened.
 */
import { connect } from '../../adapters/node/client.ts';
import { until, type Spawned } from '../node/helpers.ts';
import { startProxy } from './tcp-proxy.ts';

export interface StreamProcess extends Spawned {
  /** http://host:port */
  base: string;
  port: number;
}

export interface Heard {
  data: string;
  seq: number;
}

export interface StoredCounters {
  received: number;
  floor: number;
  next: number;
}

export interface RestartRun {
  /** What the client's `message` event gave, in order. */
  down: string[];
  /** How many of them had arrived when the first process was killed. */
  downBeforeKill: number;
  /** How many the first process had accepted (`send` returned true) as the relay held them, just before the kill. */
  sentBeforeKill: number;
  /** How many the second process sent. */
  sentAfter: number;
  /** How many the client sent (`c0` ... `c<up - 1>`). */
  up: number;
  heardBefore: Heard[];
  heardAfter: Heard[];
  stored: StoredCounters;
  restored: number;
  opens: number;
}

export interface RestartOptions {
  /** Starts a server process streaming `prefix`, on `port` (0: any). */
  start(prefix: string, port: number): Promise<StreamProcess>;
  rate: number;
  /** Messages each way before the kill, and again after the restart. */
  messages: number;
  /** Messages the first process sends while the relay holds everything, just before the kill. */
  held: number;
}

const heard = (server: Spawned): Heard[] =>
  server.stdout.flatMap((line) => {
    const match = /^heard (\S+) (\d+)$/.exec(line);
    return match ? [{ data: match[1]!, seq: Number(match[2]) }] : [];
  });

const post = async (base: string, path: string) => (await fetch(`${base}${path}`, { method: 'POST' })).json() as Promise<{ sent: number }>;

export async function streamAcrossRestart(options: RestartOptions): Promise<RestartRun> {
  const first = await options.start('a', 0);
  const down: string[] = [];
  let opens = 0;
  // Its bound (interval * (count + 1)) outlasts the restart; it retries every 20-200 ms meanwhile.
  const proxy = await startProxy(first.port);
  const client = connect(`ws://127.0.0.1:${proxy.port}/connect`, { delivery: true, interval: 1000, count: 5, reconnect: { minDelay: 20, maxDelay: 200 } });
  try {
    client.addEventListener('open', () => opens++);
    client.addEventListener('message', (event) => down.push(String(event.data)));
    await until(() => opens > 0, 'the first open');
    let up = 0;
    const sender = setInterval(() => client.send(`c${up++}`), 1000 / options.rate);
    await post(first.base, `/stream/start?rate=${options.rate}`);
    await until(() => down.length >= options.messages && heard(first).length >= options.messages, `${options.messages} messages each way`, 30_000);
    proxy.freeze();
    const sent = async () => ((await (await fetch(`${first.base}/stream/sent`)).json()) as { sent: number }).sent;
    const heldFrom = await sent();
    await until(async () => (await sent()) >= heldFrom + options.held, `${options.held} messages sent into the held relay`);
    const downBeforeKill = down.length;
    const sentBeforeKill = await sent();
    first.proc.kill('SIGKILL');
    await first.exited();
    // What the relay held dies with its connections, as on a dropped network.
    proxy.cut();
    proxy.thaw();
    const heardBefore = heard(first);

    const second = await options.start('b', first.port);
    const stored = second.stdout.map((line) => /^stored \S+ received=(\d+) floor=(\d+) next=(\d+)$/.exec(line)).find(Boolean);
    if (!stored) throw new Error(`the second process found no stored window:\n${second.stdout.join('\n')}`);
    const restored = Number(/\((\d+) restored\)/.exec(second.stdout.find((line) => line.startsWith('listening'))!)![1]);
    await post(second.base, `/stream/start?rate=${options.rate}`);
    const bs = () => down.filter((m) => m.startsWith('b')).length;
    await until(() => bs() >= options.messages && heard(second).length >= options.messages, `${options.messages} messages each way after the restart`, 30_000);
    clearInterval(sender);
    const { sent: sentAfter } = await post(second.base, '/stream/stop');
    await until(() => bs() >= sentAfter && heard(second).at(-1)?.data === `c${up - 1}`, 'the last messages', 10_000).catch(() => undefined);
    return {
      down,
      downBeforeKill,
      sentBeforeKill,
      sentAfter,
      up,
      heardBefore,
      heardAfter: heard(second),
      stored: { received: Number(stored[1]), floor: Number(stored[2]), next: Number(stored[3]) },
      restored,
      opens,
    };
  } finally {
    client.close();
    await proxy.close();
  }
}
