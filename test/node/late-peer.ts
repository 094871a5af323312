/**
 * A peer in its own process for the late-timer test: two WebSockets, A and B. When A gets
 * its first PING, B sends "stall" (the server's handler for it hogs the event loop), and
 * A answers 100 ms later, in the middle of the stall; then a marker file says so. Later
 * PINGs are answered at once.
 *
 *   node test/node/late-peer.ts ws://127.0.0.1:PORT/connect MARKER_FILE
 */
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';

const [url = '', marker = ''] = process.argv.slice(2);
const a = new WebSocket(url);
const b = new WebSocket(url);
let first = true;

for (const ws of [a, b]) {
  ws.on('open', () => ws.send(TEXT_FRAMES.ADVERTISE));
  ws.on('error', () => {});
}
b.on('message', (data) => {
  if (data.toString() === TEXT_FRAMES.PING) b.send(TEXT_FRAMES.PONG);
});
a.on('message', (data) => {
  if (data.toString() !== TEXT_FRAMES.PING) return;
  if (!first) return a.send(TEXT_FRAMES.PONG);
  first = false;
  b.send('stall');
  setTimeout(() => {
    a.send(TEXT_FRAMES.PONG);
    writeFileSync(marker, 'PONG sent');
  }, 100);
});
a.on('close', (code, reason) => {
  console.log(`A closed ${code} ${reason.toString()}`);
  b.close();
  process.exit(0);
});
