/**
 * One side of a delivery-mode connection, the same on a server and in the client: what this
 * side sent and the peer has not acknowledged (the window), what it received, and the
 * handshake that starts every socket. It sits between the socket and the keepalive host:
 * frames in go through `receive`, which hands application messages to `deliver` once each,
 * in order, and returns the plain keepalive frame (if any) for the host to judge; frames out
 * are DATA for `send`, and the host's PINGs and PONGs pass through `keepalive`, which adds an
 * acknowledgement when one is owed.
 *
 * Acknowledgements ride on frames this side sends anyway (DATA, PING, PONG). One goes alone
 * (`keepalive:ACK`) only when a message arrived, nothing carried its acknowledgement by the
 * end of that turn, and none went alone within the last interval: at most one per interval.
 *
 * On every socket each side says first where it stands (RESUME: the epoch, what it received,
 * its floor), and neither sends DATA before hearing the other's; then each replays what the
 * other has not got, in order. The client speaks first; the server answers.
 */
import type { AppData } from '../application/index.ts';
import { decodeFrame, DeliveryError, encodeAck, encodeData, encodeKeepalive, encodeResume, type DeliveryFrame } from './wire.ts';
import { byteLength, Window, type WindowEntry, type WindowLimits } from './window.ts';

export type LinkRole = 'client' | 'server';

/** What a link keeps across a restart beside its window (a store writes it with the entries). */
export interface LinkCounters {
  /** The server's connection id this history belongs to; null: a client that knows none yet. */
  epoch: string | null;
  /** Every message of the peer up to this one was handed to the application. */
  received: number;
  /** Every message of ours up to this one was acknowledged and dropped. */
  floor: number;
  /** The next sequence number of ours. */
  next: number;
}

/** Where a link's window and counters outlive the process (runtime/delivery/store.ts). */
export interface LinkPersistence {
  /**
   * A message taken into the window. A promise: the store writes it later (Deno KV, Redis),
   * and the message is not written to the socket before it settles, so a sequence number the
   * peer saw is never given again by a process that starts from the store.
   */
  append(entry: WindowEntry, counters: LinkCounters): void | Promise<void>;
  release(upTo: number, counters: LinkCounters): void;
  /** `received` moved (written lazily: a lost one only means a repeat, never a loss). */
  received(counters: LinkCounters): void;
  /** A fresh history: the window was renumbered from 1 (a client whose server connection is new). */
  renumbered(entries: readonly WindowEntry[], counters: LinkCounters): void;
}

export interface DeliveryLinkOptions {
  role: LinkRole;
  limits: WindowLimits;
  /** ms between acknowledgements sent alone, at most one per this (the keepalive interval). */
  interval: number;
  now?: () => number;
  /** Counters and entries to start from (a restart, a takeover); default: a fresh history. */
  restored?: { counters: LinkCounters; entries: readonly WindowEntry[] };
  persistence?: LinkPersistence;
  /** An application message, once, in order. */
  deliver: (data: AppData, seq: number) => void;
  /** The peer broke the protocol: close the connection for `error`. */
  fail: (error: DeliveryError) => void;
  /** Runs `callback` after the current turn (default `queueMicrotask`). */
  later?: (callback: () => void) => void;
  /** Largest frame taken, in bytes (text as UTF-8); a larger one is a delivery error. Default: no limit. */
  maxFrameBytes?: number;
  /** The handshake on a socket is done: DATA flows on it. */
  opened?: () => void;
}

/** What `receive` tells the caller to feed the keepalive host: a plain keepalive frame, or a sign of life. */
export type KeepaliveInput = 'PING' | 'PONG' | 'ADVERTISE' | 'MESSAGE' | null;

type Phase = 'detached' | 'handshake' | 'open';

export class DeliveryLink {
  readonly role: LinkRole;
  readonly #window: Window;
  readonly #interval: number;
  readonly #now: () => number;
  readonly #persistence: LinkPersistence | undefined;
  readonly #deliver: (data: AppData, seq: number) => void;
  readonly #fail: (error: DeliveryError) => void;
  readonly #later: (callback: () => void) => void;
  readonly #maxFrameBytes: number;
  readonly #opened: (() => void) | undefined;
  #epoch: string | null;
  #received: number;
  #transmit: ((frame: AppData) => void) | null = null;
  #phase: Phase = 'detached';
  /** Highest of our sequence numbers written on the current socket. */
  #sentUpTo = 0;
  /** Highest of our sequence numbers the store holds (all of them, with a synchronous store). */
  #durableUpTo: number;
  /** The last acknowledgement we sent, and when one last went alone. */
  #ackSent = 0;
  #ackAloneAt = -Infinity;
  #ackPending = false;
  #failed = false;

  constructor(options: DeliveryLinkOptions) {
    this.role = options.role;
    this.#interval = options.interval;
    // Called through a private field, a bare platform function would get the link as `this`:
    // a browser's queueMicrotask throws "Illegal invocation" then.
    this.#now = options.now ?? (() => Date.now());
    this.#persistence = options.persistence;
    this.#deliver = options.deliver;
    this.#fail = options.fail;
    this.#later = options.later ?? ((run) => queueMicrotask(run));
    this.#maxFrameBytes = options.maxFrameBytes ?? Infinity;
    this.#opened = options.opened;
    const restored = options.restored;
    this.#epoch = restored?.counters.epoch ?? null;
    this.#received = restored?.counters.received ?? 0;
    this.#ackSent = this.#received;
    this.#window = new Window(options.limits, restored?.counters.floor ?? 0, restored?.counters.next ?? 1, restored?.entries ?? []);
    this.#durableUpTo = this.#window.next - 1;
  }

  get epoch(): string | null {
    return this.#epoch;
  }

  /** The server names the history (its connection id) before the first socket. */
  set epoch(epoch: string) {
    if (this.role !== 'server') throw new Error('only a server names the epoch');
    this.#epoch = epoch;
  }

  get counters(): LinkCounters {
    return { epoch: this.#epoch, received: this.#received, floor: this.#window.floor, next: this.#window.next };
  }

  /** Messages of ours not acknowledged yet, oldest first. */
  unacknowledged(): readonly WindowEntry[] {
    return this.#window.entries;
  }

  get window(): Window {
    return this.#window;
  }

  /** A socket carries the connection from now on: the handshake starts (a client speaks first). */
  attach(transmit: (frame: AppData) => void): void {
    this.#transmit = transmit;
    this.#phase = 'handshake';
    this.#sentUpTo = 0;
    if (this.role === 'client') transmit(encodeResume(this.#epoch, this.#received, this.#window.floor));
  }

  /**
   * The socket the handshake was done on carries the connection again, with everything in the
   * window written to it already (a Durable Object's hibernated socket, taken back by a new
   * instance: a synchronous store wrote each message before it went out).
   */
  readopt(transmit: (frame: AppData) => void): void {
    this.#transmit = transmit;
    this.#phase = 'open';
    this.#sentUpTo = this.#window.next - 1;
  }

  /** The socket is gone; what is sent meanwhile waits in the window. */
  detach(): void {
    this.#transmit = null;
    this.#phase = 'detached';
  }

  get attached(): boolean {
    return this.#transmit !== null;
  }

  /** The handshake on the current socket is done: DATA flows. */
  get open(): boolean {
    return this.#phase === 'open';
  }

  /**
   * Takes `data` into the window and writes it if the socket is open. False, holding
   * nothing new, when the window is full: the caller is told at once.
   */
  send(data: AppData): boolean {
    const entry = this.#window.push(data);
    if (!entry) return false;
    const written = this.#persistence?.append(entry, this.counters);
    if (written) {
      // Later writes settle later: once this one has, everything up to it is in the store.
      written.then(() => this.#durable(entry.seq), () => this.#durable(entry.seq));
      return true;
    }
    this.#durableUpTo = entry.seq;
    if (this.#phase === 'open') this.#write(entry);
    return true;
  }

  /** The host's PING or PONG as this link writes it: with an acknowledgement if one is owed. */
  keepalive(message: 'PING' | 'PONG'): string {
    return encodeKeepalive(message, this.#takeAck());
  }

  /** A frame from the peer. Returns what the keepalive host should hear of it. */
  receive(frame: AppData): KeepaliveInput {
    if (this.#failed) return null;
    // UTF-16 length bounds UTF-8 bytes from below and 3x from above: count only in between.
    const size = typeof frame === 'string' ? (frame.length * 3 <= this.#maxFrameBytes ? 0 : byteLength(frame)) : frame.byteLength;
    if (size > this.#maxFrameBytes) return this.#refuse(new DeliveryError('oversized', `a frame of ${size} bytes, more than ${this.#maxFrameBytes}`));
    const decoded = decodeFrame(frame);
    if (decoded instanceof DeliveryError) return this.#refuse(decoded);
    return this.#apply(decoded);
  }

  #apply(frame: DeliveryFrame): KeepaliveInput {
    switch (frame.kind) {
      case 'advertise':
        return 'ADVERTISE';
      case 'ping':
      case 'pong':
        if (frame.ack !== null && !this.#acknowledged(frame.ack)) return null;
        return frame.kind === 'ping' ? 'PING' : 'PONG';
      case 'ack':
        return this.#acknowledged(frame.ack) ? 'MESSAGE' : null;
      case 'resume':
        return this.#resume(frame.epoch, frame.received, frame.floor) ? 'MESSAGE' : null;
      case 'data':
        return this.#data(frame.seq, frame.ack, frame.data) ? 'MESSAGE' : null;
    }
  }

  #data(seq: number, ack: number, data: AppData): boolean {
    if (this.#phase !== 'open') return this.#refuse(new DeliveryError('sequence', `DATA ${seq} before the RESUME handshake`)) ?? false;
    if (seq !== this.#received + 1) {
      return this.#refuse(new DeliveryError('sequence', `DATA ${seq} where ${this.#received + 1} was next`)) ?? false;
    }
    if (!this.#acknowledged(ack)) return false;
    this.#received = seq;
    this.#persistence?.received(this.counters);
    this.#owe();
    this.#deliver(data, seq);
    return true;
  }

  #resume(epoch: string | null, received: number, floor: number): boolean {
    if (this.#phase !== 'handshake') return this.#refuse(new DeliveryError('resume', 'RESUME twice on one socket')) ?? false;
    if (this.role === 'server') {
      // Another history (an older connection of this session): the client starts this one afresh.
      if (epoch !== this.#epoch) [received, floor] = [0, 0];
    } else if (epoch === null) {
      return this.#refuse(new DeliveryError('resume', 'a server RESUME without its epoch')) ?? false;
    } else if (epoch !== this.#epoch) {
      this.#startHistory(epoch);
      if (received !== 0 || floor !== 0) return this.#refuse(new DeliveryError('resume', `a new history (epoch ${epoch}) that claims ${received}/${floor}`)) ?? false;
    }
    if (received > this.#window.next - 1) {
      return this.#refuse(new DeliveryError('resume', `RESUME claims ${received} received, but only ${this.#window.next - 1} were sent`)) ?? false;
    }
    // Acknowledged before, by the peer's own account: up to `received` it has them.
    if (received > this.#window.floor) this.#release(received);
    // The peer's floor: it dropped its messages up to there because we acknowledged them
    // once (and lost that when our process died): they reached our application then.
    if (floor > this.#received) {
      this.#received = floor;
      this.#persistence?.received(this.counters);
    }
    this.#ackSent = this.#received;
    if (this.role === 'server') this.#transmit!(encodeResume(this.#epoch, this.#received, this.#window.floor));
    this.#phase = 'open';
    // Replay, in order, what the peer does not have.
    for (const entry of this.#window.entries) this.#write(entry);
    this.#opened?.();
    return true;
  }

  /** The client's server connection is not the one its window was numbered for: number it afresh. */
  #startHistory(epoch: string): void {
    this.#epoch = epoch;
    this.#received = 0;
    this.#ackSent = 0;
    this.#window.renumber();
    this.#durableUpTo = this.#window.next - 1;
    this.#persistence?.renumbered(this.#window.entries, this.counters);
  }

  #acknowledged(ack: number): boolean {
    if (ack > this.#window.next - 1) {
      return this.#refuse(new DeliveryError('ack', `acknowledges ${ack}, but only ${this.#window.next - 1} were sent`)) ?? false;
    }
    if (ack < this.#window.floor) {
      return this.#refuse(new DeliveryError('ack', `acknowledges ${ack} after ${this.#window.floor}`)) ?? false;
    }
    if (ack > this.#window.floor) this.#release(ack);
    return true;
  }

  #release(upTo: number): void {
    this.#window.release(upTo);
    this.#persistence?.release(upTo, this.counters);
  }

  /** The store holds everything up to `seq`: what waited for it goes out, in order. */
  #durable(seq: number): void {
    if (seq <= this.#durableUpTo) return;
    this.#durableUpTo = seq;
    if (this.#phase !== 'open') return;
    for (const entry of this.#window.entries) if (entry.seq <= seq) this.#write(entry);
  }

  #write(entry: WindowEntry): void {
    if (entry.seq <= this.#sentUpTo || entry.seq > this.#durableUpTo) return;
    this.#sentUpTo = entry.seq;
    this.#transmit!(encodeData(entry.seq, this.#takeAck() ?? this.#received, entry.data));
  }

  /** The acknowledgement owed, if any, marked as sent. */
  #takeAck(): number | null {
    if (this.#received === this.#ackSent) return null;
    this.#ackSent = this.#received;
    this.#ackPending = false;
    return this.#received;
  }

  /**
   * A message arrived: its acknowledgement goes alone after this turn if nothing carried it
   * and none went alone this interval. If one did, the acknowledgement stays owed: the next
   * frame out carries it (our PING after an interval of silence, our PONG to the peer's), or
   * the next message to arrive once the interval is over sends it.
   */
  #owe(): void {
    if (this.#ackPending) return;
    this.#ackPending = true;
    this.#later(() => {
      if (!this.#ackPending) return;
      this.#ackPending = false;
      const now = this.#now();
      if (this.#phase !== 'open' || now - this.#ackAloneAt < this.#interval) return;
      const ack = this.#takeAck();
      if (ack === null) return;
      this.#ackAloneAt = now;
      this.#transmit!(encodeAck(ack));
    });
  }

  #refuse(error: DeliveryError): null {
    if (!this.#failed) {
      this.#failed = true;
      this.#fail(error);
    }
    return null;
  }
}
