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
import { beforeInterval, pingsOnNextTick, type KeepaliveInput, type KeepaliveOptions } from '../../actors/keepalive.ts';
import { FrameError, type CodecSpec, type Frame, type Inbound } from '../codec/index.ts';
import { NO_META, TEXT_SPEC, type Connection } from './connection.ts';
import { validateKeepalive } from './options.ts';
import { recordOf, viewOf } from './views.ts';
import { HostCore } from './host-core.ts';
import { CapacityError, type ConnectionView, type HostEvent, type HostOptions, type OpenOptions } from './types.ts';
import type { ConnectionId, SnapshotStore, StoredConnection } from './store.ts';
import { withRestartGrace } from './restart-grace.ts';
import type { EndCause } from '../protocol/index.ts';

const LOCAL: EndCause = Object.freeze({ cause: 'local' });
const PEER_CLOSED: EndCause = Object.freeze({ cause: 'peer-closed' });
const SHUTDOWN: EndCause = Object.freeze({ cause: 'shutdown' });

export * from './types.ts';

export class Host extends HostCore {
  constructor(options: HostOptions) {
    super(options);
  }

  get size(): number {
    return this.connections.size;
  }

  /** Where this host writes snapshots: hand it to a new host to resume its connections. */
  get store(): SnapshotStore {
    return this.snapshots;
  }

  /** The keepalive settings a connection gets unless `open` says otherwise. */
  get defaults(): Readonly<KeepaliveOptions> {
    return this.keepaliveDefaults;
  }

  /** True when `open` would refuse: adapters answer new peers 503 before upgrading. */
  get atCapacity(): boolean {
    return this.connections.size >= this.maxConnections;
  }

  has(id: ConnectionId): boolean {
    return this.connections.has(id);
  }

  ids(): IterableIterator<ConnectionId> {
    return this.connections.keys();
  }

  /** A connection's dialect (`text` or `libvirt`), without folding anything. */
  codec(id: ConnectionId): CodecSpec['name'] | undefined {
    return this.connections.get(id)?.spec.name;
  }

  /**
   * Keeps `value` with a live connection and hands it back with each of its application
   * frames (`onMessage`'s `tag`). Gone with the connection. Returns false if there is none.
   */
  tag(id: ConnectionId, value: unknown): boolean {
    const conn = this.connections.get(id);
    if (!conn) return false;
    conn.tag = value;
    return true;
  }

  /** The `meta` a connection was opened with (stored with its snapshot), without folding anything. */
  meta(id: ConnectionId): Readonly<Record<string, string>> | undefined {
    return this.connections.get(id)?.meta;
  }

  /**
   * Listens to what happens on every connection (the inspector's live stream, logs).
   * Per-frame events (`received`, `sent`) cost only while someone listens to them: pass
   * `{ frames: false }` for what happens to connections only (opened, dead, closed,
   * rejected). Returns the unsubscribe function.
   */
  subscribe(listener: (event: HostEvent) => void, options: { frames?: boolean } = {}): () => void {
    return this.listeners.subscribe(listener, options);
  }

  /**
   * Like `subscribe`, for a watcher that follows every step (the inspector page): while
   * any watcher is attached the host is eager (every frame is stepped, so a timeline sees
   * each PING and PONG) and reports each step as a `stepped` event. Nobody watching, the
   * fast path pays one check. Returns the function that stops watching.
   */
  watch(listener: (event: HostEvent) => void): () => void {
    return this.listeners.watch(listener);
  }

  /** Earliest time any connection needs a tick, or null: arm the one platform timer here. */
  nextWake(): number | null {
    return this.queue.peek();
  }

  /** Opens a connection actor; a client sends its ADVERTISE before this returns. */
  open(options: OpenOptions): ConnectionId {
    const keepalive: KeepaliveOptions = {
      interval: options.interval ?? this.keepaliveDefaults.interval,
      count: options.count ?? this.keepaliveDefaults.count,
      sendPings: options.sendPings ?? this.keepaliveDefaults.sendPings,
      // An explicit null turns a default deadline off for this connection.
      advertiseTimeout: options.advertiseTimeout !== undefined ? options.advertiseTimeout : (this.keepaliveDefaults.advertiseTimeout ?? null),
    };
    validateKeepalive(keepalive);
    if (this.atCapacity) throw new CapacityError(`connection limit of ${this.maxConnections} reached`);
    const id = options.id ?? this.generateId();
    if (this.connections.has(id)) throw new Error(`connection ${id} is already open`);
    const input: KeepaliveInput = {
      role: options.role,
      at: options.at ?? this.clock(),
      ...keepalive,
      ...(options.advertise === undefined ? {} : { advertise: options.advertise }),
      ...(options.awaitAdvertise === undefined ? {} : { awaitAdvertise: options.awaitAdvertise }),
    };
    this.emit({ type: 'opened', id, at: input.at, role: options.role, meta: options.meta ?? NO_META });
    this.register(id, { input }, options.codec ?? TEXT_SPEC, options.stream ?? false, options.eager, options.meta, input.at);
    this.reportWake();
    return id;
  }

  /**
   * Resumes connections from stored snapshots (after a restart or an eviction) and runs
   * any deadline that passed meanwhile. Returns the ids resumed.
   */
  restore(records: Iterable<StoredConnection>, at = this.clock()): ConnectionId[] {
    const resumed = this.resume(records, at);
    this.tick(at);
    return resumed;
  }

  /**
   * `restore` without the tick: the connections are back but nothing is stepped yet, so
   * an adapter can first hand over signs of life the platform kept while the host was
   * gone (`noteAnsweredPing`, `noteSignOfLife`), then `tick`, which reports the next wake.
   */
  resume(records: Iterable<StoredConnection>, at = this.clock()): ConnectionId[] {
    const resumed: ConnectionId[] = [];
    for (const record of records) {
      if (this.connections.has(record.id)) continue;
      this.register(record.id, { snapshot: record.snapshot }, record.codec, record.stream, undefined, record.meta, at);
      if (this.connections.has(record.id)) resumed.push(record.id);
    }
    return resumed;
  }

  /**
   * After a restart: resumes every connection in the store, with the restart grace (no
   * verdict within one interval, `withRestartGrace`), because the process that stopped may
   * have lost the PONG to its last PING.
   */
  async restoreFromStore(at = this.clock()): Promise<ConnectionId[]> {
    return this.restore(withRestartGrace(await this.snapshots.load(), at), at);
  }

  /**
   * Feeds what arrived on a connection: a whole frame, or for stream connections any
   * chunk of the byte stream. Bad input closes this connection only and returns false.
   */
  receive(id: ConnectionId, data: Frame, at = this.clock()): boolean {
    const conn = this.connections.get(id);
    if (!conn) return false;
    try {
      return this.#receive(conn, data, at);
    } finally {
      this.reportWake();
    }
  }

  #receive(conn: Connection, data: Frame, at: number): boolean {
    const id = conn.id;
    try {
      if (!conn.reader) return this.frame(conn, data, at);
      if (typeof data === 'string') {
        return this.reject(conn, new FrameError('wrong-frame-kind', 'text frame on a binary stream'), at);
      }
      const error = conn.reader.read(data, (frame) => this.frame(conn, frame, at));
      if (error) return this.reject(conn, error, at);
      return this.connections.has(id);
    } catch (error) {
      return this.reject(conn, new FrameError('malformed', `internal error on input: ${String(error)}`), at);
    }
  }

  /** An already-decoded message (e.g. from a platform that parsed the frame itself). */
  deliver(id: ConnectionId, message: Inbound, at = this.clock()): boolean {
    const conn = this.connections.get(id);
    if (!conn) return false;
    this.inbound(conn, message, at);
    this.reportWake();
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
    const conn = this.connections.get(id);
    if (!conn || at <= conn.pendingAt) return false;
    const context = conn.stepper.snapshot.context;
    if (at <= context.lastSignOfLife) return false;
    if (at > this.latest) this.latest = at;
    if (beforeInterval(context, at)) {
      // Older than our last PING: folded later it would move the deadline earlier behind
      // the queue's back (as in inbound), so it is stepped now.
      this.foldPending(conn);
      if (this.connections.has(id)) this.step(conn, { type: 'peer.message', at, folded: { [kind]: 1 } });
      this.reportWake();
      return true;
    }
    conn.note(kind, at);
    return true;
  }

  /**
   * Runs every connection whose deadline is at or before `at`; touches nothing else.
   * Pass the current time: a tick earlier than a time the host has already seen is taken
   * for a backward clock step (NTP), and every connection whose interval began after it is
   * re-anchored at `at` (the statechart's rule), so no deadline is left a whole step ahead.
   */
  tick(at = this.clock()): void {
    try {
      if (at < this.latest) this.#clockStepBack(at);
      let id: ConnectionId | undefined;
      const windowed = this.early > 0 || this.late > 0;
      // A PING due within `early` ahead is queued at most `early + late` ahead (its deadline plus `late`).
      const horizon = at + this.early + this.late;
      // Popped to look, but nothing to do yet: back in the queue after the loop, not popped twice.
      let later: Connection[] | undefined;
      while ((id = this.queue.popDue(horizon)) !== undefined) {
        const conn = this.connections.get(id);
        if (!conn) {
          this.queue.delete(id); // its parked entry too
          continue;
        }
        if (conn.hasPending && this.foldsIntoPing(conn)) {
          // Where the fold leaves the next PING is known (an interval after the latest sign
          // of life): fold and PING in one step when that is due, else wait for it unstepped,
          // unless snapshots are written per step: a stored one stays within an interval.
          const due = conn.pendingAt + conn.interval;
          if (due <= at + this.windowOf(conn, this.early)) {
            this.pingAt(conn, Math.max(due, at - this.windowOf(conn, this.late)), at);
            continue;
          }
          if (!this.savesEachStep) {
            if (!windowed) this.queue.set(id, due);
            else (later ??= []).push(conn);
            continue;
          }
        }
        this.foldPending(conn);
        if (!this.connections.has(id)) continue;
        const wakeAt = conn.stepper.snapshot.context.wakeAt;
        if (!windowed) {
          if (wakeAt !== null && wakeAt <= at) this.step(conn, { type: 'tick', at });
          else this.queue.set(id, wakeAt);
          continue;
        }
        if (wakeAt === null) this.queue.set(id, null);
        else if (wakeAt <= at + this.windowOf(conn, this.early) && pingsOnNextTick(conn.stepper.snapshot)) {
          this.pingAt(conn, Math.max(wakeAt, at - this.windowOf(conn, this.late)), at);
        } else if (wakeAt <= at) this.step(conn, { type: 'tick', at });
        else (later ??= []).push(conn);
      }
      if (later) for (const conn of later) this.queue.set(conn.id, this.queueAt(conn));
    } finally {
      // Always, even if a callback threw: the platform timer that called us has fired.
      this.reportWake(true);
    }
  }

  /**
   * Deadlines set on the old clock lie up to the step too far ahead; the queue would sleep
   * through them. O(connections), but only when the clock goes back.
   */
  #clockStepBack(at: number): void {
    this.latest = at;
    for (const conn of [...this.connections.values()]) {
      this.foldPending(conn);
      if (!this.connections.has(conn.id)) continue;
      const context = conn.stepper.snapshot.context;
      if (context.wakeAt !== null && beforeInterval(context, at)) this.step(conn, { type: 'tick', at });
    }
  }

  /**
   * Closes a connection from this side; `cause` says why (runtime/protocol/end-cause.ts),
   * and the transport derives its close frame from it. A string is kept as what the owner
   * of this host said (`{ cause: 'local', reason }`). Default: closed locally.
   */
  close(id: ConnectionId, cause: EndCause | string = LOCAL, at = this.clock()): boolean {
    const conn = this.connections.get(id);
    if (!conn) return false;
    this.foldPending(conn);
    if (this.connections.has(id)) this.step(conn, { type: 'close', at, cause: typeof cause === 'string' ? { cause: 'local', reason: cause } : cause });
    this.reportWake();
    return true;
  }

  /** The peer's socket closed (`cause`: how, default `{ cause: 'peer-closed' }`); the actor ends and its snapshot is dropped. */
  peerClosed(id: ConnectionId, cause: EndCause = PEER_CLOSED, at = this.clock()): boolean {
    const conn = this.connections.get(id);
    if (!conn) return false;
    conn.markPeerGone();
    this.foldPending(conn);
    if (this.connections.has(id)) this.step(conn, { type: 'peer.closed', at, cause });
    this.reportWake();
    return true;
  }

  /** Closes every connection (graceful shutdown) and waits for the store. */
  async closeAll(cause: EndCause = SHUTDOWN, at = this.clock()): Promise<void> {
    for (const id of [...this.connections.keys()]) this.close(id, cause, at);
    await this.flush();
  }

  /** Folds pending signs of life and writes every live snapshot, then waits for the store. */
  async persistAll(): Promise<void> {
    for (const conn of this.connections.values()) {
      this.foldPending(conn);
      if (this.connections.has(conn.id)) this.save(conn);
    }
    await this.flush();
  }

  /** Waits for every snapshot write still in flight. */
  async flush(): Promise<void> {
    while (this.writes.size > 0) await Promise.all([...this.writes]);
  }

  /**
   * Folds a connection's pending signs of life now and reports the next wake if that moved
   * it. Lazily, a fold only moves deadlines later, so a timer armed before it fires early;
   * an adapter that is awake anyway (a peer just answered our PING) can fold here and move
   * its timer later instead of paying that early wake. Returns false if the connection ended.
   */
  fold(id: ConnectionId): boolean {
    const conn = this.connections.get(id);
    if (!conn) return false;
    this.foldPending(conn);
    this.reportWake();
    return this.connections.has(id);
  }

  view(id: ConnectionId): ConnectionView | undefined {
    const conn = this.connections.get(id);
    if (!conn) return undefined;
    this.foldPending(conn);
    return this.connections.has(id) ? viewOf(conn) : undefined;
  }

  list(): ConnectionView[] {
    const views: ConnectionView[] = [];
    for (const id of [...this.connections.keys()]) {
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
    this.connections.delete(id);
    this.queue.delete(id);
    this.reportWake();
    return record;
  }

  /** The stored form of one connection, pending signs of life folded in. */
  snapshot(id: ConnectionId): StoredConnection | undefined {
    const conn = this.connections.get(id);
    if (!conn) return undefined;
    this.foldPending(conn);
    return this.connections.has(id) ? recordOf(conn) : undefined;
  }

}

