/**
 * One connection as the host keeps it. The statechart's snapshot (in its stepper) holds the
 * protocol's state; what is here is the host's bookkeeping around it: the fast path's
 * signs of life not yet folded into the machine, the PING-flood count, the socket's fate.
 * The pending signs of life are private: they are recorded and taken only through the
 * methods below, so a fold is one event built in one place.
 */
import { ANSWERS_PING, type FoldedFrames, type KeepaliveEmitted, type KeepaliveEvent } from '../../actors/keepalive.ts';
import type { Codec, CodecSpec, FrameReader, Inbound } from '../codec/index.ts';
import type { Stepper } from './stepper.ts';
import type { ConnectionId } from './store.ts';

/** `pendingAt` when nothing is pending (any finite time is a valid clock reading). */
const NOTHING_PENDING = -Infinity;

// Shared by every connection that has no codec or meta of its own: an idle connection is ~1.5 KiB, each empty object ~50 bytes of it.
export const TEXT_SPEC: CodecSpec = Object.freeze({ name: 'text' });
export const NO_META: Record<string, string> = Object.freeze({});

/** The kinds of sign of life the fast path records without a step, as `FoldedFrames` counts them. */
export type SignOfLife = keyof FoldedFrames;

/** Pending signs of life folded into one step. */
export type FoldedEvent = Extract<KeepaliveEvent, { type: 'peer.message' }> & { folded: Required<FoldedFrames> };

export const INBOUND_EVENT = {
  ADVERTISE: 'peer.advertise',
  PING: 'peer.ping',
  PONG: 'peer.pong',
  MESSAGE: 'peer.message',
} as const satisfies Record<Inbound, KeepaliveEvent['type']>;

export class Connection {
  readonly id: ConnectionId;
  readonly spec: CodecSpec;
  readonly codec: Codec;
  readonly reader: FrameReader | null;
  readonly eager: boolean;
  readonly meta: Readonly<Record<string, string>>;
  /** What the machine emitted in the step under way, carried out once its snapshot is stored. */
  readonly effects: KeepaliveEmitted[] = [];
  /** Kept for whoever handles the connection's application frames (`Host.tag`), undefined until set. */
  tag: unknown = undefined;
  // Set by `begin`, in the first step, so that step is counted and reported like any other.
  #stepper: Stepper | null = null;
  #interval = 0;
  #answersPing = false;
  #peerGone = false;
  #floodWindowStart = -Infinity;
  #floodPings = 0;
  #pendingAt = NOTHING_PENDING;
  #pendingPings = 0;
  #pendingPongs = 0;
  #pendingMessages = 0;

  constructor(id: ConnectionId, spec: CodecSpec, codec: Codec, reader: FrameReader | null, eager: boolean, meta: Readonly<Record<string, string>>) {
    this.id = id;
    this.spec = spec;
    this.codec = codec;
    this.reader = reader;
    this.eager = eager;
    this.meta = meta;
  }

  /** Its statechart's first step: the stepper that runs it from now on. */
  begin(stepper: Stepper): void {
    this.#stepper = stepper;
    this.#interval = stepper.snapshot.context.interval;
  }

  get stepper(): Stepper {
    return this.#stepper!;
  }

  /** Our interval: the window the PING-flood limit counts in, and the gap from a sign of life to our next PING. */
  get interval(): number {
    return this.#interval;
  }

  /** Its state answers PINGs (the `answersPing` tag), as of the last step: the fast path answers them without one. */
  get answersPing(): boolean {
    return this.#answersPing;
  }

  /** After each step: what the fast path must know of the new state, read once instead of per frame. */
  stepped(): void {
    this.#answersPing = this.#stepper!.snapshot.hasTag(ANSWERS_PING);
  }

  /** The peer's socket is already gone: a `closed` effect needs no transport close. */
  get peerGone(): boolean {
    return this.#peerGone;
  }

  markPeerGone(): void {
    this.#peerGone = true;
  }

  /** Counts a PING in the current window of our interval (a backward clock step starts a new window): true past `max`. */
  floods(at: number, max: number): boolean {
    if (at - this.#floodWindowStart >= this.#interval || at < this.#floodWindowStart) {
      this.#floodWindowStart = at;
      this.#floodPings = 0;
    }
    return ++this.#floodPings > max;
  }

  /** Latest sign of life not yet folded into the machine, or NOTHING_PENDING. */
  get pendingAt(): number {
    return this.#pendingAt;
  }

  get hasPending(): boolean {
    return this.#pendingAt !== NOTHING_PENDING;
  }

  /** A PONG is among the pending signs of life (so a later one answers no PING of ours). */
  get pongPending(): boolean {
    return this.#pendingPongs > 0;
  }

  /** Records a sign of life at `at` without a step; it is folded before the machine's next step or any read. */
  note(kind: SignOfLife, at: number): void {
    this.#pendingAt = at;
    if (kind === 'pings') this.#pendingPings++;
    else if (kind === 'pongs') this.#pendingPongs++;
    else this.#pendingMessages++;
  }

  /**
   * Takes the pending signs of life as one `peer.message` at the latest one's time (with
   * `tick`, the host's tick at that time rides in the same step), or null when none are
   * pending.
   */
  takePending(tick?: number): FoldedEvent | null {
    const at = this.#pendingAt;
    if (at === NOTHING_PENDING) return null;
    const folded = { pings: this.#pendingPings, pongs: this.#pendingPongs, messages: this.#pendingMessages };
    this.dropPending();
    return tick === undefined ? { type: 'peer.message', at, folded } : { type: 'peer.message', at, folded, tick };
  }

  /** Forgets the pending signs of life: the connection is being closed for a bad frame. */
  dropPending(): void {
    this.#pendingAt = NOTHING_PENDING;
    this.#pendingPings = this.#pendingPongs = this.#pendingMessages = 0;
  }
}
