/**
 * One hub over many processes (Node or Deno), meeting in Redis. Each process holds its own
 * peers and runs their statecharts as a single process does; Redis carries what the others
 * must know:
 *
 * - a lease per process, renewed every second; a survivor takes over the connections of a
 *   process whose lease ran out (`takeover.ts`), so their peers resume there or are
 *   declared dead by the keepalive rule, and what it owed (hooks, webhooks) is delivered;
 * - each connection's record (`stores.ts`), so a session resumes on any process: the
 *   process holding it hands it over when its peer reattaches elsewhere;
 * - presence rows and broadcasts on a channel, so every process answers presence from what
 *   it already knows and a broadcast reaches every process's peers.
 *
 * While Redis is away every process keeps judging its own peers; when it is back each
 * writes again all it holds, so a Redis restarted empty is whole within a lease.
 */
import { nanoid } from 'nanoid';
import { type AppData, type Application, PEER_META, type PresenceEntry, type RemoteHub } from '../application/index.ts';
import { type ConnectGate, decodeLetter, encodeLetter, type HandoverAnswer, type Mail, type PresenceRow } from '../hub/index.ts';
import type { ConnectionId, Host, HostEvent, SocketRegistry, StoredConnection } from '../host/index.ts';
import type { EndCause } from '../protocol/index.ts';
import { SESSION_META } from '../protocol/index.ts';
import { NODE_NAME, NODE_NAME_RULE } from '../config/index.ts';
import { HANDOVER, hubPrefix, keys, LOCATE, pairs, RENEW, TAKEOVER } from './keys.ts';
import { RemotePresence } from './presence.ts';
import { redactUrl, type RedisLink } from './link.ts';
import { NodeRedisLink } from './redis.ts';
import { ClusterEvents, ClusterSnapshots, parseEvent, parseRecord } from './stores.ts';
import { takenOver } from './takeover.ts';

/** A connection another process took over: its peer reconnects (1012) and resumes there. */
const HELD_ELSEWHERE: EndCause = { cause: 'restart', detail: 'another process holds this connection now' };

export interface ClusterOptions {
  /** `redis://host:port` (Redis 7 or later, or Valkey). Every process given the same URL and hub name serves one hub. */
  redis: string;
  /**
   * This process's name in the hub: unique among its processes. A process restarted under
   * the same name takes its own connections back at once. Default: a random one.
   */
  node?: string;
  /** ms a process's lease lasts without renewal: how long a killed process's peers wait for a survivor. Default 3000. */
  leaseMs?: number;
  /** ms between renewals, snapshot flushes and presence reports. Default 1000. */
  renewMs?: number;
}

/** Where a session's connection is, as `/connect` needs to know. */
export type SessionPlace = 'here' | 'none' | 'attached' | 'unavailable';

export interface ClusterStatus {
  node: string;
  redis: 'up' | 'down';
  /** ms since the epoch Redis went away, while it is. */
  downSince?: number;
  /** Processes of the hub this one knows to be live (itself included). */
  nodes: number;
}

interface Parts {
  host: Host;
  application: Application;
  gate: ConnectGate;
  sockets: SocketRegistry;
}

/** Mail every process hears, on the hub's channel; the rest goes to one process's own. */
const HUB_MAIL: ReadonlySet<Mail['type']> = new Set(['hello', 'bye', 'rows', 'took-over', 'broadcast']);

/** A verdict already due at a takeover waits this long past the dead lease's expiry, for a live peer to reattach. */
const TAKEOVER_HOLD_MS = 800;
/** How long a process that holds a session may take to hand it over. */
const HANDOVER_TIMEOUT_MS = 300;
/** Opened and ended connections are reported this soon, not at the next flush. */
const SOON_MS = 50;

export class Cluster implements RemoteHub {
  readonly node: string;
  readonly hub: string;
  readonly snapshots: ClusterSnapshots;
  readonly events: ClusterEvents;
  readonly leaseMs: number;
  readonly renewMs: number;
  /** Counts for logs, tests and the bench. */
  readonly stats = { takeovers: 0, taken: 0, handovers: 0, reregistered: 0, published: 0, commands: 0, renewRoundTripMs: 0 };
  readonly #link: RedisLink;
  readonly #prefix: string;
  readonly #log: (line: string) => void;
  readonly #presence = new RemotePresence();
  readonly #replies = new Map<string, (answer: HandoverAnswer) => void>();
  readonly #reaping = new Set<string>();
  readonly #reapTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Nodes with a lease at the last renewal, and when each was last seen with one. */
  readonly #seen = new Map<string, number>();
  #parts: Parts | undefined;
  #up = new Set<ConnectionId>();
  #down: ConnectionId[] = [];
  #soon: ReturnType<typeof setTimeout> | undefined;
  #loop: ReturnType<typeof setInterval> | undefined;
  #lost = false;
  #registered = false;
  #stopped = false;
  #downSince: number | undefined;
  #lastRenewal: number | undefined;
  #healthySince = Infinity;
  /** Redis's clock minus ours, at the last renewal. */
  #offset = 0;
  #renewing: Promise<void> | undefined;

  private constructor(link: RedisLink, options: ClusterOptions, hub: string, log: (line: string) => void) {
    this.#link = link;
    this.node = options.node ?? nanoid(10);
    this.hub = hub;
    this.leaseMs = options.leaseMs ?? 3000;
    this.renewMs = options.renewMs ?? 1000;
    this.#prefix = hubPrefix(hub);
    this.#log = log;
    const place = { link, prefix: this.#prefix, node: this.node, lost: () => this.#writeLost() };
    this.snapshots = new ClusterSnapshots(place);
    this.snapshots.onNew = () => this.#reportSoon();
    this.events = new ClusterEvents(place);
    link.watch({ down: (error) => this.#wentDown(error), back: () => this.#cameBack() });
  }

  /** Connects to Redis; throws, naming the URL, when it cannot be reached. */
  static async connect(options: ClusterOptions, hub: string, log: (line: string) => void): Promise<Cluster> {
    if (options.node !== undefined && !NODE_NAME.test(options.node)) {
      throw new RangeError(`a node name is ${NODE_NAME_RULE}, got "${options.node}"`);
    }
    return new Cluster(await NodeRedisLink.connect({ url: options.redis }), options, hub, log);
  }

  /** Said in the banner and on `RunningServer.durable`. */
  get where(): string {
    return `Redis ${redactUrl(this.#link.url)}, hub "${this.hub}" as node "${this.node}"`;
  }

  /** Wires the assembled hub in; connections restored from this node's records are already in the host. */
  attach(parts: Parts): void {
    this.#parts = parts;
    parts.host.subscribe((event) => this.#hostEvent(event), { frames: false });
  }

  /** Takes the lease, says hello (every process answers with its rows), then renews every `renewMs`. */
  async start(): Promise<void> {
    const hubChannel = keys.hubChannel(this.#prefix);
    const ownChannel = keys.nodeChannel(this.#prefix, this.node);
    await this.#link.subscribe(hubChannel, (message) => this.#message(hubChannel, message));
    await this.#link.subscribe(ownChannel, (message) => this.#message(ownChannel, message));
    await this.#renew();
    this.#registered = true;
    // Whatever this node's records say it holds, written whole (a restart under the same name).
    await this.#reRegister();
    await this.#publish({ type: 'hello' });
    this.#loop = setInterval(() => void this.#round(), this.renewMs);
    (this.#loop as { unref?: () => void }).unref?.();
  }

  status(): ClusterStatus {
    return {
      node: this.node,
      redis: this.#downSince === undefined ? 'up' : 'down',
      ...(this.#downSince === undefined ? {} : { downSince: this.#downSince }),
      nodes: this.#seen.size + 1,
    };
  }

  // ---- RemoteHub: what the application layer asks of the other processes ----

  get here(): { node: string } {
    return { node: this.node };
  }

  rows(): PresenceEntry[] {
    return this.#presence.list();
  }

  holder(id: ConnectionId): { node: string; peer: string | null } | undefined {
    const held = this.#presence.holder(id);
    return held && held.node !== this.node ? { node: held.node, peer: held.peer } : undefined;
  }

  broadcast(data: AppData, except: readonly ConnectionId[]): void {
    void this.#publish({ type: 'broadcast', data, except: [...except] });
  }

  send(id: ConnectionId, data: AppData): boolean {
    const held = this.holder(id);
    if (!held) return false;
    void this.#publish({ type: 'send', connection: id, data }, held.node);
    return true;
  }

  close(id: ConnectionId, reason: string): boolean {
    const held = this.holder(id);
    if (!held) return false;
    void this.#publish({ type: 'close', connection: id, reason }, held.node);
    return true;
  }

  // ---- sessions: a peer reattaching through this process ----

  /**
   * Brings the connection of a presented session here, if another process holds it: that
   * process hands it over; one that does not answer is waited for until its lease runs
   * out, and then its connections are taken over. `here`: now in this host, resume it;
   * `none`: no such session (open a new connection); `attached`: a live socket has it.
   */
  async claim(hash: string): Promise<SessionPlace> {
    const deadline = Date.now() + this.leaseMs + 2 * this.renewMs;
    for (;;) {
      let found: string[] | null;
      try {
        found = await this.#command<string[] | null>(['EVAL', LOCATE, 0, this.#prefix, hash]);
      } catch {
        return 'unavailable';
      }
      if (!found) return 'none';
      const [id, node, lease, now] = found as [ConnectionId, string | undefined, string | undefined, string | undefined];
      if (this.#parts?.host.has(id)) return 'here';
      if (node === undefined || node === this.node) return 'none';
      if (Date.now() > deadline) return 'unavailable';
      const expiresIn = Number(lease) - Number(now);
      if (expiresIn <= 0) {
        // Its holder's lease ran out: take its connections (or let the survivor taking them finish).
        await this.#reap(node);
        if (!this.#parts?.host.has(id)) await sleep(20);
        continue;
      }
      const answer = await this.#ask(node, id);
      if (answer === 'moved') return (await this.#adopt(id)) ? 'here' : 'none';
      if (answer === 'attached') return 'attached';
      // Silent (dead, or restarting under its name) or just handed on: look again shortly.
      await sleep(answer === undefined ? Math.min(200, expiresIn) : 50);
    }
  }

  /** Stops renewing. A process that keeps its connections lets its lease lapse now, so a survivor takes them at once. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#loop);
    clearTimeout(this.#soon);
    for (const timer of this.#reapTimers.values()) clearTimeout(timer);
    const keeping = (this.#parts?.host.size ?? 0) > 0;
    try {
      await this.snapshots.flush();
      if (keeping) {
        await this.#command(['ZADD', keys.nodes(this.#prefix), 0, this.node]);
      } else {
        await this.#command(['ZREM', keys.nodes(this.#prefix), this.node]);
        await this.#publish({ type: 'bye' });
      }
    } catch {
      // Redis is away: the lease runs out by itself.
    }
    await this.#link.close();
  }

  // ---- the loop: renew, flush, report ----

  async #round(): Promise<void> {
    if (this.#stopped) return;
    await this.#renew();
    await this.#report(false);
  }

  #renew(): Promise<void> {
    this.#renewing ??= this.#renewOnce().finally(() => (this.#renewing = undefined));
    return this.#renewing;
  }

  async #renewOnce(): Promise<void> {
    let reply: [string, string[], string, string[]];
    const sent = performance.now();
    try {
      reply = await this.#command(['EVAL', RENEW, 0, this.#prefix, this.node, this.leaseMs]);
      this.stats.renewRoundTripMs = performance.now() - sent;
    } catch {
      this.#healthySince = Infinity;
      return;
    }
    const local = Date.now();
    // A gap in renewals (Redis stopped, this process stalled) means no one could renew: wait a lease before judging anyone.
    if (this.#lastRenewal === undefined || local - this.#lastRenewal > 2 * this.renewMs || this.#healthySince === Infinity) this.#healthySince = local;
    this.#lastRenewal = local;
    this.#link.answered();
    const [now, reaped, had, nodes] = reply;
    this.#offset = Number(now) - local;
    if (reaped.length > 0) this.#letGo(reaped);
    if (had === '0' && this.#registered && reaped.length === 0) this.#lost = true;
    if (this.#lost) await this.#reRegister();
    const live = new Set<string>();
    for (const [node, expiry] of pairs(nodes)) {
      if (node === this.node) continue;
      live.add(node);
      this.#seen.set(node, local);
      this.#armReap(node, Number(expiry) - this.#offset);
    }
    for (const [node, at] of this.#seen) if (!live.has(node) && local - at > this.leaseMs) this.#seen.delete(node);
    // Rows of a node that has had no lease for a lease's time, while this process could see: it is gone.
    if (this.#judging(local)) {
      for (const node of this.#presence.nodes()) if (!live.has(node) && !this.#seen.has(node)) this.#presence.move(node, null);
    }
  }

  /** Whether this process has seen Redis without a gap for a whole lease: only then may it declare another process gone. */
  #judging(local = Date.now()): boolean {
    return this.#downSince === undefined && local - this.#healthySince >= this.leaseMs;
  }

  /** A takeover attempt just after the lease's expiry, so a dead process's peers wait no more than that. */
  #armReap(node: string, expiresAt: number): void {
    const wait = expiresAt - Date.now();
    if (wait > this.renewMs + this.leaseMs) return;
    clearTimeout(this.#reapTimers.get(node));
    const timer = setTimeout(
      () => {
        this.#reapTimers.delete(node);
        void this.#reap(node);
      },
      Math.max(0, wait) + 20 + Math.floor(Math.random() * 30),
    );
    (timer as { unref?: () => void }).unref?.();
    this.#reapTimers.set(node, timer);
  }

  /** Takes over a process whose lease ran out: its connections, what it owed. One script decides who. */
  async #reap(dead: string): Promise<void> {
    const parts = this.#parts;
    if (!parts || this.#stopped || this.#reaping.has(dead) || !this.#judging()) return;
    this.#reaping.add(dead);
    try {
      let reply: [string, string, string[], string[]] | null;
      try {
        reply = await this.#command(['EVAL', TAKEOVER, 0, this.#prefix, dead, this.node]);
      } catch {
        return;
      }
      if (!reply) return;
      const [lease, now, conns, events] = reply;
      const owed = pairs(events).flatMap(([, json]) => parseEvent(json) ?? []);
      // A connection whose end was recorded is over, even if its record's delete was lost.
      const ended = new Set(owed.filter((record) => record.event.type === 'closed').map((record) => record.event.connection));
      const records: StoredConnection[] = [];
      for (const [id, json] of pairs(conns)) {
        const record = parseRecord(json);
        if (record && !ended.has(id)) records.push(record);
        else void this.#command(['HDEL', keys.conns(this.#prefix, this.node), id]).catch(() => {});
      }
      const at = Date.now();
      const taken = takenOver(records, at, Number(lease) - this.#offset + TAKEOVER_HOLD_MS);
      this.snapshots.adopt(taken);
      this.#presence.move(dead, null);
      const ids = parts.host.resume(taken, at);
      parts.gate.sessions.refresh();
      for (const id of ids) this.#up.add(id);
      parts.host.tick(at);
      this.stats.takeovers++;
      this.stats.taken += ids.length;
      this.#log(`took over ${ids.length} connection(s) and ${owed.length} undelivered event(s) of node ${dead}: its lease ran out ${Number(now) - Number(lease)} ms ago`);
      await parts.application.outbox.load();
      parts.application.wake();
      await this.#publish({ type: 'took-over', dead });
      await this.#report(false);
    } finally {
      this.#reaping.delete(dead);
    }
  }

  /** Another process took these over while this one could not renew (it stalled, or Redis was away): their peers reattach there. */
  #letGo(ids: readonly ConnectionId[]): void {
    const parts = this.#parts;
    if (!parts) return;
    let released = 0;
    for (const id of ids) {
      if (!parts.host.has(id)) continue;
      const socket = parts.sockets.detach(id);
      parts.host.release(id);
      parts.application.forget(id);
      this.snapshots.forget(id);
      socket?.close(HELD_ELSEWHERE);
      released++;
    }
    if (released > 0) this.#log(`another process took over ${released} connection(s) of this one while it could not renew its lease: their peers reattach there`);
  }

  /** Writes again everything this process holds: after Redis lost it, and at start. */
  async #reRegister(): Promise<void> {
    const parts = this.#parts;
    if (!parts) return;
    this.#lost = false;
    try {
      const records: StoredConnection[] = [];
      for (const id of [...parts.host.ids()]) {
        const record = parts.host.snapshot(id);
        if (record) records.push(record);
      }
      await this.snapshots.writeAll(records);
      await this.events.writeAll(parts.application.outbox.owed());
      if (this.#registered) this.stats.reregistered++;
      await this.#report(true);
    } catch {
      this.#lost = true;
    }
  }

  // ---- presence rows ----

  #hostEvent(event: HostEvent): void {
    if (event.type === 'opened') {
      if (event.role === 'server') this.#up.add(event.id);
    } else if (event.type === 'dead' || event.type === 'closed') {
      this.#up.delete(event.id);
      this.#down.push(event.id);
    } else return;
    this.#reportSoon();
  }

  #reportSoon(): void {
    if (this.#soon !== undefined || this.#stopped) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      void this.#report(false);
    }, SOON_MS);
  }

  /** Flushes changed records, then tells the other processes what changed (or, `full`, all this one holds). */
  async #report(full: boolean): Promise<void> {
    const parts = this.#parts;
    if (!parts) return;
    const written = await this.snapshots.flush();
    const ids = full ? [...parts.host.ids()] : [...new Set([...this.#up, ...written])];
    this.#up.clear();
    const down = this.#down;
    this.#down = [];
    if (!full && ids.length === 0 && down.length === 0) return;
    const up: PresenceRow[] = [];
    for (const id of ids) {
      const view = parts.host.view(id);
      if (view) up.push({ id, peer: view.meta[PEER_META] ?? null, state: view.state, lastSignOfLife: view.lastSignOfLife, codec: view.codec });
    }
    await this.#publish({ type: 'rows', full, up, down });
  }

  // ---- messages ----

  /** A letter on the hub's channel or this process's own: one that does not read, or holds mail for the other channel, is reported and dropped. */
  #message(channel: string, text: string): void {
    const parts = this.#parts;
    if (!parts) return;
    const onHub = channel === keys.hubChannel(this.#prefix);
    let from: string;
    let mail: readonly Mail[];
    try {
      ({ from, mail } = decodeLetter(text));
      const stray = mail.find((m) => HUB_MAIL.has(m.type) !== onHub);
      if (stray) throw new Error(`"${stray.type}" from node ${from}: not mail for ${onHub ? 'every process' : 'one process'}`);
    } catch (error) {
      this.#log(`dropped a letter on the ${onHub ? "hub's" : "process's own"} channel: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (onHub && from === this.node) return;
    for (const m of mail) {
      if (onHub) {
        if (m.type !== 'bye') this.#seen.set(from, Date.now());
        else this.#seen.delete(from);
      }
      switch (m.type) {
        case 'rows':
          this.#presence.apply(from, m.up, m.down, m.full);
          break;
        case 'hello':
          void this.#report(true);
          break;
        case 'bye':
          this.#presence.move(from, null);
          break;
        case 'took-over':
          this.#presence.move(m.dead, m.dead === this.node ? null : from);
          break;
        case 'broadcast':
          parts.application.broadcastHere(m.data, new Set(m.except));
          break;
        case 'send':
          if (parts.host.has(m.connection)) parts.application.connection(m.connection)?.send(m.data);
          break;
        case 'close':
          parts.host.close(m.connection, { cause: 'application', reason: m.reason });
          break;
        case 'handover':
          void this.#release(m.connection, from).then((answer) => this.#publish({ type: 'handover-answer', ask: m.ask, answer }, from));
          break;
        case 'handover-answer':
          this.#replies.get(m.ask)?.(m.answer);
          break;
      }
    }
  }

  /** Asks the process holding `id` to hand it over; undefined when it does not answer in time. */
  #ask(node: string, id: ConnectionId): Promise<HandoverAnswer | undefined> {
    const q = nanoid(12);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#replies.delete(q);
        resolve(undefined);
      }, HANDOVER_TIMEOUT_MS);
      this.#replies.set(q, (answer) => {
        clearTimeout(timer);
        this.#replies.delete(q);
        resolve(answer);
      });
      this.#publish({ type: 'handover', connection: id, ask: q }, node).catch(() => {});
    });
  }

  /** Hands a detached connection to the process its peer reattached to. */
  async #release(id: ConnectionId, to: string): Promise<HandoverAnswer> {
    const parts = this.#parts!;
    if (!parts.host.has(id)) return 'gone';
    if (parts.sockets.get(id) !== undefined) return 'attached';
    const view = parts.host.view(id);
    const record = parts.host.release(id);
    if (!record || !view) return 'gone';
    // Listed as the new holder's from now on: presence here never misses it in between.
    this.#presence.set(to, { id, peer: view.meta[PEER_META] ?? null, state: view.state, lastSignOfLife: view.lastSignOfLife, codec: view.codec });
    try {
      await this.#command(['EVAL', HANDOVER, 0, this.#prefix, this.node, to, id, JSON.stringify(record)]);
    } catch {
      this.#presence.delete(id);
      parts.host.restore([record]);
      return 'gone';
    }
    parts.application.forget(id);
    this.snapshots.forget(id);
    this.stats.handovers++;
    return 'moved';
  }

  /** Takes in a connection just handed over to this process. */
  async #adopt(id: ConnectionId): Promise<boolean> {
    const parts = this.#parts!;
    const json = await this.#command<string | null>(['HGET', keys.conns(this.#prefix, this.node), id]).catch(() => null);
    const record = json === null ? undefined : parseRecord(json);
    if (!record) return false;
    this.snapshots.adopt([record]);
    this.#presence.delete(id);
    parts.host.restore([record]);
    const hash = record.meta?.[SESSION_META];
    if (hash !== undefined && parts.host.has(id)) parts.gate.sessions.add(hash, id);
    this.#up.add(id);
    this.#reportSoon();
    return parts.host.has(id);
  }

  /** One message, to every process or to `node`: a letter from this one (runtime/hub/mail.ts). */
  async #publish(mail: Mail, node?: string): Promise<void> {
    const channel = node === undefined ? keys.hubChannel(this.#prefix) : keys.nodeChannel(this.#prefix, node);
    this.stats.published++;
    this.stats.commands++;
    await this.#link.publish(channel, encodeLetter({ from: this.node, mail: [mail] })).catch(() => {});
  }

  #command<T>(args: readonly (string | number)[]): Promise<T> {
    this.stats.commands++;
    return this.#link.command<T>(args);
  }

  // ---- Redis away and back ----

  #writeLost(): void {
    this.#lost = true;
  }

  #wentDown(error: string): void {
    if (this.#stopped || this.#downSince !== undefined) return;
    this.#downSince = Date.now();
    this.#healthySince = Infinity;
    this.#log(`redis unreachable (${error}): serving this process's peers; presence of the others as last heard`);
  }

  #cameBack(): void {
    if (this.#stopped) return;
    const since = this.#downSince;
    this.#downSince = undefined;
    this.#lost = true;
    if (since !== undefined) this.#log(`redis back after ${Date.now() - since} ms: writing again the ${this.#parts?.host.size ?? 0} connection(s) this process holds`);
    // Everyone else re-registers too: ask for their rows (Redis may have restarted empty).
    void this.#renew().then(() => this.#publish({ type: 'hello' }));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
