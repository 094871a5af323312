/**
 * The server side of the load test, in its own process (its fd limit raised by the
 * spawner): the Node adapter's `startServer`, plus a CPU hog in the same event loop. It
 * takes JSON commands on stdin and answers JSON lines on stdout (see `LoadCommand`).
 *
 *   node test/node/load/server.ts --interval 1000 --count 5 [--sync-timers]
 *
 * `--sync-timers` ticks inside the timer callback (no `afterIo`): what the runtime did
 * before the late-timer fix, to show what that fix is worth under load.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { startServer } from '../../../adapters/node/server.ts';
import type { TimerApi } from '../../../runtime/host/wake-timer.ts';
import { burn, summary, type LoadCommand, type ServerReport } from './protocol.ts';

const { values } = parseArgs({
  options: {
    interval: { type: 'string', default: '1000' },
    count: { type: 'string', default: '5' },
    'sync-timers': { type: 'boolean', default: false },
  },
});
const interval = Number(values.interval);
const count = Number(values.count);

const syncTimers: TimerApi = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

let deaths: { silentFor: number; unanswered: number }[] = [];
let closes: Record<string, number> = {};
let rejected = 0;
/** A stall armed to follow the next tick that sends at least `minBatch` PINGs, and that tick's PINGs. */
let armed: { ms: number; minBatch: number } | null = null;
let tickPings = 0;
let batch = 0;
const server = await startServer({
  port: 0,
  tcpPort: 0,
  interval,
  count,
  ...(values['sync-timers'] ? { timers: syncTimers } : {}),
  onEvent: (event) => {
    if (armed && batch === 0 && event.type === 'sent' && event.message === 'PING') {
      // A tick sends its PINGs in one go: counted until it is over.
      if (tickPings++ === 0) {
        process.nextTick(() => {
          if (tickPings >= armed!.minBatch) batch = tickPings;
          tickPings = 0;
        });
      }
    }
    // In the socket handler of the first frame after that tick, like a CPU-heavy request
    // handler: the other answers arrive during the stall and wait in their sockets.
    else if (armed && batch > 0 && event.type === 'received') stallNow();
    else if (event.type === 'dead') deaths.push({ silentFor: event.silentFor, unanswered: event.unanswered });
    else if (event.type === 'closed') closes[event.reason] = (closes[event.reason] ?? 0) + 1;
    else if (event.type === 'rejected') rejected++;
  },
});

// 10 ms resolution: a stall shows as one sample of its length.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
let stalls: number[] = [];
let hog: NodeJS.Timeout | undefined;

function stallNow(): void {
  const ms = burn(armed!.ms);
  stalls.push(ms);
  say({ type: 'stalled', ms, batch });
  armed = null;
  batch = 0;
}

function report(): ServerReport {
  const views = server.host.list();
  return {
    type: 'report',
    connections: server.host.size,
    sockets: server.openSockets().ws,
    deaths: deaths.length,
    deathSilence: summary(deaths.map((d) => d.silentFor)),
    closes,
    rejected,
    pingsSent: views.reduce((sum, v) => sum + v.pingsSent, 0),
    pongsReceived: views.reduce((sum, v) => sum + v.pongsReceived, 0),
    pingsReceived: views.reduce((sum, v) => sum + v.pingsReceived, 0),
    maxUnanswered: views.reduce((most, v) => Math.max(most, v.unanswered), 0),
    stalls: summary(stalls),
    loopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
    memoryMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
}

const say = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`);

function handle(command: LoadCommand): void {
  switch (command.cmd) {
    case 'burn':
      clearInterval(hog);
      hog = command.ms > 0 ? setInterval(() => stalls.push(burn(command.ms)), command.every) : undefined;
      return say({ type: 'ok', cmd: 'burn' });
    case 'stall':
      if (command.afterPings !== undefined) {
        armed = { ms: command.ms, minBatch: command.afterPings };
        return;
      }
      // Answered after the stall, so the reply says how long the loop really stood still.
      stalls.push(burn(command.ms));
      return say({ type: 'stalled', ms: stalls.at(-1), batch: 0 });
    case 'reset':
      deaths = [];
      closes = {};
      rejected = 0;
      stalls = [];
      loopDelay.reset();
      return say({ type: 'ok', cmd: 'reset' });
    case 'report':
      return say(report());
    case 'stop':
      clearInterval(hog);
      void server.close().then(() => process.exit(0));
      return;
  }
}

createInterface({ input: process.stdin }).on('line', (line) => handle(JSON.parse(line) as LoadCommand));
process.stdin.on('end', () => process.exit(0));
say({ type: 'ready', wsUrl: server.wsUrl, pid: process.pid });
