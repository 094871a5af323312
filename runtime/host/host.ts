/**
 * The platform-free host: many keepalive actors by connection id, one timer queue for
 * all of them, frames in, effects out through a `Transport`, snapshots through a
 * `SnapshotStore`. Adapters own sockets and the one platform timer; the host owns
 * everything else.
 *
 * `Host` is the public face over parts that each do one thing and see only what they need:
 * the connections (connection.ts, each with its pending signs of life), what arrives
 * (inbound.ts, the fast path), one step from start to finish (steps.ts), what a step
 * emitted carried out (effects.ts), when each connection wakes (schedule.ts), what a tick
 * decides (ticker.ts), the store's writes (writes.ts) and who listens (listeners.ts).
 */
import type { KeepaliveInput, KeepaliveOptions } from '../../actors/keepalive.ts';
import type { CodecSpec, Frame, Inbound } from '../codec/index.ts';
import { newConnectionId, type EndCause } from '../protocol/index.ts';
import { ClockWatch } from './clock-watch.ts';
import { Codecs } from './codecs.ts';
import { Connection, NO_META, TEXT_SPEC } from './connection.ts';
import { Effects } from './effects.ts';
import { InboundFrames } from './inbound.ts';
import { HostListeners } from './listeners.ts';
import { settingsOf, validateKeepalive, type HostSettings } from './options.ts';
import { withRestartGrace } from './restart-grace.ts';
import { Schedule } from './schedule.ts';
import type { StepperStart } from './stepper.ts';
import { Steps } from './steps.ts';
import { MemorySnapshotStore, type ConnectionId, type SnapshotStore, type StoredConnection } from './store.ts';
import { Ticker } from './ticker.ts';
import { CapacityError, type ConnectionView, type HostEvent, type HostOptions, type HostStats, type OpenOptions } from './types.ts';
import { recordOf, viewOf } from './views.ts';
import { SnapshotWrites } from './writes.ts';

const LOCAL: EndCause = Object.freeze({ cause: 'local' });
const PEER_CLOSED: EndCause = Object.freeze({ cause: 'peer-closed' });
const SHUTDOWN: EndCause = Object.freeze({ cause: 'shutdown' });

export * from './types.ts';

export class Host {
  readonly stats: HostStats = { steps: 0, foldedFrames: 0, pongsOnFastPath: 0, rejected: 0 };
  readonly #settings: HostSettings;
  readonly #now: () => number;
  readonly #generateId: () => ConnectionId;
  readonly #connections = new Map<ConnectionId, Connection>();
  readonly #listeners = new HostListeners();
  readonly #codecs: Codecs;
  readonly #writes: SnapshotWrites;
  readonly #clock = new ClockWatch();
  readonly #schedule: Schedule;
  readonly #steps: Steps;
  readonly #inbound: InboundFrames;
  readonly #ticker: Ticker;

  constructor(options: HostOptions) {
    this.#settings = settingsOf(options);
    this.#now = options.now ?? Date.now;
    this.#generateId = options.generateId ?? newConnectionId;
    this.#codecs = new Codecs(this.#settings.maxFrameBytes, options.codecs);
    // Given no store, the host's own in-memory store reads its live connections when loaded:
    // no persisted snapshot is built and saved on every step (figure 9: a record per step).
    this.#writes = new SnapshotWrites(options.store ?? MemorySnapshotStore.following(() => this.#liveRecords()));
    if (options.onEvent) this.#listeners.subscribe(options.onEvent, { frames: options.onEventFrames ?? true });
    const clock = this.#clock;
    const listeners = this.#listeners;
    const stats = this.stats;
    const schedule = (this.#schedule = new Schedule(this.#settings.pingWindow, this.#writes.perStep, listeners, options.onNextWake));
    const effects = new Effects(options.transport, listeners);
    const connections = this.#connections;
    const steps = (this.#steps = new Steps({ connections, schedule, clock, writes: this.#writes, effects, listeners, stats, inspect: options.inspect }));
    this.#inbound = new InboundFrames({
      steps,
      effects,
      clock,
      schedule,
      listeners,
      stats,
      maxPings: this.#settings.maxPings,
      onMessage: options.onMessage,
      onPong: options.onPong,
      close: (id, cause, at) => this.close(id, cause, at),
    });
    this.#ticker = new Ticker({ connections, schedule, clock, steps, savesEachStep: this.#writes.perStep });
  }

  get size(): number {
    return this.#connections.size;
  }

  /** Where this host writes snapshots: hand it to a new host to resume its connections. */
  get store(): SnapshotStore {
    return this.#writes.store;
  }

  /** The keepalive settings a connection gets unless `open` says otherwise. */
  get defaults(): Readonly<KeepaliveOptions> {
    return this.#settings.keepalive;
  }

  /** True when `open` would refuse: adapters answer new peers 503 before upgrading. */
  get atCapacity(): boolean {
    return this.#connections.size >= this.#settings.maxConnections;
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
    return this.#listeners.subscribe(listener, options);
  }

  /**
   * Like `subscribe`, for a watcher that follows every step (the inspector page): while
   * any watcher is attached the host is eager (every frame is stepped, so a timeline sees
   * each PING and PONG) and reports each step as a `stepped` event. Nobody watching, the
   * fast path pays one check. Returns the function that stops watching.
   */
  watch(listener: (event: HostEvent) => void): () => void {
    return this.#listeners.watch(listener);
  }

  /** Earliest time any connection needs a tick, or null: arm the one platform timer here. */
  nextWake(): number | null {
    return this.#schedule.next();
  }

  /** Opens a connection actor; a client sends its ADVERTISE before this returns. */
  open(options: OpenOptions): ConnectionId {
    const keepalive: KeepaliveOptions = {
      interval: options.interval ?? this.#settings.keepalive.interval,
      count: options.count ?? this.#settings.keepalive.count,
      sendPings: options.sendPings ?? this.#settings.keepalive.sendPings,
      // An explicit null turns a default deadline off for this connection.
      advertiseTimeout: options.advertiseTimeout !== undefined ? options.advertiseTimeout : (this.#settings.keepalive.advertiseTimeout ?? null),
    };
    validateKeepalive(keepalive);
    if (this.atCapacity) throw new CapacityError(`connection limit of ${this.#settings.maxConnections} reached`);
    const id = options.id ?? this.#generateId();
    if (this.#connections.has(id)) throw new Error(`connection ${id} is already open`);
    const input: KeepaliveInput = {
      role: options.role,
      at: options.at ?? this.#now(),
      ...keepalive,
      ...(options.advertise === undefined ? {} : { advertise: options.advertise }),
      ...(options.awaitAdvertise === undefined ? {} : { awaitAdvertise: options.awaitAdvertise }),
    };
    this.#listeners.emit({ type: 'opened', id, at: input.at, role: options.role, meta: options.meta ?? NO_META });
    this.#start(id, { input }, options.codec ?? TEXT_SPEC, options.stream ?? false, options.eager, options.meta, input.at);
    this.#schedule.report();
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
      this.#start(record.id, { snapshot: record.snapshot }, record.codec, record.stream, undefined, record.meta, at);
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
    return this.restore(withRestartGrace(await this.#writes.store.load(), at), at);
  }

  /**
   * Feeds what arrived on a connection: a whole frame, or for stream connections any
   * chunk of the byte stream. Bad input closes this connection only and returns false.
   */
  receive(id: ConnectionId, data: Frame, at = this.#now()): boolean {
    const conn = this.#connections.get(id);
    if (!conn) return false;
    try {
      return this.#inbound.receive(conn, data, at);
    } finally {
      this.#schedule.report();
    }
  }

  /** An already-decoded message (e.g. from a platform that parsed the frame itself). */
  deliver(id: ConnectionId, message: Inbound, at = this.#now()): boolean {
    const conn = this.#connections.get(id);
    if (!conn) return false;
    this.#inbound.deliver(conn, message, at);
    this.#schedule.report();
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
    return conn !== undefined && this.#inbound.noteOutside(conn, at, kind);
  }

  /**
   * Runs every connection whose deadline is at or before `at`; touches nothing else.
   * Pass the current time: a tick earlier than a time the host has already seen is taken
   * for a backward clock step (NTP), and every connection whose interval began after it is
   * re-anchored at `at` (the statechart's rule), so no deadline is left a whole step ahead.
   */
  tick(at = this.#now()): void {
    try {
      this.#ticker.tick(at);
    } finally {
      // Always, even if a callback threw: the platform timer that called us has fired.
      this.#schedule.report(true);
    }
  }

  /**
   * Closes a connection from this side; `cause` says why (runtime/protocol/end-cause.ts),
   * and the transport derives its close frame from it. A string is kept as what the owner
   * of this host said (`{ cause: 'local', reason }`). Default: closed locally.
   */
  close(id: ConnectionId, cause: EndCause | string = LOCAL, at = this.#now()): boolean {
    const conn = this.#connections.get(id);
    if (!conn) return false;
    this.#steps.foldThenStep(conn, { type: 'close', at, cause: typeof cause === 'string' ? { cause: 'local', reason: cause } : cause });
    this.#schedule.report();
    return true;
  }

  /** The peer's socket closed (`cause`: how, default `{ cause: 'peer-closed' }`); the actor ends and its snapshot is dropped. */
  peerClosed(id: ConnectionId, cause: EndCause = PEER_CLOSED, at = this.#now()): boolean {
    const conn = this.#connections.get(id);
    if (!conn) return false;
    conn.markPeerGone();
    this.#steps.foldThenStep(conn, { type: 'peer.closed', at, cause });
    this.#schedule.report();
    return true;
  }

  /** Closes every connection (graceful shutdown) and waits for the store. */
  async closeAll(cause: EndCause = SHUTDOWN, at = this.#now()): Promise<void> {
    for (const id of [...this.#connections.keys()]) this.close(id, cause, at);
    await this.flush();
  }

  /** Folds pending signs of life and writes every live snapshot, then waits for the store. */
  async persistAll(): Promise<void> {
    for (const conn of this.#connections.values()) {
      this.#steps.fold(conn);
      if (this.#steps.isOpen(conn)) this.#writes.save(conn);
    }
    await this.flush();
  }

  /** Waits for every snapshot write still in flight. */
  async flush(): Promise<void> {
    await this.#writes.flush();
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
    this.#steps.fold(conn);
    this.#schedule.report();
    return this.#connections.has(id);
  }

  view(id: ConnectionId): ConnectionView | undefined {
    const conn = this.#connections.get(id);
    if (!conn) return undefined;
    this.#steps.fold(conn);
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

  /**
   * Lets go of a connection without ending it: no step, no event, no close, and its
   * stored record is left as it is. Another host carries it on from the record returned
   * (a clustered hub hands a connection to the process its peer reattached to).
   */
  release(id: ConnectionId): StoredConnection | undefined {
    const record = this.snapshot(id);
    if (!record) return undefined;
    this.#connections.delete(id);
    this.#schedule.forget(id);
    this.#schedule.report();
    return record;
  }

  /** The stored form of one connection, pending signs of life folded in. */
  snapshot(id: ConnectionId): StoredConnection | undefined {
    const conn = this.#connections.get(id);
    if (!conn) return undefined;
    this.#steps.fold(conn);
    return this.#connections.has(id) ? recordOf(conn) : undefined;
  }

  /** A new connection record, and its statechart's first step (a client's ADVERTISE goes out here). */
  #start(
    id: ConnectionId,
    start: StepperStart,
    spec: CodecSpec,
    stream: boolean,
    eager: boolean | undefined,
    meta: Readonly<Record<string, string>> | undefined,
    at: number,
  ): void {
    const codec = this.#codecs.for(spec);
    const reader = stream ? (codec.reader?.(this.#settings.maxFrameBytes) ?? null) : null;
    if (stream && !reader) throw new TypeError(`the ${spec.name} dialect has no byte-stream form: a stream connection speaks libvirt`);
    const conn = new Connection(id, spec, codec, reader, eager ?? this.#settings.eager, meta ?? NO_META);
    this.#steps.start(conn, start, at);
  }

  /** Every live connection as its stored record, pending signs of life folded in (the own store's `load`). */
  *#liveRecords(): Generator<StoredConnection> {
    for (const conn of [...this.#connections.values()]) {
      this.#steps.fold(conn);
      if (this.#steps.isOpen(conn)) yield recordOf(conn);
    }
  }
}
