/**
 * Figure 7 peers: COUNT real WebSockets to one hub of `wrangler dev`, from this one Node
 * process. Every peer sends ADVERTISE and answers each keepalive:PING with a PONG.
 *
 * - `pinger`: also PINGs every PERIOD ms (its phase random), as a client whose own
 *   interval is shorter than the server's; the platform's auto-response answers, so the
 *   object should never see these PINGs, and should never need to PING the peer.
 * - `answerer`: sends no PINGs of its own; it is kept alive by the server's PINGs alone.
 *
 * Any close before `stop` is counted: the server gave up on a live peer. A text frame
 * `bc:<ms since the epoch>` (figure 12's broadcasts) is timed from that stamp to its arrival.
 *
 *   node bench/workers/do-peers.ts URL COUNT pinger|answerer PERIOD
 */
import WebSocket from 'ws';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import { onCommand, report } from '../lib/spawn.ts';

export type PeerMode = 'pinger' | 'answerer';

export interface PeerStats {
  type: 'stats';
  open: number;
  unexpectedCloses: number;
  /** PINGs the server sent us (an answerer's whole keepalive). */
  serverPings: number;
  /** PINGs we sent and PONGs that came back. */
  pingsSent: number;
  pongs: number;
  closeReasons: Record<string, number>;
  /** ms from each `bc:` stamp to its arrival here, since the last stats. */
  broadcasts: number[];
}

const CONCURRENT_HANDSHAKES = 50;

if (import.meta.main) {
  const [url, countArg, mode, periodArg] = process.argv.slice(2);
  const count = Number(countArg);
  const period = Number(periodArg);
  if (!url || !(count > 0) || (mode !== 'pinger' && mode !== 'answerer') || !(period > 0)) {
    throw new Error('usage: do-peers.ts URL COUNT pinger|answerer PERIOD');
  }
  const sockets = new Set<WebSocket>();
  const timers = new Set<NodeJS.Timeout>();
  let stopping = false;
  let failed = 0;
  let unexpectedCloses = 0;
  let serverPings = 0;
  let pingsSent = 0;
  let pongs = 0;
  const closeReasons = new Map<string, number>();
  let broadcasts: number[] = [];

  const open = () =>
    new Promise<void>((resolve) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.once('open', () => {
        sockets.add(ws);
        ws.send(TEXT_FRAMES.ADVERTISE);
        if (mode === 'pinger') {
          // Random phase, so the hub sees the PINGs of many peers spread over the period.
          const start = setTimeout(() => {
            const ping = () => {
              if (ws.readyState !== WebSocket.OPEN) return;
              pingsSent++;
              ws.send(TEXT_FRAMES.PING);
            };
            ping();
            const every = setInterval(ping, period);
            timers.add(every);
          }, Math.random() * period);
          timers.add(start);
        }
        resolve();
      });
      ws.on('message', (data) => {
        const text = data.toString();
        if (text === TEXT_FRAMES.PONG) pongs++;
        else if (text.startsWith('bc:')) broadcasts.push(performance.timeOrigin + performance.now() - Number(text.slice(3)));
        else if (text === TEXT_FRAMES.PING) {
          serverPings++;
          ws.send(TEXT_FRAMES.PONG);
        }
      });
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

  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENT_HANDSHAKES, count) }, async () => {
      while (next < count) {
        next++;
        await open();
      }
    }),
  );
  report({ type: 'connected', open: sockets.size, failed });

  onCommand((command) => {
    if (command.type === 'stats') {
      report<PeerStats>({ type: 'stats', open: sockets.size, unexpectedCloses: unexpectedCloses + failed, serverPings, pingsSent, pongs, closeReasons: Object.fromEntries(closeReasons), broadcasts });
      broadcasts = [];
    } else if (command.type === 'stop') {
      stopping = true;
      for (const timer of timers) clearTimeout(timer);
      for (const ws of sockets) ws.close(1000, 'bench done');
      setTimeout(() => process.exit(0), 500);
    }
  });
}
