/**
 * Baseline for figure 3: the smallest host a person would write by hand for the same
 * protocol, text dialect only. A record per connection in a `Map`, deadlines in the same
 * `TimerQueue`; a frame is compared to the three keepalive strings, answered if it is a
 * PING from an advertised peer, and otherwise only proves the peer alive. No statechart,
 * no snapshots, no limits, no events.
 */
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import type { Frame } from '../../runtime/codec/codec.ts';
import type { Transport } from '../../runtime/host/types.ts';
import { TimerQueue } from '../../runtime/host/timer-queue.ts';

class Peer {
  advertised = false;
  lastSignOfLife: number;
  /** The last sign of life or the last PING we sent. */
  intervalStart: number;
  unanswered = 0;
  constructor(at: number) {
    this.lastSignOfLife = at;
    this.intervalStart = at;
  }
}

export class HandHost {
  readonly #peers = new Map<string, Peer>();
  readonly #queue = new TimerQueue<string>();
  readonly #transport: Transport;
  readonly #interval: number;
  readonly #count: number;

  constructor(transport: Transport, interval: number, count: number) {
    this.#transport = transport;
    this.#interval = interval;
    this.#count = count;
  }

  open(id: string, at: number): void {
    this.#peers.set(id, new Peer(at));
  }

  receive(id: string, frame: Frame, at: number): boolean {
    const peer = this.#peers.get(id);
    if (!peer) return false;
    if (frame === TEXT_FRAMES.PING) {
      if (peer.advertised) this.#transport.send(id, TEXT_FRAMES.PONG);
    } else if (frame === TEXT_FRAMES.ADVERTISE && !peer.advertised) {
      peer.advertised = true;
      this.#queue.set(id, at + this.#interval);
    }
    peer.lastSignOfLife = peer.intervalStart = at;
    peer.unanswered = 0;
    return true;
  }

  nextWake(): number | null {
    return this.#queue.peek();
  }

  tick(at: number): void {
    let id: string | undefined;
    while ((id = this.#queue.popDue(at)) !== undefined) {
      const peer = this.#peers.get(id)!;
      const due = peer.intervalStart + this.#interval;
      if (due > at) {
        this.#queue.set(id, due);
      } else if (peer.unanswered >= this.#count) {
        this.#peers.delete(id);
        this.#transport.close(id, { cause: 'dead', silentFor: at - peer.intervalStart + this.#interval * this.#count, unanswered: peer.unanswered });
      } else {
        peer.unanswered++;
        peer.intervalStart = at;
        this.#transport.send(id, TEXT_FRAMES.PING);
        this.#queue.set(id, at + this.#interval);
      }
    }
  }
}
