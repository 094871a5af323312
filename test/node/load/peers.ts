/**
 * Many keepalive clients in one process for the load test: one `Host` (the runtime's own
 * statechart, fast path and single wake timer) holding N client connections over `ws`,
 * each advertising, PINGing after its own silent interval and declaring the server dead
 * after interval*(count+1) of silence, like `npm run connect`. Commands on stdin, reports
 * on stdout, as for test/node/load/server.ts.
 *
 *   node test/node/load/peers.ts URL --connections N --interval MS --count C [--no-ping] [--reconnect] [--latency MS]
 *
 * `--reconnect` opens a new connection whenever one ends, so the number stays N across
 * deliberate stalls that kill some.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { nanoid } from 'nanoid';
import WebSocket from 'ws';
import { SocketRegistry } from '../../../runtime/host/sockets.ts';
import { abandonsPeer, closeFrame, type EndCause } from '../../../runtime/protocol/end-cause.ts';
import { Host } from '../../../runtime/host/host.ts';
import { WakeTimer } from '../../../runtime/host/wake-timer.ts';
import { summary, type LoadCommand, type PeersReport } from './protocol.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    connections: { type: 'string', default: '100' },
    interval: { type: 'string', default: '1000' },
    count: { type: 'string', default: '5' },
    'no-ping': { type: 'boolean', default: false },
    reconnect: { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '100' },
    /** ms added to every frame this side sends, as a network's delay would. */
    latency: { type: 'string', default: '0' },
  },
});
const latency = Number(values.latency);
const url = positionals[0]!;
const target = Number(values.connections);
const concurrency = Number(values.concurrency);
const keepalive = { interval: Number(values.interval), count: Number(values.count), sendPings: !values['no-ping'] };

const sockets = new SocketRegistry();
const timer = new WakeTimer({ wake: (at) => host.tick(at), unref: false });
let deaths: number[] = [];
let closes: Record<string, number> = {};
let reopened = 0;
let failedOpens = 0;
let stopping = false;
const host: Host = new Host({
  transport: sockets,
  onNextWake: timer.schedule,
  defaults: keepalive,
  onEvent: (event) => {
    if (event.type === 'dead') deaths.push(event.silentFor);
    else if (event.type === 'closed') closes[event.reason] = (closes[event.reason] ?? 0) + 1;
    else return;
    if (values.reconnect && !stopping) {
      reopened++;
      queue++;
      pump();
    }
  },
});

let queue = target;
let inFlight = 0;
let opened = 0;
let announced = false;

function pump(): void {
  while (queue > 0 && inFlight < concurrency) {
    queue--;
    inFlight++;
    open();
  }
}

function open(): void {
  const id = nanoid();
  const ws = new WebSocket(url, { perMessageDeflate: false });
  let settled = false;
  const settle = () => {
    if (settled) return;
    settled = true;
    inFlight--;
    pump();
  };
  ws.on('open', () => {
    settle();
    sockets.attach(id, {
      send: (frame) => (latency > 0 ? setTimeout(() => ws.send(frame), latency) : ws.send(frame)),
      close: (cause: EndCause) => {
        const { code, reason } = closeFrame(cause);
        ws.close(code, reason);
        // A server declared dead may never finish the close handshake.
        if (abandonsPeer(cause)) ws.terminate();
      },
    });
    host.open({ id, role: 'client' });
    opened++;
    if (!announced && opened >= target) {
      announced = true;
      say({ type: 'ready', open: host.size });
    }
  });
  ws.on('message', (data) => host.receive(id, data.toString()));
  ws.on('close', (code, reason) => {
    sockets.detach(id);
    host.peerClosed(id, { cause: 'peer-closed', code, said: reason.toString() });
  });
  ws.on('error', () => {
    if (settled) return;
    failedOpens++;
    settle();
    // Refused under load: try again shortly.
    setTimeout(() => {
      queue++;
      pump();
    }, 200);
  });
}

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

function report(): PeersReport {
  const views = host.list();
  return {
    type: 'report',
    open: host.size,
    deaths: deaths.length,
    deathSilence: summary(deaths),
    closes,
    reopened,
    failedOpens,
    pingsSent: views.reduce((sum, v) => sum + v.pingsSent, 0),
    pongsReceived: views.reduce((sum, v) => sum + v.pongsReceived, 0),
    pingsReceived: views.reduce((sum, v) => sum + v.pingsReceived, 0),
    loopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
    memoryMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
}

const say = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`);

function handle(command: LoadCommand): void {
  switch (command.cmd) {
    case 'reset':
      deaths = [];
      closes = {};
      reopened = 0;
      failedOpens = 0;
      loopDelay.reset();
      return say({ type: 'ok', cmd: 'reset' });
    case 'report':
      return say(report());
    case 'stop':
      stopping = true;
      timer.stop();
      return process.exit(0);
    default:
      return say({ type: 'error', message: `peers do not ${command.cmd}` });
  }
}

createInterface({ input: process.stdin }).on('line', (line) => handle(JSON.parse(line) as LoadCommand));
process.stdin.on('end', () => process.exit(0));
pump();
