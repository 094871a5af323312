/**
 * What arrives on a connection: frames (whole, or split from a byte stream), messages a
 * platform decoded itself, and signs of life it saw without us.
 *
 * The fast path: a frame that only proves the peer alive is recorded on the connection in
 * O(1) without a statechart step, and a PING is answered on the spot while the machine's
 * state carries `answersPing`. Before the machine's next step, and before anyone reads it,
 * the recorded frames are folded in as one `peer.message` at the latest frame's time; the
 * machine's rule makes that indistinguishable from stepping every frame. With a watcher
 * attached (or `eager`) every frame is stepped, so a timeline sees them all.
 */
import { beforeInterval } from '../../actors/keepalive.ts';
import { FrameError, type Frame, type Inbound } from '../codec/index.ts';
import { endText, type EndCause } from '../protocol/index.ts';
import type { ClockWatch } from './clock-watch.ts';
import { INBOUND_EVENT, type Connection, type SignOfLife } from './connection.ts';
import type { Effects } from './effects.ts';
import type { HostListeners } from './listeners.ts';
import type { Schedule } from './schedule.ts';
import type { Steps } from './steps.ts';
import type { ConnectionId } from './store.ts';
import type { HostOptions, HostStats } from './types.ts';

export interface InboundParts {
  steps: Pick<Steps, 'isOpen' | 'step' | 'fold' | 'foldThenStep'>;
  effects: Pick<Effects, 'send'>;
  clock: Pick<ClockWatch, 'saw'>;
  schedule: Pick<Schedule, 'report'>;
  listeners: HostListeners;
  stats: HostStats;
  /** PINGs a peer may send per interval of ours; 0: no limit. */
  maxPings: number;
  onMessage: HostOptions['onMessage'];
  onPong: HostOptions['onPong'];
  /** Closes a connection from this side (`Host.close`): a rejected frame ends its connection so. */
  close: (id: ConnectionId, cause: EndCause, at: number) => boolean;
}

export class InboundFrames {
  readonly #steps: InboundParts['steps'];
  readonly #effects: InboundParts['effects'];
  readonly #clock: InboundParts['clock'];
  readonly #schedule: InboundParts['schedule'];
  readonly #listeners: HostListeners;
  readonly #stats: HostStats;
  readonly #maxPings: number;
  readonly #onMessage: InboundParts['onMessage'];
  readonly #onPong: InboundParts['onPong'];
  readonly #close: InboundParts['close'];

  constructor(parts: InboundParts) {
    this.#steps = parts.steps;
    this.#effects = parts.effects;
    this.#clock = parts.clock;
    this.#schedule = parts.schedule;
    this.#listeners = parts.listeners;
    this.#stats = parts.stats;
    this.#maxPings = parts.maxPings;
    this.#onMessage = parts.onMessage;
    this.#onPong = parts.onPong;
    this.#close = parts.close;
  }

  /** A whole frame, or for stream connections any chunk of the byte stream. Bad input closes this connection only and returns false. */
  receive(conn: Connection, data: Frame, at: number): boolean {
    try {
      if (!conn.reader) return this.frame(conn, data, at);
      if (typeof data === 'string') {
        return this.#reject(conn, new FrameError('wrong-frame-kind', 'text frame on a binary stream'), at);
      }
      const error = conn.reader.read(data, (frame) => this.frame(conn, frame, at));
      if (error) return this.#reject(conn, error, at);
      return this.#steps.isOpen(conn);
    } catch (error) {
      return this.#reject(conn, new FrameError('malformed', `internal error on input: ${String(error)}`), at);
    }
  }

  /** One decoded message. Returns whether the connection is still open (the fast path cannot end it). */
  deliver(conn: Connection, message: Inbound, at: number): boolean {
    if (this.#listeners.wantFrames) this.#listeners.emitFrame({ type: 'received', id: conn.id, at, message });
    // Our last PING left when its interval began; a PONG before any is folded answers it.
    if (message === 'PONG' && this.#onPong && !conn.pongPending) {
      const context = conn.stepper.snapshot.context;
      if (context.unanswered > 0 && at >= context.intervalStart) this.#onPong(conn.id, at - context.intervalStart);
    }
    if (message === 'PING' && this.#maxPings > 0 && conn.floods(at, this.#maxPings)) {
      const error = new FrameError('flood', `more than ${this.#maxPings} PINGs within ${conn.interval} ms`);
      return this.#reject(conn, error, at);
    }
    // A frame stamped before the current interval began (the clock stepped back) would move
    // the deadline earlier when folded, behind the queue's back: step it at once instead.
    if (conn.eager || this.#listeners.watched || message === 'ADVERTISE' || beforeInterval(conn.stepper.snapshot.context, at)) {
      this.#steps.foldThenStep(conn, { type: INBOUND_EVENT[message], at });
      return this.#steps.isOpen(conn);
    }
    this.#clock.saw(at);
    if (message === 'PING') {
      conn.note('pings', at);
      if (conn.answersPing) {
        this.#stats.pongsOnFastPath++;
        this.#effects.send(conn, 'PONG', at);
      }
    } else conn.note(message === 'PONG' ? 'pongs' : 'messages', at);
    return true;
  }

  /**
   * A sign of life the platform saw without us (a PING it answered, one kept across an
   * eviction). Ignored unless newer than what the machine and the pending frames know, so
   * handing over the same one twice changes nothing.
   */
  noteOutside(conn: Connection, at: number, kind: Extract<SignOfLife, 'pings' | 'messages'>): boolean {
    if (at <= conn.pendingAt) return false;
    const context = conn.stepper.snapshot.context;
    if (at <= context.lastSignOfLife) return false;
    this.#clock.saw(at);
    if (beforeInterval(context, at)) {
      // Older than our last PING: folded later it would move the deadline earlier behind
      // the queue's back (as in `deliver`), so it is stepped now.
      this.#steps.foldThenStep(conn, { type: 'peer.message', at, folded: { [kind]: 1 } });
      this.#schedule.report();
      return true;
    }
    conn.note(kind, at);
    return true;
  }

  // TypeScript's `private`, not a `#` method: V8 did not inline this one as `#frame`, and the
  // fast path alone (figure 3) went about 9% slower (old and new alternated in one process).
  private frame(conn: Connection, frame: Frame, at: number): boolean {
    const inbound = conn.codec.decode(frame);
    if (inbound instanceof FrameError) return this.#reject(conn, inbound, at);
    if (!this.deliver(conn, inbound, at)) return false;
    if (inbound === 'MESSAGE' && this.#onMessage) this.#onMessage(conn.id, frame, at, conn.tag);
    return true;
  }

  #reject(conn: Connection, error: FrameError, at: number): false {
    this.#stats.rejected++;
    const cause: EndCause = { cause: 'protocol', code: error.code, message: error.message };
    this.#listeners.emit({ type: 'rejected', id: conn.id, at, code: error.code, reason: endText(cause) });
    conn.dropPending();
    this.#close(conn.id, cause, at);
    return false;
  }
}
