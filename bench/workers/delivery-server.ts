/**
 * Figure 13's server process: the default Node server (interval from argv, count 5), which
 * selects delivery mode for a client that offers it and plain frames otherwise. Commands on
 * stdin (bench/lib/spawn.ts):
 *
 *   { type: 'stream', perInterval }   send that many messages per interval to every connection, spread in 10 ms ticks
 *   { type: 'quiet' }                 stop streaming
 *   { type: 'window' }                answers { cpuUs, sent, received, refused } since the last 'window'
 *   { type: 'burst', n, bytes, last } send n messages of about `bytes` each to every connection (`last`:
 *                                     the newest only), in one turn
 *   { type: 'heap' }                  answers heapUsed after a full GC
 *   { type: 'connections' }           answers how many connections the hub holds and how many are in delivery mode
 *
 *   node --expose-gc bench/workers/delivery-server.ts INTERVAL
 */
import { startServer } from '../../adapters/node/server.ts';
import { onCommand, report } from '../lib/spawn.ts';

const interval = Number(process.argv[2] ?? '1000');
let received = 0;
let sent = 0;
let refused = 0;
let burstSeq = 0;
const server = await startServer({
  port: 0,
  tcpPort: null,
  inspector: false,
  interval,
  count: 5,
  hooks: {
    onMessage() {
      received++;
    },
  },
});

const TICK = 10;
let timer: ReturnType<typeof setInterval> | undefined;
let owed = 0;
function stream(perInterval: number): void {
  clearInterval(timer);
  owed = 0;
  const perTick = (perInterval * TICK) / interval;
  timer = setInterval(() => {
    owed += perTick;
    const n = Math.floor(owed);
    owed -= n;
    if (n === 0) return;
    for (const conn of server.hub.connections()) {
      for (let i = 0; i < n; i++) {
        if (conn.send(`m${sent}`)) sent++;
        else refused++;
      }
    }
  }, TICK);
}

let cpu = process.cpuUsage();
let base = { sent, received, refused };
report({ type: 'ready', url: server.wsUrl });
onCommand((command) => {
  if (command.type === 'stream') stream(Number(command.perInterval));
  else if (command.type === 'quiet') clearInterval(timer);
  else if (command.type === 'window') {
    const used = process.cpuUsage(cpu);
    report({ type: 'window', cpuUs: used.user + used.system, sent: sent - base.sent, received: received - base.received, refused: refused - base.refused });
    cpu = process.cpuUsage();
    base = { sent, received, refused };
  } else if (command.type === 'burst') {
    const pad = 'x'.repeat(Math.max(0, Number(command.bytes ?? 16) - 8));
    let ok = 0;
    const all = server.hub.connections();
    for (const conn of command.last ? all.slice(-1) : all) {
      for (let i = 0; i < Number(command.n); i++) if (conn.send(`${pad}${burstSeq++}`)) ok++;
    }
    report({ type: 'burst', sent: ok });
  } else if (command.type === 'heap') {
    for (let i = 0; i < 3; i++) globalThis.gc?.();
    report({ type: 'heap', heapUsed: process.memoryUsage().heapUsed });
  } else if (command.type === 'connections') {
    report({ type: 'connections', size: server.hub.connections().length });
  }
});
