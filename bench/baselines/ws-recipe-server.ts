/**
 * Baseline for figures 6 and 9: a raw `ws` server with the heartbeat recipe from the ws README,
 * one `setInterval` pinging every client at the protocol level and terminating those
 * whose pong has not come back by the next sweep.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { TEXT_FRAMES } from '../../runtime/codec/index.ts';

export interface RecipeServer {
  url: string;
  readonly size: number;
  /** Clients terminated for a missing pong. */
  readonly terminated: number;
  close(): Promise<void>;
}

/**
 * `text`: the same recipe speaking our text dialect instead of protocol pings (a text
 * `keepalive:PING` out, any `keepalive:PONG` back marks the client alive): what the text
 * frames themselves cost a hand-written server, beside the recipe and ours (figure 9).
 */
export function startRecipeServer(interval: number, dialect: 'ws-ping' | 'text' = 'ws-ping'): Promise<RecipeServer> {
  const alive = new WeakMap<WebSocket, boolean>();
  let terminated = 0;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    alive.set(ws, true);
    if (dialect === 'text') ws.on('message', (data, isBinary) => void (!isBinary && data.toString() === TEXT_FRAMES.PONG && alive.set(ws, true)));
    else ws.on('pong', () => alive.set(ws, true));
    ws.on('error', () => {});
  });
  const sweep = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        terminated++;
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      if (dialect === 'text') ws.send(TEXT_FRAMES.PING);
      else ws.ping();
    }
  }, interval);
  return new Promise((resolve) => {
    wss.once('listening', () =>
      resolve({
        url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
        get size() {
          return wss.clients.size;
        },
        get terminated() {
          return terminated;
        },
        close: () =>
          new Promise((done) => {
            clearInterval(sweep);
            for (const ws of wss.clients) ws.terminate();
            wss.close(() => done());
          }),
      }),
    );
  });
}
