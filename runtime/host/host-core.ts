/**
 * The machinery under the `Host`: its settings, the connections and their timer queue,
 * and one statechart step from start to finish (run it, store its snapshot per the store's
 * policy, report it, carry out what it emitted). The PING window lives here too: where the
 * queue wakes a connection depends on it. `Host` (host.ts) is the public face over this.
 */
import {
  beforeInterval,
  pingsAfterSignOfLife,
  pingsOnNextTick,
  type KeepaliveEmitted,
  type KeepaliveEvent,
  type KeepaliveMessage,
  type KeepaliveOptions,
} from '../../actors/keepalive.ts';
import { createCodec, FrameError, FrameReader, type Codec, type CodecSpec, type Frame, type Inbound } from '../codec/index.ts';
import { DEFAULTS, endText, newConnectionId, type EndCause } from '../protocol/index.ts';
import { Connection, INBOUND_EVENT, NO_META } from './connection.ts';
import { validateKeepalive } from './options.ts';
import { recordOf, stateName, viewOf } from './views.ts';
import { HostListeners } from './listeners.ts';
import type { HostEvent, HostOptions, HostStats, InspectObserver, Transport } from './types.ts';
import { ActorStepper, SnapshotStepper, type StepperStart } from './stepper.ts';
import { MemorySnapshotStore, type ConnectionId, type SnapshotStore, type StoredConnection } from './store.ts';
import { TimerQueue } from './timer-queue.ts';

const DEFAULT_KEEPALIVE: KeepaliveOptions = { interval: DEFAULTS.interval, count: DEFAULTS.count, sendPings: DEFAULTS.sendPings };

export abstract class HostCore {
  /** Closes a connection from this side (`Host.close`): a rejected frame ends its connection so. */
  abstract close(id: ConnectionId, cause?: EndCause | string, at?: number): boolean;

  readonly stats: HostStats = { steps: 0, foldedFrames: 0, pongsOnFastPath: 0, rejected: 0 };
  protected readonly transport: Transport;
  protected readonly clock: () => number;
  protected readonly snapshots: SnapshotStore;
  /** False for the host's own in-memory store, which reads the live connections instead. */
  protected readonly savesEachStep: boolean;
  protected readonly inspect: InspectObserver | undefined;
  protected readonly eager: boolean;
  protected readonly keepaliveDefaults: KeepaliveOptions;
  protected readonly maxFrameBytes: number;
  protected readonly listeners = new HostListeners();
  protected readonly generateId: () => ConnectionId;
  protected readonly maxPings: number;
  protected readonly maxConnections: number;
  protected readonly onNextWake: ((at: number | null) => void) | undefined;
  protected readonly onMessage: ((id: ConnectionId, data: Frame, at: number, tag: unknown) => void) | undefined;
  protected readonly onPong: ((id: ConnectionId, rtt: number) => void) | undefined;
  /** PINGs may leave this early or late (`HostOptions.pingWindow`); both 0: no window. */
  protected readonly early: number;
  protected readonly late: number;
  protected reportedWake: number | null | undefined;
  /** Latest time any interval began or any sign of life came: a tick before it means the clock stepped back. */
  protected latest = -Infinity;
  protected readonly connections = new Map<ConnectionId, Connection>();
  protected readonly queue = new TimerQueue<ConnectionId>();
  protected readonly codecs = new Map<string, Codec>();
  protected readonly writes = new Set<Promise<void>>();

  protected constructor(options: HostOptions) {
    this.transport = options.transport;
    this.clock = options.now ?? Date.now;
    // Given no store, the host's own in-memory store reads its live connections when loaded:
    // no persisted snapshot is built and saved on every step (figure 9: a record per step).
    this.snapshots = options.store ?? MemorySnapshotStore.following(() => this.liveRecords());
    this.savesEachStep = this.snapshots.savesEachStep ?? true;
    this.inspect = options.inspect;
    this.eager = options.eager ?? options.inspect !== undefined;
    this.keepaliveDefaults = { ...DEFAULT_KEEPALIVE, ...options.defaults };
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULTS.maxFrameBytes;
    if (options.onEvent) this.listeners.subscribe(options.onEvent, { frames: options.onEventFrames ?? true });
    this.generateId = options.generateId ?? newConnectionId;
    this.maxPings = options.maxPingsPerInterval ?? DEFAULTS.maxPingsPerInterval;
    this.maxConnections = options.maxConnections ?? Infinity;
    this.onNextWake = options.onNextWake;
    this.onMessage = options.onMessage;
    this.onPong = options.onPong;
    const window = options.pingWindow ?? 0;
    ({ early: this.early, late: this.late } = typeof window === 'number' ? { early: window, late: window } : window);
    for (const ms of [this.early, this.late]) {
      if (!(ms >= 0 && ms < Infinity)) throw new RangeError(`pingWindow must be ms >= 0 (a number, or { early, late }), got ${JSON.stringify(window)}`);
    }
    validateKeepalive(this.keepaliveDefaults);
  }

  /** Folding this connection's pending signs of life puts its next PING an interval after the latest (and nobody steps every frame). */
  protected foldsIntoPing(conn: Connection): boolean {
    return !conn.eager && !this.listeners.watched && pingsAfterSignOfLife(conn.stepper.snapshot);
  }

  /** One side of the window as a connection gets it: at most a quarter of its interval, so a PING sent early or late is never due again in the same tick. */
  protected windowOf(conn: Connection, side: number): number {
    return Math.min(side, conn.interval / 4);
  }

  /** When the queue should wake a connection: a PING may wait out the window, a death or ADVERTISE deadline may not. */
  protected queueAt(conn: Connection): number | null {
    if (conn.hasPending && !this.savesEachStep && this.foldsIntoPing(conn)) return conn.pendingAt + conn.interval + this.windowOf(conn, this.late);
    const snapshot = conn.stepper.snapshot;
    const wakeAt = snapshot.context.wakeAt;
    if (wakeAt === null || this.late === 0 || !pingsOnNextTick(snapshot)) return wakeAt;
    return wakeAt + this.windowOf(conn, this.late);
  }

  /**
   * A PING sent now (`at`) but stamped `stamp`, its due time (or the window's edge when the
   * host woke later than that): the machine anchors the next interval where it would have
   * anyway. A stamp in the future must not count as a time the host has seen (a later tick
   * would look like a clock step back); a peer's answer that comes before the stamp is
   * stepped at once (`inbound`). Signs of life still pending ride in the same step.
   */
  protected pingAt(conn: Connection, stamp: number, at: number): void {
    const latest = this.latest;
    if (conn.hasPending) this.foldPending(conn, stamp);
    else this.step(conn, { type: 'tick', at: stamp });
    this.latest = Math.max(latest, at);
  }

  /** Starts a connection's statechart and carries out what its first step emitted. */
  protected register(
    id: ConnectionId,
    start: StepperStart,
    spec: CodecSpec,
    stream: boolean,
    eager: boolean | undefined,
    meta: Readonly<Record<string, string>> | undefined,
    at: number,
  ): void {
    const reader = stream ? new FrameReader(this.maxFrameBytes) : null;
    const conn = new Connection(id, spec, this.codecFor(spec), reader, eager ?? this.eager, meta ?? NO_META);
    this.connections.set(id, conn);
    this.settle(conn, at, () => {
      // Live actors only where someone inspects: they cost ~5x the memory of a snapshot.
      conn.begin(this.inspect ? new ActorStepper(id, start, conn.effects, this.inspect) : new SnapshotStepper(start, conn.effects));
    });
  }

  protected codecFor(spec: CodecSpec): Codec {
    const key = spec.name === 'text' ? 'text' : `libvirt:${spec.advertise}`;
    let codec = this.codecs.get(key);
    if (!codec) this.codecs.set(key, (codec = createCodec(spec, this.maxFrameBytes)));
    return codec;
  }

  protected frame(conn: Connection, frame: Frame, at: number): boolean {
    const inbound = conn.codec.decode(frame);
    if (inbound instanceof FrameError) return this.reject(conn, inbound, at);
    if (!this.inbound(conn, inbound, at)) return false;
    if (inbound === 'MESSAGE' && this.onMessage) this.onMessage(conn.id, frame, at, conn.tag);
    return true;
  }

  /** Returns whether the connection is still open (the fast path cannot end it). */
  protected inbound(conn: Connection, message: Inbound, at: number): boolean {
    if (this.listeners.wantFrames) this.emitFrame({ type: 'received', id: conn.id, at, message });
    // Our last PING left when its interval began; a PONG before any is folded answers it.
    if (message === 'PONG' && this.onPong && !conn.pongPending) {
      const context = conn.stepper.snapshot.context;
      if (context.unanswered > 0 && at >= context.intervalStart) this.onPong(conn.id, at - context.intervalStart);
    }
    if (message === 'PING' && this.maxPings > 0 && conn.floods(at, this.maxPings)) {
      const error = new FrameError('flood', `more than ${this.maxPings} PINGs within ${conn.interval} ms`);
      return this.reject(conn, error, at);
    }
    // A frame stamped before the current interval began (the clock stepped back) would move
    // the deadline earlier when folded, behind the queue's back: step it at once instead.
    if (conn.eager || this.listeners.watched || message === 'ADVERTISE' || beforeInterval(conn.stepper.snapshot.context, at)) {
      this.foldPending(conn);
      if (this.connections.has(conn.id)) this.step(conn, { type: INBOUND_EVENT[message], at });
      return this.connections.has(conn.id);
    }
    if (at > this.latest) this.latest = at;
    if (message === 'PING') {
      conn.note('pings', at);
      if (conn.answersPing) {
        this.stats.pongsOnFastPath++;
        this.sendMessage(conn, 'PONG', at);
      }
    } else conn.note(message === 'PONG' ? 'pongs' : 'messages', at);
    return true;
  }

  /**
   * Folds the recorded signs of life in as one `peer.message`; with `tick`, the tick at that
   * time rides in the same step (a PING due by then goes out stamped `tick`).
   */
  protected foldPending(conn: Connection, tick?: number): void {
    const event = conn.takePending(tick);
    if (event === null) return;
    this.stats.foldedFrames += event.folded.pings + event.folded.pongs + event.folded.messages;
    this.step(conn, event);
  }

  protected step(conn: Connection, event: KeepaliveEvent): void {
    const from = this.listeners.watched ? stateName(conn.stepper.snapshot.value) : null;
    this.settle(conn, event.at, () => conn.stepper.step(event, conn.effects), event.type, from);
  }

  /** Runs one step, stores its snapshot, then carries out what it emitted. */
  protected settle(conn: Connection, at: number, run: () => void, event: KeepaliveEvent['type'] | 'start' = 'start', from: string | null = null): void {
    this.stats.steps++;
    run();
    const snapshot = conn.stepper.snapshot;
    conn.stepped();
    if (snapshot.context.intervalStart > this.latest) this.latest = snapshot.context.intervalStart;
    if (snapshot.status === 'active') {
      this.queue.set(conn.id, this.late === 0 ? snapshot.context.wakeAt : this.queueAt(conn));
      if (this.savesEachStep) this.save(conn);
    } else {
      this.connections.delete(conn.id);
      this.queue.delete(conn.id);
      this.track(this.snapshots.delete(conn.id));
    }
    if (this.listeners.watched) {
      const connection = viewOf(conn);
      this.emit({ type: 'stepped', id: conn.id, at, event, from, state: connection.state, connection });
    }
    const effects = conn.effects.splice(0);
    for (const effect of effects) this.effect(conn, effect, at);
  }

  protected effect(conn: Connection, effect: KeepaliveEmitted, stepAt: number): void {
    switch (effect.type) {
      case 'send':
        this.sendMessage(conn, effect.message, stepAt);
        return;
      case 'dead': {
        const cause: EndCause = { cause: 'dead', silentFor: effect.silentFor, unanswered: effect.unanswered };
        this.emit({ type: 'dead', id: conn.id, at: effect.at, silentFor: effect.silentFor, unanswered: effect.unanswered, cause, reason: endText(cause), meta: conn.meta });
        this.closeTransport(conn, cause);
        return;
      }
      case 'closed':
        this.emit({ type: 'closed', id: conn.id, at: effect.at, cause: effect.cause, reason: endText(effect.cause), meta: conn.meta });
        if (!conn.peerGone) this.closeTransport(conn, effect.cause);
        return;
    }
  }

  protected sendMessage(conn: Connection, message: KeepaliveMessage, at: number): void {
    try {
      this.transport.send(conn.id, conn.codec.encode(message));
    } catch (error) {
      this.closeTransport(conn, { cause: 'send-failed', error: String(error) });
      return;
    }
    if (this.listeners.wantFrames) this.emitFrame({ type: 'sent', id: conn.id, at, message });
  }

  protected reject(conn: Connection, error: FrameError, at: number): false {
    this.stats.rejected++;
    const cause: EndCause = { cause: 'protocol', code: error.code, message: error.message };
    this.emit({ type: 'rejected', id: conn.id, at, code: error.code, reason: endText(cause) });
    conn.dropPending();
    this.close(conn.id, cause, at);
    return false;
  }

  protected closeTransport(conn: Connection, cause: EndCause): void {
    conn.markPeerGone();
    try {
      this.transport.close(conn.id, cause);
    } catch {
      // The socket is already gone; the connection is forgotten either way.
    }
  }

  /** Every live connection as its stored record, pending signs of life folded in (the own store's `load`). */
  protected *liveRecords(): Generator<StoredConnection> {
    for (const conn of [...this.connections.values()]) {
      this.foldPending(conn);
      if (this.connections.has(conn.id)) yield recordOf(conn);
    }
  }

  protected save(conn: Connection): void {
    this.track(this.snapshots.save(recordOf(conn)));
  }

  protected track(write: void | Promise<void>): void {
    if (!write) return;
    const tracked = write.finally(() => this.writes.delete(tracked));
    this.writes.add(tracked);
  }

  protected reportWake(always = false): void {
    if (!this.onNextWake) return;
    const next = this.queue.peek();
    if (!always && next === this.reportedWake) return;
    this.reportedWake = next;
    this.onNextWake(next);
  }

  protected emit(event: HostEvent): void {
    this.listeners.emit(event);
  }

  protected emitFrame(event: HostEvent): void {
    this.listeners.emitFrame(event);
  }
}
