/**
 * The platform-free host: many keepalive actors by connection id, one timer queue for
 * all of them, frames in, effects out through a `Transport`, snapshots through a
 * `SnapshotStore`. Adapters own sockets and the one platform timer; the host owns
 * everything else.
 *
 * The fast path: a frame that only proves the peer alive is recorded in O(1) without a
 * statechart step, and a PING is answered on the spot while the actor is in a state
 * tagged `answersPing`. Before the actor's next step, and before anyone reads it, the
 * recorded frames are folded in as one `peer.message` at the latest frame's time; the
 * machine's rule makes that indistinguishable from stepping every frame. With an
 * inspector attached (or `eager`) every frame is stepped, so the inspector sees them all.
 */
import type { InspectionEvent, Observer } from 'xstate';
import {
  ANSWERS_PING,
  type KeepaliveContext,
  type KeepaliveEmitted,
  type KeepaliveEvent,
  type KeepaliveInput,
  type KeepaliveMessage,
  type KeepaliveOptions,
  type Role,
} from '../actors/keepalive.ts';
import { createCodec, FrameError, FrameReader, type Codec, type CodecSpec, type Frame, type Inbound } from './codec/index.ts';
import { newConnectionId } from './connection-id.ts';
import { MemorySnapshotStore, type ConnectionId, type SnapshotStore, type StoredConnection } from './store.ts';
import { withRestartGrace } from './restart-grace.ts';
import { ActorStepper, SnapshotStepper, type Stepper, type StepperStart } from './stepper.ts';
import { TimerQueue } from './timer-queue.ts';
import { DEFAULTS } from './settings.ts';

/** Carries frames out of the host. Adapters map ids to their sockets. */
export interface Transport {
  send(id: ConnectionId, frame: Frame): void;
  /** Close the socket with a reason a person can read; the host has already let go of `id`. */
  close(id: ConnectionId, reason: string): void;
}

export type HostEvent =
  | { type: 'opened'; id: ConnectionId; at: number; role: Role; meta: Readonly<Record<string, string>> }
  | { type: 'received'; id: ConnectionId; at: number; message: Inbound }
  | { type: 'sent'; id: ConnectionId; at: number; message: KeepaliveMessage }
  | { type: 'dead'; id: ConnectionId; at: number; silentFor: number; unanswered: number; reason: string; meta: Readonly<Record<string, string>> }
  | { type: 'closed'; id: ConnectionId; at: number; reason: string; meta: Readonly<Record<string, string>> }
  | { type: 'rejected'; id: ConnectionId; at: number; code: FrameError['code']; reason: string }
  /**
   * After every statechart step, only while a `watch` listener is attached: the event the
   * machine took (`start` for its first step), the state before and after, and the
   * connection as it now is. The inspector's chart highlight and timeline follow these.
   */
  | { type: 'stepped'; id: ConnectionId; at: number; event: KeepaliveEvent['type'] | 'start'; from: string | null; state: string; connection: ConnectionView };

export type InspectObserver = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

export interface HostOptions {
  transport: Transport;
  /** The clock, in ms. Default `Date.now`; tests pass a fake one. */
  now?: () => number;
  store?: SnapshotStore;
  /** XState's inspection observer, e.g. `createWebSocketInspector().inspect`. Implies `eager`. */
  inspect?: InspectObserver;
  /** Step the statechart for every frame instead of folding signs of life. */
  eager?: boolean;
  /** Defaults for every connection opened on this host (libvirtd: 5000 ms, 5, pings on). */
  defaults?: Partial<KeepaliveOptions>;
  /** Largest frame accepted, in bytes (text frames and whole libvirt frames). */
  maxFrameBytes?: number;
  onEvent?: (event: HostEvent) => void;
  /**
   * false: `onEvent` gets no per-frame events (`received`, `sent`), only what happens to
   * connections. Default true. A log that prints lifecycle lines should say false: each
   * per-frame event is an object made for every frame in and out.
   */
  onEventFrames?: boolean;
  /**
   * Every application frame (one that is not keepalive), with its data, after it was
   * recorded as a sign of life. Keepalive frames never come here, and the fast path stays:
   * a message still costs no statechart step. `tag` is what `Host.tag` keeps with the
   * connection (the application layer's handle), so no lookup by id is needed per frame.
   */
  onMessage?: (id: ConnectionId, data: Frame, at: number, tag: unknown) => void;
  generateId?: () => ConnectionId;
  /**
   * PINGs a peer may send within one of our intervals before it is closed as a flood.
   * A well-behaved peer sends about one per its own interval. Default 100; 0 = no limit.
   */
  maxPingsPerInterval?: number;
  /** Open connections allowed at once; `open` throws a `CapacityError` past it. */
  maxConnections?: number;
  /**
   * Where to arm the one platform timer: called with `nextWake()` after every `tick`, and
   * after any other call that moved the earliest deadline. Folding signs of life only
   * moves deadlines later, so a timer armed earlier just fires early and is re-armed.
   */
  onNextWake?: (at: number | null) => void;
  /**
   * ms around a PING's due time within which it may leave, for fewer wakes: a number for
   * as much either side, or `{ early, late }`. A tick also sends the PINGs due within
   * `early` ahead, and a timer may wake up to `late` after a PING's due time: `nextWake()`
   * reports a connection whose next tick would PING at its deadline plus `late`, and one
   * whose next tick is a death or an ADVERTISE deadline at the deadline itself. Either way
   * the PING is stamped at its due time, so the machine anchors the next interval, and
   * every death, exactly where it would without the window: a death is never early and
   * never later. A peer just gets our PING a little early or late, and answers it. Each
   * side is capped at a quarter of a connection's interval. Default 0: every PING at its
   * deadline.
   *
   * `late` saves wakes where peers PING us (a Durable Object's alarm: their PINGs push
   * ours later before it fires); `early` gathers our PINGs into bursts, where each wake
   * and each write to an idle peer costs (a Node server: figure 9).
   */
  pingWindow?: number | PingWindow;
}

/** See `HostOptions.pingWindow`. */
export interface PingWindow {
  /** ms a PING may leave before its due time. */
  early: number;
  /** ms a PING may leave after its due time. */
  late: number;
}

/** Thrown by `Host.open` when the host holds `maxConnections` already. */
export class CapacityError extends Error {
  override readonly name = 'CapacityError';
}

export interface OpenOptions extends Partial<KeepaliveOptions> {
  role: Role;
  id?: ConnectionId;
  codec?: CodecSpec;
  /** Frames arrive as a byte stream to be split by length word (TCP, UNIX sockets). */
  stream?: boolean;
  advertise?: boolean;
  awaitAdvertise?: boolean;
  /** Step every frame of this connection (debugging one peer). */
  eager?: boolean;
  meta?: Readonly<Record<string, string>>;
  at?: number;
}

/** A connection as `/actors` and the inspector show it. */
export interface ConnectionView
  extends Pick<
    KeepaliveContext,
    | 'role'
    | 'interval'
    | 'count'
    | 'sendPings'
    | 'lastSignOfLife'
    | 'unanswered'
    | 'wakeAt'
    | 'advertised'
    | 'pingsSent'
    | 'pongsSent'
    | 'pingsReceived'
    | 'pongsReceived'
    | 'messagesReceived'
  > {
  id: ConnectionId;
  state: string;
  codec: CodecSpec['name'];
  meta: Readonly<Record<string, string>>;
}

/** Counters a test or a benchmark can assert on. */
export interface HostStats {
  steps: number;
  foldedFrames: number;
  pongsOnFastPath: number;
  rejected: number;
}

const DEFAULT_KEEPALIVE: KeepaliveOptions = { interval: DEFAULTS.interval, count: DEFAULTS.count, sendPings: DEFAULTS.sendPings };
const NOTHING_PENDING = -Infinity;

// Shared by every connection that has no codec or meta of its own: an idle connection is ~1.5 KiB, each empty object ~50 bytes of it.
const TEXT_SPEC: CodecSpec = Object.freeze({ name: 'text' });
const NO_META: Record<string, string> = Object.freeze({});

interface Connection {
  readonly id: ConnectionId;
  readonly spec: CodecSpec;
  readonly codec: Codec;
  readonly reader: FrameReader | null;
  stepper: Stepper;
  readonly eager: boolean;
  readonly meta: Readonly<Record<string, string>>;
  readonly effects: KeepaliveEmitted[];
  /** Our interval: the window the PING-flood limit counts in. */
  interval: number;
  answersPing: boolean;
  floodWindowStart: number;
  floodPings: number;
  /** The peer's socket is already gone: a `closed` effect needs no transport close. */
  peerGone: boolean;
  /** Kept for whoever handles the connection's application frames (`Host.tag`), undefined until set. */
  tag: unknown;
  /** Latest unfolded sign of life, or NOTHING_PENDING (any finite time is a valid clock reading). */
  pendingAt: number;
  pendingPings: number;
  pendingPongs: number;
  pendingMessages: number;
}

const INBOUND_EVENT = {
  ADVERTISE: 'peer.advertise',
  PING: 'peer.ping',
  PONG: 'peer.pong',
  MESSAGE: 'peer.message',
} as const satisfies Record<Inbound, KeepaliveEvent['type']>;

export class Host {
  readonly stats: HostStats = { steps: 0, foldedFrames: 0, pongsOnFastPath: 0, rejected: 0 };
  readonly #transport: Transport;
  readonly #now: () => number;
  readonly #store: SnapshotStore;
  /** False for the host's own in-memory store, which reads the live connections instead. */
  readonly #savesEachStep: boolean;
  readonly #inspect: InspectObserver | undefined;
  readonly #eager: boolean;
  readonly #defaults: KeepaliveOptions;
  readonly #maxFrameBytes: number;
  readonly #listeners = new Set<(event: HostEvent) => void>();
  /** The listeners that want per-frame events (`received`, `sent`); nobody in it, none are made. */
  readonly #frameListeners = new Set<(event: HostEvent) => void>();
  /** `watch` listeners attached: while any is, every frame is stepped and steps are reported. */
  #watchers = 0;
  readonly #generateId: () => ConnectionId;
  readonly #maxPings: number;
  readonly #maxConnections: number;
  readonly #onNextWake: ((at: number | null) => void) | undefined;
  readonly #onMessage: ((id: ConnectionId, data: Frame, at: number, tag: unknown) => void) | undefined;
  /** PINGs may leave this early or late (`HostOptions.pingWindow`); both 0: no window. */
  readonly #early: number;
  readonly #late: number;
  #reportedWake: number | null | undefined;
  /** Latest time any interval began or any sign of life came: a tick before it means the clock stepped back. */
  #latest = -Infinity;
  readonly #connections = new Map<ConnectionId, Connection>();
  readonly #queue = new TimerQueue<ConnectionId>();
  readonly #codecs = new Map<string, Codec>();
  readonly #writes = new Set<Promise<void>>();

  constructor(options: HostOptions) {
    this.#transport = options.transport;
    this.#now = options.now ?? Date.now;
    // Given no store, the host's own in-memory store reads its live connections when loaded:
    // no persisted snapshot is built and saved on every step (figure 9: a record per step).
    this.#store = options.store ?? MemorySnapshotStore.following(() => this.#liveRecords());
    this.#savesEachStep = this.#store.savesEachStep ?? true;
    this.#inspect = options.inspect;
    this.#eager = options.eager ?? options.inspect !== undefined;
    this.#defaults = { ...DEFAULT_KEEPALIVE, ...options.defaults };
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULTS.maxFrameBytes;
    if (options.onEvent) this.subscribe(options.onEvent, { frames: options.onEventFrames ?? true });
    this.#generateId = options.generateId ?? newConnectionId;
    this.#maxPings = options.maxPingsPerInterval ?? DEFAULTS.maxPingsPerInterval;
    this.#maxConnections = options.maxConnections ?? Infinity;
    this.#onNextWake = options.onNextWake;
    this.#onMessage = options.onMessage;
    const window = options.pingWindow ?? 0;
    ({ early: this.#early, late: this.#late } = typeof window === 'number' ? { early: window, late: window } : window);
    for (const ms of [this.#early, this.#late]) {
      if (!(ms >= 0 && ms < Infinity)) throw new RangeError(`pingWindow must be ms >= 0 (a number, or { early, late }), got ${JSON.stringify(window)}`);
    }
    validateKeepalive(this.#defaults);
  }

  get size(): number {
    return this.#connections.size;
  }

  /** Where this host writes snapshots: hand it to a new host to resume its connections. */
  get store(): SnapshotStore {
    return this.#store;
  }

  /** The keepalive settings a connection gets unless `open` says otherwise. */
  get defaults(): Readonly<KeepaliveOptions> {
    return this.#defaults;
  }

  /** True when `open` would refuse: adapters answer new peers 503 before upgrading. */
  get atCapacity(): boolean {
    return this.#connections.size >= this.#maxConnections;
  }

  has(id: ConnectionId): boolean {
    return this.#connections.has(id);
  }

  ids(): IterableIterator<ConnectionId> {
    return this.#connections.keys();
  }

  /** A connection's dialect (`text` or `libvirt`), without folding anything. */
  codec(id: ConnectionId): CodecSpec['name'] | undefined {
    return this.#connections.get(id)?.spec.name;
  }

  /**
   * Keeps `value` with a live connection and hands it back with each of its application
   * frames (`onMessage`'s `tag`). Gone with the connection. Returns false if there is none.
   */
  tag(id: ConnectionId, value: unknown): boolean {
    const conn = this.#connections.get(id);
    if (!conn) return false;
    conn.tag = value;
    return true;
  }

  /** The `meta` a connection was opened with (stored with its snapshot), without folding anything. */
  meta(id: ConnectionId): Readonly<Record<string, string>> | undefined {
    return this.#connections.get(id)?.meta;
  }

  /**
   * Listens to what happens on every connection (the inspector's live stream, logs).
   * Per-frame events (`received`, `sent`) cost only while someone listens to them: pass
   * `{ frames: false }` for what happens to connections only (opened, dead, closed,
   * rejected). Returns the unsubscribe function.
   */
  subscribe(listener: (event: HostEvent) => void, options: { frames?: boolean } = {}): () => void {
    this.#listeners.add(listener);
    if (options.frames ?? true) this.#frameListeners.add(listener);
    return () => {
      this.#frameListeners.delete(listener);
      return this.#listeners.delete(listener);
    };
  }

  /**
   * Like `subscribe`, for a watcher that follows every step (the inspector page): while
   * any watcher is attached the host is eager (every frame is stepped, so a timeline sees
   * each PING and PONG) and reports each step as a `stepped` event. Nobody watching, the
   * fast path pays one counter check. Returns the function that stops watching.
   */
  watch(listener: (event: HostEvent) => void): () => void {
    const unsubscribe = this.subscribe(listener);
    this.#watchers++;
    let watching = true;
    return () => {
      if (!watching) return;
      watching = false;
      this.#watchers--;
      unsubscribe();
    };
  }

  /** Earliest time any connection needs a tick, or null: arm the one platform timer here. */
  nextWake(): number | null {
    return this.#queue.peek();
  }

  /** Opens a connection actor; a client sends its ADVERTISE before this returns. */
  open(options: OpenOptions): ConnectionId {
    const keepalive: KeepaliveOptions = {
      interval: options.interval ?? this.#defaults.interval,
      count: options.count ?? this.#defaults.count,
      sendPings: options.sendPings ?? this.#defaults.sendPings,
      // An explicit null turns a default deadline off for this connection.
      advertiseTimeout: options.advertiseTimeout !== undefined ? options.advertiseTimeout : (this.#defaults.advertiseTimeout ?? null),
    };
    validateKeepalive(keepalive);
    if (this.atCapacity) throw new CapacityError(`connection limit of ${this.#maxConnections} reached`);
    const id = options.id ?? this.#generateId();
    if (this.#connections.has(id)) throw new Error(`connection ${id} is already open`);
    const input: KeepaliveInput = {
      role: options.role,
      at: options.at ?? this.#now(),
      ...keepalive,
      ...(options.advertise === undefined ? {} : { advertise: options.advertise }),
      ...(options.awaitAdvertise === undefined ? {} : { awaitAdvertise: options.awaitAdvertise }),
    };
    this.#emit({ type: 'opened', id, at: input.at, role: options.role, meta: options.meta ?? NO_META });
    this.#register(id, { input }, options.codec ?? TEXT_SPEC, options.stream ?? false, options.eager, options.meta, input.at);
    this.#reportWake();
    return id;
  }

  /**
   * Resumes connections from stored snapshots (after a restart or an eviction) and runs
   * any deadline that passed meanwhile. Returns the ids resumed.
   */
  restore(records: Iterable<StoredConnection>, at = this.#now()): ConnectionId[] {
    const resumed = this.resume(records, at);
    this.tick(at);
    return resumed;
  }

  /**
   * `restore` without the tick: the connections are back but nothing is stepped yet, so
   * an adapter can first hand over signs of life the platform kept while the host was
   * gone (`noteAnsweredPing`, `noteSignOfLife`), then `tick`, which reports the next wake.
   */
  resume(records: Iterable<StoredConnection>, at = this.#now()): ConnectionId[] {
    const resumed: ConnectionId[] = [];
    for (const record of records) {
      if (this.#connections.has(record.id)) continue;
      this.#register(record.id, { snapshot: record.snapshot }, record.codec, record.stream, undefined, record.meta, at);
      if (this.#connections.has(record.id)) resumed.push(record.id);
    }
    return resumed;
  }

  /**
   * After a restart: resumes every connection in the store, with the restart grace (no
   * verdict within one interval, `withRestartGrace`), because the process that stopped may
   * have lost the PONG to its last PING.
   */
  async restoreFromStore(at = this.#now()): Promise<ConnectionId[]> {
    return this.restore(withRestartGrace(await this.#store.load(), at), at);
  }

  /**
   * Feeds what arrived on a connection: a whole frame, or for stream connections any
   * chunk of the byte stream. Bad input closes this connection only and returns false.
   */
  receive(id: ConnectionId, data: Frame, at = this.#now()): boolean {
    const conn = this.#connections.get(id);
    if (!conn) return false;
    try {
      return this.#receive(conn, data, at);
    } finally {
      this.#reportWake();
    }
  }

  #receive(conn: Connection, data: Frame, at: number): boolean {
    const id = conn.id;
    try {
      if (!conn.reader) return this.#frame(conn, data, at);
      if (typeof data === 'string') {
        return this.#reject(conn, new FrameError('wrong-frame-kind', 'text frame on a binary stream'), at);
      }
      const error = conn.reader.read(data, (frame) => this.#frame(conn, frame, at));
      if (error) return this.#reject(conn, error, at);
      return this.#connections.has(id);
    } catch (error) {
      return this.#reject(conn, new FrameError('malformed', `internal error on input: ${String(error)}`), at);
    }
  }

  /** An already-decoded message (e.g. from a platform that parsed the frame itself). */
  deliver(id: ConnectionId, message: Inbound, at = this.#now()): boolean {
    const conn = this.#connections.get(id);
    if (!conn) return false;
    this.#inbound(conn, message, at);
    this.#reportWake();
    return true;
  }

  /**
   * A sign of life the platform saw without us, e.g. a PING that Cloudflare answered
   * while the object slept (`getWebSocketAutoResponseTimestamp`). Already answered, so
   * it is folded as a PING this host must not answer again.
   */
  noteAnsweredPing(id: ConnectionId, at: number): boolean {
    return this.#noteOutside(id, at, 'pings');
  }

  /**
   * A sign of life recorded outside the host, e.g. kept in a hibernated socket's
   * attachment across an eviction. Ignored unless newer than what the actor knows, so
   * handing over the same one twice changes nothing.
   */
  noteSignOfLife(id: ConnectionId, at: number): boolean {
    return this.#noteOutside(id, at, 'messages');
  }

  #noteOutside(id: ConnectionId, at: number, kind: 'pings' | 'messages'): boolean {
    const conn = this.#connections.get(id);
    if (!conn || at <= conn.pendingAt) return false;
    const { lastSignOfLife, intervalStart } = conn.stepper.snapshot.context;
    if (at <= lastSignOfLife) return false;
    if (at > this.#latest) this.#latest = at;
    if (at < intervalStart) {
      // Older than our last PING: folded later it would move the deadline earlier behind
      // the queue's back (as in #inbound), so it is stepped now.
      this.#fold(conn);
      if (this.#connections.has(id)) this.#step(conn, { type: 'peer.message', at, folded: { [kind]: 1 } });
      this.#reportWake();
      return true;
    }
    conn.pendingAt = at;
    if (kind === 'pings') conn.pendingPings++;
    else conn.pendingMessages++;
    return true;
  }

  /**
   * Runs every connection whose deadline is at or before `at`; touches nothing else.
   * Pass the current time: a tick earlier than a time the host has already seen is taken
   * for a backward clock step (NTP), and every connection whose interval began after it is
   * re-anchored at `at` (the statechart's rule), so no deadline is left a whole step ahead.
   */
  tick(at = this.#now()): void {
    try {
      if (at < this.#latest) this.#clockStepBack(at);
      let id: ConnectionId | undefined;
      const windowed = this.#early > 0 || this.#late > 0;
      // A PING due within `early` ahead is queued at most `early + late` ahead (its deadline plus `late`).
      const horizon = at + this.#early + this.#late;
      // Popped to look, but nothing to do yet: back in the queue after the loop, not popped twice.
      let later: Connection[] | undefined;
      while ((id = this.#queue.popDue(horizon)) !== undefined) {
        const conn = this.#connections.get(id);
        if (!conn) continue;
        if (conn.pendingAt !== NOTHING_PENDING && this.#foldsIntoPing(conn)) {
          // Where the fold leaves the next PING is known (an interval after the latest sign
          // of life): fold and PING in one step when that is due, else wait for it unstepped,
          // unless snapshots are written per step: a stored one stays within an interval.
          const due = conn.pendingAt + conn.interval;
          if (due <= at + this.#windowOf(conn, this.#early)) {
            this.#pingAt(conn, Math.max(due, at - this.#windowOf(conn, this.#late)), at);
            continue;
          }
          if (!this.#savesEachStep) {
            if (!windowed) this.#queue.set(id, due);
            else (later ??= []).push(conn);
            continue;
          }
        }
        this.#fold(conn);
        if (!this.#connections.has(id)) continue;
        const wakeAt = conn.stepper.snapshot.context.wakeAt;
        if (!windowed) {
          if (wakeAt !== null && wakeAt <= at) this.#step(conn, { type: 'tick', at });
          else this.#queue.set(id, wakeAt);
          continue;
        }
        if (wakeAt === null) this.#queue.set(id, null);
        else if (wakeAt <= at + this.#windowOf(conn, this.#early) && pingsNext(conn.stepper.snapshot)) {
          this.#pingAt(conn, Math.max(wakeAt, at - this.#windowOf(conn, this.#late)), at);
        } else if (wakeAt <= at) this.#step(conn, { type: 'tick', at });
        else (later ??= []).push(conn);
      }
      if (later) for (const conn of later) this.#queue.set(conn.id, this.#queueAt(conn));
    } finally {
      // Always, even if a callback threw: the platform timer that called us has fired.
      this.#reportWake(true);
    }
  }

  /** Folding this connection's pending signs of life puts its next PING an interval after the latest (and nobody steps every frame). */
  #foldsIntoPing(conn: Connection): boolean {
    return !conn.eager && this.#watchers === 0 && pingsAfterFold(conn.stepper.snapshot);
  }

  /** One side of the window as a connection gets it: at most a quarter of its interval, so a PING sent early or late is never due again in the same tick. */
  #windowOf(conn: Connection, side: number): number {
    return Math.min(side, conn.interval / 4);
  }

  /** When the queue should wake a connection: a PING may wait out the window, a death or ADVERTISE deadline may not. */
  #queueAt(conn: Connection): number | null {
    if (conn.pendingAt !== NOTHING_PENDING && !this.#savesEachStep && this.#foldsIntoPing(conn)) return conn.pendingAt + conn.interval + this.#windowOf(conn, this.#late);
    const snapshot = conn.stepper.snapshot;
    const wakeAt = snapshot.context.wakeAt;
    if (wakeAt === null || this.#late === 0 || !pingsNext(snapshot)) return wakeAt;
    return wakeAt + this.#windowOf(conn, this.#late);
  }

  /**
   * A PING sent now (`at`) but stamped `stamp`, its due time (or the window's edge when the
   * host woke later than that): the machine anchors the next interval where it would have
   * anyway. A stamp in the future must not count as a time the host has seen (a later tick
   * would look like a clock step back); a peer's answer that comes before the stamp is
   * stepped at once (`#inbound`). Signs of life still pending ride in the same step.
   */
  #pingAt(conn: Connection, stamp: number, at: number): void {
    const latest = this.#latest;
    if (conn.pendingAt !== NOTHING_PENDING) this.#fold(conn, stamp);
    else this.#step(conn, { type: 'tick', at: stamp });
    this.#latest = Math.max(latest, at);
  }

  /**
   * Deadlines set on the old clock lie up to the step too far ahead; the queue would sleep
   * through them. O(connections), but only when the clock goes back.
   */
  #clockStepBack(at: number): void {
    this.#latest = at;
    for (const conn of [...this.#connections.values()]) {
      this.#fold(conn);
      if (!this.#connections.has(conn.id)) continue;
      const { wakeAt, intervalStart } = conn.stepper.snapshot.context;
      if (wakeAt !== null && at < intervalStart) this.#step(conn, { type: 'tick', at });
    }
  }

  /** Closes a connection from this side, with a reason sent to the transport. */
  close(id: ConnectionId, reason = 'closed locally', at = this.#now()): boolean {
    const conn = this.#connections.get(id);
    if (!conn) return false;
    this.#fold(conn);
    if (this.#connections.has(id)) this.#step(conn, { type: 'close', at, reason });
    this.#reportWake();
    return true;
  }

  /** The peer's socket closed; the actor ends and its snapshot is dropped. */
  peerClosed(id: ConnectionId, reason?: string, at = this.#now()): boolean {
    const conn = this.#connections.get(id);
    if (!conn) return false;
    conn.peerGone = true;
    this.#fold(conn);
    if (this.#connections.has(id)) this.#step(conn, reason ? { type: 'peer.closed', at, reason } : { type: 'peer.closed', at });
    this.#reportWake();
    return true;
  }

  /** Closes every connection (graceful shutdown) and waits for the store. */
  async closeAll(reason = 'server shutting down', at = this.#now()): Promise<void> {
    for (const id of [...this.#connections.keys()]) this.close(id, reason, at);
    await this.flush();
  }

  /** Folds pending signs of life and writes every live snapshot, then waits for the store. */
  async persistAll(): Promise<void> {
    for (const conn of this.#connections.values()) {
      this.#fold(conn);
      if (this.#connections.has(conn.id)) this.#save(conn);
    }
    await this.flush();
  }

  /** Waits for every snapshot write still in flight. */
  async flush(): Promise<void> {
    while (this.#writes.size > 0) await Promise.all([...this.#writes]);
  }

  /**
   * Folds a connection's pending signs of life now and reports the next wake if that moved
   * it. Lazily, a fold only moves deadlines later, so a timer armed before it fires early;
   * an adapter that is awake anyway (a peer just answered our PING) can fold here and move
   * its timer later instead of paying that early wake. Returns false if the connection ended.
   */
  fold(id: ConnectionId): boolean {
    const conn = this.#connections.get(id);
    if (!conn) return false;
    this.#fold(conn);
    this.#reportWake();
    return this.#connections.has(id);
  }

  view(id: ConnectionId): ConnectionView | undefined {
    const conn = this.#connections.get(id);
    if (!conn) return undefined;
    this.#fold(conn);
    return this.#connections.has(id) ? viewOf(conn) : undefined;
  }

  list(): ConnectionView[] {
    const views: ConnectionView[] = [];
    for (const id of [...this.#connections.keys()]) {
      const view = this.view(id);
      if (view) views.push(view);
    }
    return views;
  }

  /** The stored form of one connection, pending signs of life folded in. */
  snapshot(id: ConnectionId): StoredConnection | undefined {
    const conn = this.#connections.get(id);
    if (!conn) return undefined;
    this.#fold(conn);
    return this.#connections.has(id) ? recordOf(conn) : undefined;
  }

  /** Starts a connection's statechart and carries out what its first step emitted. */
  #register(
    id: ConnectionId,
    start: StepperStart,
    spec: CodecSpec,
    stream: boolean,
    eager: boolean | undefined,
    meta: Readonly<Record<string, string>> | undefined,
    at: number,
  ): void {
    const effects: KeepaliveEmitted[] = [];
    const stepEager = eager ?? this.#eager;
    const conn: Connection = {
      id,
      spec,
      codec: this.#codec(spec),
      reader: stream ? new FrameReader(this.#maxFrameBytes) : null,
      // Live actors only where someone watches: they cost ~5x the memory of a snapshot.
      stepper: null as unknown as Stepper,
      eager: stepEager,
      meta: meta ?? NO_META,
      effects,
      interval: 0,
      answersPing: false,
      floodWindowStart: -Infinity,
      floodPings: 0,
      peerGone: false,
      tag: undefined,
      pendingAt: NOTHING_PENDING,
      pendingPings: 0,
      pendingPongs: 0,
      pendingMessages: 0,
    };
    this.#connections.set(id, conn);
    this.#settle(conn, at, () => {
      conn.stepper = this.#inspect ? new ActorStepper(id, start, effects, this.#inspect) : new SnapshotStepper(start, effects);
      conn.interval = conn.stepper.snapshot.context.interval;
    });
  }

  #codec(spec: CodecSpec): Codec {
    const key = spec.name === 'text' ? 'text' : `libvirt:${spec.advertise}`;
    let codec = this.#codecs.get(key);
    if (!codec) this.#codecs.set(key, (codec = createCodec(spec, this.#maxFrameBytes)));
    return codec;
  }

  #frame(conn: Connection, frame: Frame, at: number): boolean {
    const inbound = conn.codec.decode(frame);
    if (inbound instanceof FrameError) return this.#reject(conn, inbound, at);
    if (!this.#inbound(conn, inbound, at)) return false;
    if (inbound === 'MESSAGE' && this.#onMessage) this.#onMessage(conn.id, frame, at, conn.tag);
    return true;
  }

  /** Returns whether the connection is still open (the fast path cannot end it). */
  #inbound(conn: Connection, message: Inbound, at: number): boolean {
    if (this.#frameListeners.size > 0) this.#emitFrame({ type: 'received', id: conn.id, at, message });
    if (message === 'PING' && this.#maxPings > 0 && this.#flooding(conn, at)) {
      const error = new FrameError('flood', `more than ${this.#maxPings} PINGs within ${conn.interval} ms`);
      return this.#reject(conn, error, at);
    }
    // A frame stamped before the current interval began (the clock stepped back) would move
    // the deadline earlier when folded, behind the queue's back: step it at once instead.
    if (conn.eager || this.#watchers > 0 || message === 'ADVERTISE' || at < conn.stepper.snapshot.context.intervalStart) {
      this.#fold(conn);
      if (this.#connections.has(conn.id)) this.#step(conn, { type: INBOUND_EVENT[message], at });
      return this.#connections.has(conn.id);
    }
    conn.pendingAt = at;
    if (at > this.#latest) this.#latest = at;
    if (message === 'PING') {
      conn.pendingPings++;
      if (conn.answersPing) {
        this.stats.pongsOnFastPath++;
        this.#send(conn, 'PONG', at);
      }
    } else if (message === 'PONG') conn.pendingPongs++;
    else conn.pendingMessages++;
    return true;
  }

  /** Counts PINGs per window of our interval; a backward clock step starts a new window. */
  #flooding(conn: Connection, at: number): boolean {
    if (at - conn.floodWindowStart >= conn.interval || at < conn.floodWindowStart) {
      conn.floodWindowStart = at;
      conn.floodPings = 0;
    }
    return ++conn.floodPings > this.#maxPings;
  }

  /**
   * Folds the recorded signs of life in as one `peer.message`; with `tick`, the tick at that
   * time rides in the same step (a PING due by then goes out stamped `tick`).
   */
  #fold(conn: Connection, tick?: number): void {
    if (conn.pendingAt === NOTHING_PENDING) return;
    const folded = { pings: conn.pendingPings, pongs: conn.pendingPongs, messages: conn.pendingMessages };
    const event: KeepaliveEvent =
      tick === undefined ? { type: 'peer.message', at: conn.pendingAt, folded } : { type: 'peer.message', at: conn.pendingAt, folded, tick };
    this.stats.foldedFrames += conn.pendingPings + conn.pendingPongs + conn.pendingMessages;
    conn.pendingAt = NOTHING_PENDING;
    conn.pendingPings = conn.pendingPongs = conn.pendingMessages = 0;
    this.#step(conn, event);
  }

  #step(conn: Connection, event: KeepaliveEvent): void {
    const from = this.#watchers > 0 ? stateName(conn.stepper.snapshot.value) : null;
    this.#settle(conn, event.at, () => conn.stepper.step(event, conn.effects), event.type, from);
  }

  /** Runs one step, stores its snapshot, then carries out what it emitted. */
  #settle(conn: Connection, at: number, run: () => void, event: KeepaliveEvent['type'] | 'start' = 'start', from: string | null = null): void {
    this.stats.steps++;
    run();
    const snapshot = conn.stepper.snapshot;
    conn.answersPing = snapshot.hasTag(ANSWERS_PING);
    if (snapshot.context.intervalStart > this.#latest) this.#latest = snapshot.context.intervalStart;
    if (snapshot.status === 'active') {
      this.#queue.set(conn.id, this.#late === 0 ? snapshot.context.wakeAt : this.#queueAt(conn));
      if (this.#savesEachStep) this.#save(conn);
    } else {
      this.#connections.delete(conn.id);
      this.#queue.delete(conn.id);
      this.#track(this.#store.delete(conn.id));
    }
    if (this.#watchers > 0) {
      const connection = viewOf(conn);
      this.#emit({ type: 'stepped', id: conn.id, at, event, from, state: connection.state, connection });
    }
    const effects = conn.effects.splice(0);
    for (const effect of effects) this.#effect(conn, effect, at);
  }

  #effect(conn: Connection, effect: KeepaliveEmitted, stepAt: number): void {
    switch (effect.type) {
      case 'send':
        this.#send(conn, effect.message, stepAt);
        return;
      case 'dead': {
        const reason = `peer dead: silent for ${effect.silentFor} ms, ${effect.unanswered} keepalive PING(s) unanswered`;
        this.#emit({ type: 'dead', id: conn.id, at: effect.at, silentFor: effect.silentFor, unanswered: effect.unanswered, reason, meta: conn.meta });
        this.#closeTransport(conn, reason);
        return;
      }
      case 'closed':
        this.#emit({ type: 'closed', id: conn.id, at: effect.at, reason: effect.reason, meta: conn.meta });
        if (!conn.peerGone) this.#closeTransport(conn, effect.reason);
        return;
    }
  }

  #send(conn: Connection, message: KeepaliveMessage, at: number): void {
    try {
      this.#transport.send(conn.id, conn.codec.encode(message));
    } catch (error) {
      this.#closeTransport(conn, `send failed: ${String(error)}`);
      return;
    }
    if (this.#frameListeners.size > 0) this.#emitFrame({ type: 'sent', id: conn.id, at, message });
  }

  #reject(conn: Connection, error: FrameError, at: number): false {
    this.stats.rejected++;
    const reason = `protocol error (${error.code}): ${error.message}`;
    this.#emit({ type: 'rejected', id: conn.id, at, code: error.code, reason });
    conn.pendingAt = NOTHING_PENDING;
    this.close(conn.id, reason, at);
    return false;
  }

  #closeTransport(conn: Connection, reason: string): void {
    conn.peerGone = true;
    try {
      this.#transport.close(conn.id, reason);
    } catch {
      // The socket is already gone; the connection is forgotten either way.
    }
  }

  /** Every live connection as its stored record, pending signs of life folded in (the own store's `load`). */
  *#liveRecords(): Generator<StoredConnection> {
    for (const conn of [...this.#connections.values()]) {
      this.#fold(conn);
      if (this.#connections.has(conn.id)) yield recordOf(conn);
    }
  }

  #save(conn: Connection): void {
    this.#track(this.#store.save(recordOf(conn)));
  }

  #track(write: void | Promise<void>): void {
    if (!write) return;
    const tracked = write.finally(() => this.#writes.delete(tracked));
    this.#writes.add(tracked);
  }

  #reportWake(always = false): void {
    if (!this.#onNextWake) return;
    const next = this.#queue.peek();
    if (!always && next === this.#reportedWake) return;
    this.#reportedWake = next;
    this.#onNextWake(next);
  }

  #emit(event: HostEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  #emitFrame(event: HostEvent): void {
    for (const listener of this.#frameListeners) listener(event);
  }
}

function validateKeepalive(options: KeepaliveOptions): void {
  if (!Number.isFinite(options.interval) || options.interval <= 0) {
    throw new RangeError(`keepalive interval must be a positive number of ms, got ${options.interval}`);
  }
  if (!Number.isInteger(options.count) || options.count < 0) {
    throw new RangeError(`keepalive count must be a whole number >= 0, got ${options.count}`);
  }
  const timeout = options.advertiseTimeout;
  if (timeout !== undefined && timeout !== null && (!Number.isFinite(timeout) || timeout < 0)) {
    throw new RangeError(`advertiseTimeout must be a number of ms >= 0 (0 or null: none), got ${timeout}`);
  }
}

/**
 * After a fold, the next due tick sends a PING whatever the unanswered count: alive and
 * timing (a sign of life resets the count), with PINGs to send.
 */
function pingsAfterFold(snapshot: Stepper['snapshot']): boolean {
  const { value, context } = snapshot;
  if (typeof value !== 'object' || value === null) return false;
  const alive = (value as { alive?: unknown }).alive;
  return (alive === 'watching' || alive === 'probing') && context.sendPings && context.count > 0;
}

/** The next due tick sends a PING: alive and timing, and the peer not yet out of PINGs. */
function pingsNext(snapshot: Stepper['snapshot']): boolean {
  return pingsAfterFold(snapshot) && snapshot.context.unanswered < snapshot.context.count;
}

function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  const [key, child] = Object.entries(value as Record<string, unknown>)[0] ?? ['?', undefined];
  return child === undefined ? key : `${key}.${stateName(child)}`;
}

function viewOf(conn: Connection): ConnectionView {
  const snapshot = conn.stepper.snapshot;
  const c = snapshot.context;
  return {
    id: conn.id,
    state: stateName(snapshot.value),
    codec: conn.spec.name,
    meta: conn.meta,
    role: c.role,
    interval: c.interval,
    count: c.count,
    sendPings: c.sendPings,
    lastSignOfLife: c.lastSignOfLife,
    unanswered: c.unanswered,
    wakeAt: c.wakeAt,
    advertised: c.advertised,
    pingsSent: c.pingsSent,
    pongsSent: c.pongsSent,
    pingsReceived: c.pingsReceived,
    pongsReceived: c.pongsReceived,
    messagesReceived: c.messagesReceived,
  };
}

function recordOf(conn: Connection): StoredConnection {
  return {
    id: conn.id,
    codec: conn.spec,
    stream: conn.reader !== null,
    snapshot: conn.stepper.persisted(),
    ...(Object.keys(conn.meta).length > 0 ? { meta: conn.meta } : {}),
  };
}
