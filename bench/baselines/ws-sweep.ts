/**
 * Baseline for figure 2: the `ws` README's heartbeat recipe, one `setInterval` that sweeps
 * every connection:
 *
 *   wss.clients.forEach((ws) => {
 *     if (ws.isAlive === false) return ws.terminate();
 *     ws.isAlive = false;
 *     ws.ping();
 *   });
 *
 * Simulated without sockets: `ping` hands the same PING frame to the same kind of
 * transport the host uses, so only the bookkeeping differs.
 */
import type { Frame } from '../../runtime/codec/index.ts';

class SweptPeer {
  isAlive = true;
  readonly id: string;
  constructor(id: string) {
    this.id = id;
  }
}

export class HeartbeatSweep {
  readonly clients = new Set<SweptPeer>();
  readonly #send: (id: string, frame: Frame) => void;
  readonly #frame: Frame;
  terminated = 0;

  constructor(send: (id: string, frame: Frame) => void, pingFrame: Frame) {
    this.#send = send;
    this.#frame = pingFrame;
  }

  add(id: string): void {
    this.clients.add(new SweptPeer(id));
  }

  /** What the recipe's interval callback does, once. */
  sweep(): void {
    for (const ws of this.clients) {
      if (ws.isAlive === false) {
        this.terminated++;
        this.clients.delete(ws);
        continue;
      }
      ws.isAlive = false;
      this.#send(ws.id, this.#frame);
    }
  }

  /** Every peer's PONG arrived (the recipe's 'pong' handler); not part of the sweep's cost. */
  answerAll(): void {
    for (const ws of this.clients) ws.isAlive = true;
  }
}
