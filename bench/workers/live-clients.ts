/**
 * Figures 6 and 9 client process: COUNT real WebSockets to URL. `keepalive` peers send ADVERTISE
 * and answer every keepalive:PING with keepalive:PONG (they send no PINGs of their own,
 * like a ws client under the heartbeat recipe); `ws-ping` peers only let `ws` answer
 * protocol pings. Any close before `stop` is counted: the server gave up on a live peer.
 *
 *   node bench/workers/live-clients.ts URL COUNT keepalive|ws-ping
 */
import WebSocket from 'ws';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import { onCommand, report } from '../lib/spawn.ts';

const [url, countArg, mode] = process.argv.slice(2);
const count = Number(countArg);
if (!url || !(count > 0) || (mode !== 'keepalive' && mode !== 'ws-ping')) throw new Error('usage: live-clients.ts URL COUNT keepalive|ws-ping');

const CONCURRENT_HANDSHAKES = 100;
const sockets = new Set<WebSocket>();
let stopping = false;
let failed = 0;
let unexpectedCloses = 0;
let pingsReceived = 0;
const closeReasons = new Map<string, number>();

function open(): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url!, { perMessageDeflate: false });
    ws.once('open', () => {
      sockets.add(ws);
      if (mode === 'keepalive') ws.send(TEXT_FRAMES.ADVERTISE);
      resolve();
    });
    ws.on('message', (data) => {
      if (data.toString() !== TEXT_FRAMES.PING) return;
      pingsReceived++;
      ws.send(TEXT_FRAMES.PONG);
    });
    ws.on('ping', () => pingsReceived++);
    ws.on('error', () => {});
    ws.on('close', (code, reason) => {
      if (!sockets.delete(ws)) {
        failed++;
        return resolve();
      }
      if (stopping) return;
      unexpectedCloses++;
      const key = `${code} ${reason.toString()}`.slice(0, 80);
      closeReasons.set(key, (closeReasons.get(key) ?? 0) + 1);
    });
  });
}

let next = 0;
await Promise.all(
  Array.from({ length: CONCURRENT_HANDSHAKES }, async () => {
    while (next < count) {
      next++;
      await open();
    }
  }),
);
report({ type: 'connected', open: sockets.size, failed });

onCommand((command) => {
  if (command.type === 'stats') {
    report({ type: 'stats', open: sockets.size, unexpectedCloses, pingsReceived, closeReasons: Object.fromEntries(closeReasons), cpu: process.cpuUsage() });
  } else if (command.type === 'stop') {
    stopping = true;
    for (const ws of sockets) ws.terminate();
    setTimeout(() => process.exit(0), 100);
  }
});
