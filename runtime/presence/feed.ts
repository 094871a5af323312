/**
 * Presence for peers on one part of a hub (a process, a Durable Object): who is online, told to
 * every subscribed connection of this part as a `sync` on each attach, then as coalesced diffs
 * (runtime/protocol/presence.ts has the frames). Written once; every platform builds one
 * through runtime/hub/assemble.ts when the hub's `presence` setting is on.
 *
 * What is listed comes from the host (this part's connections and their meta: peer, hidden)
 * and, in a hub of many parts, from the rows the others report (`remote`). Host events only
 * mark a connection touched; the flush, at most one per `PRESENCE_COALESCE_MS`, reads each
 * touched one back from the host, so a connection restored without an event (a restart, a
 * takeover, a rebuilt Durable Object) is found too. The diff is encoded once and the same
 * string goes to every subscriber: a change costs each a few bytes, whatever the hub's size.
 */
import { PRESENCE_META, PEER_META, type HubPlace, type PresenceVerdict } from '../application/index.ts';
import type { ConnectionId, Host, HostEvent } from '../host/index.ts';
import { PRESENCE_COALESCE_MS, PRESENCE_FRAME, PRESENCE_SET_FRAME, type PresenceFrame, type PresenceState } from '../protocol/index.ts';
import { PresenceModel, type PresenceMember } from './model.ts';
import { MemoryPresenceStates, type PresenceStates, type StoredPresence } from './states.ts';

/** The timer a feed coalesces with (tests pass a fake one). */
export interface PresenceTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface PresenceFeedOptions {
  host: Host;
  /** This part's place in a hub of many (each of its connections names it); asked each time (a Durable Object learns its shard from its first request). */
  here?: (() => HubPlace | undefined) | undefined;
  /** A frame to connection `id`'s socket; false when it has none right now. */
  send: (id: ConnectionId, frame: string) => boolean;
  /** The `onPresence` hook; none: every state within the bound is kept. */
  validate?: ((id: ConnectionId, state: PresenceState) => PresenceVerdict | undefined | Promise<PresenceVerdict | undefined>) | undefined;
  /** Largest state, its JSON in UTF-8 bytes. */
  maxStateBytes: number;
  /** Where states outlive the instance (a Durable Object's storage); default memory. */
  states?: PresenceStates | undefined;
  /** This part's own state of connection `id` changed (a clustered hub reports it to the others). */
  changed?: ((id: ConnectionId) => void) | undefined;
  timers?: PresenceTimers | undefined;
  now?: (() => number) | undefined;
  report?: ((line: string) => void) | undefined;
}

const NODE_TIMERS: PresenceTimers = {
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    // A pending presence frame never holds a process open.
    (handle as { unref?: () => void }).unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class PresenceFeed {
  readonly #options: PresenceFeedOptions;
  readonly #model = new PresenceModel();
  readonly #timers: PresenceTimers;
  readonly #now: () => number;
  readonly #states: PresenceStates;
  /** This part's connections the model holds, and which of them subscribed. */
  readonly #local = new Set<ConnectionId>();
  readonly #subscribers = new Set<ConnectionId>();
  /** Other parts' connections as last reported. */
  readonly #remote = new Map<ConnectionId, PresenceMember>();
  /** States of connections another part just let go of (a takeover): this part takes them on if it holds them now. */
  readonly #inherit = new Map<ConnectionId, StoredPresence>();
  /** Each connection's own state and when it was set. */
  readonly #own = new Map<ConnectionId, StoredPresence>();
  /** Connections to read back at the next flush. */
  readonly #touched = new Set<ConnectionId>();
  /** Per connection, the latest set in flight: an older answer of `validate` is dropped. */
  readonly #asked = new Map<ConnectionId, number>();
  #timer: unknown;
  #lastFlush = -Infinity;
  #started = false;
  /** Frames sent, for tests and figure 14. */
  readonly counts = { frames: 0, bytes: 0, flushes: 0 };

  constructor(options: PresenceFeedOptions) {
    this.#options = options;
    this.#timers = options.timers ?? NODE_TIMERS;
    this.#now = options.now ?? Date.now;
    this.#states = options.states ?? new MemoryPresenceStates();
    options.host.subscribe((event) => this.#hostEvent(event), { frames: false });
  }

  /** The list subscribers have been told (what a page shows once its frames arrived). */
  list(): ReturnType<PresenceModel['published']> {
    this.#start();
    return this.#model.published();
  }

  /** A connection's own state (for reports to other parts), if it set one. */
  own(id: ConnectionId): StoredPresence | undefined {
    return this.#own.get(id);
  }

  /** A socket now carries connection `id` (new or resumed): a subscriber gets the whole list. */
  attached(id: ConnectionId): void {
    this.#start();
    const mark = this.#options.host.meta(id)?.[PRESENCE_META];
    if (mark === 'sub' || mark === 'hidden-sub') {
      this.#subscribers.add(id);
      this.#sendTo(id, { sync: this.#model.published(), you: id });
    } else if (mark === 'off') this.#sendTo(id, { off: 'not for this connection' });
  }

  /** A `keepalive:PRESENCE-SET` from connection `id`. */
  receive(id: ConnectionId, frame: string): void {
    this.#start();
    const text = frame.slice(PRESENCE_SET_FRAME.length);
    if (!frame.startsWith(PRESENCE_SET_FRAME)) return this.#refuse(id, `unknown presence frame "${frame.slice(0, 40)}"`);
    const bytes = text.length * 3 <= this.#options.maxStateBytes ? text.length : new TextEncoder().encode(text).length;
    if (bytes > this.#options.maxStateBytes) return this.#refuse(id, `state is ${bytes} bytes, at most ${this.#options.maxStateBytes}`);
    let state: PresenceState;
    try {
      state = JSON.parse(text) as PresenceState;
    } catch {
      return this.#refuse(id, 'state is not JSON');
    }
    const ask = (this.#asked.get(id) ?? 0) + 1;
    this.#asked.set(id, ask);
    const decided = (verdict: PresenceVerdict | undefined): void => {
      if (this.#asked.get(id) !== ask || !this.#options.host.has(id)) return;
      if (verdict && 'refuse' in verdict) return this.#refuse(id, String(verdict.refuse));
      this.#set(id, verdict ? verdict.state : state);
    };
    const validate = this.#options.validate;
    if (!validate) return decided(undefined);
    try {
      const verdict = validate(id, state);
      if (verdict instanceof Promise) verdict.then(decided, (error: unknown) => this.#hookFailed(id, error));
      else decided(verdict);
    } catch (error) {
      this.#hookFailed(id, error);
    }
  }

  /**
   * Another part's connection as this part last knew it before it went away (a rebuilt Durable
   * Object's stored rows): taken as told, with what the host holds, at the first use.
   */
  restore(id: ConnectionId, member: PresenceMember): void {
    if (!this.#started) this.#remote.set(id, member);
  }

  /** Another part's connection, as it reported it just now (undefined: gone from there). */
  remote(id: ConnectionId, member: PresenceMember | undefined): void {
    // News, never part of the baseline: subscribers already attached must hear it.
    this.#start();
    const had = this.#remote.get(id);
    if (member) this.#remote.set(id, member);
    else this.#remote.delete(id);
    if (!member && had && had.at > 0) this.#inherit.set(id, { state: had.state, at: had.at });
    this.#touch(id);
  }

  /** Sends what changed now (tests; a platform about to sleep). */
  flush(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#start();
    this.#lastFlush = this.#now();
    const host = this.#options.host;
    for (const id of this.#touched) this.#refresh(id);
    this.#touched.clear();
    // Connections that came or went without an event (restored, handed over).
    if (host.size !== this.#local.size) {
      for (const id of host.ids()) if (!this.#local.has(id)) this.#refresh(id);
      for (const id of this.#local) if (!host.has(id)) this.#refresh(id);
    }
    if (!this.#model.dirty) return;
    const { join, update, leave } = this.#model.diff();
    if (join.length + update.length + leave.length === 0) return;
    this.counts.flushes++;
    const frame = encode({ ...(join.length ? { join } : {}), ...(update.length ? { update } : {}), ...(leave.length ? { leave } : {}) });
    for (const id of this.#subscribers) this.#sendFrame(id, frame);
  }

  stop(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * The first use: what the host holds now (restored connections, a rebuilt object's) is taken
   * as told, so subscribers that already know it hear no join for it.
   */
  #start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const [id, stored] of this.#states.load()) this.#own.set(id, stored);
    for (const id of this.#options.host.ids()) this.#refresh(id);
    for (const id of this.#remote.keys()) this.#refresh(id);
    this.#model.baseline();
  }

  #hostEvent(event: HostEvent): void {
    if (event.type !== 'opened' && event.type !== 'dead' && event.type !== 'closed') return;
    if (event.type === 'opened' && event.role !== 'server') return;
    this.#start();
    this.#touch(event.id);
  }

  #touch(id: ConnectionId): void {
    this.#touched.add(id);
    if (this.#timer !== undefined) return;
    const wait = this.#lastFlush + PRESENCE_COALESCE_MS - this.#now();
    // Right after a quiet spell, a short wait still gathers what happens together (a burst of
    // opens); never more than the bound, whatever the clock did (stepped back, or a test's).
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, Math.min(Math.max(wait, 5), PRESENCE_COALESCE_MS));
  }

  /** Reads connection `id` back: this part's (from the host), another's (as reported), or gone. */
  #refresh(id: ConnectionId): void {
    const meta = this.#options.host.meta(id);
    const inherited = this.#inherit.get(id) ?? this.#remote.get(id);
    this.#inherit.delete(id);
    if (meta) {
      const mark = meta[PRESENCE_META];
      // Come from another part (a takeover, a handover): its state comes along.
      if (!this.#own.has(id) && inherited && inherited.at > 0) this.#own.set(id, { state: inherited.state, at: inherited.at });
      const own = this.#own.get(id);
      this.#local.add(id);
      if (mark === 'sub' || mark === 'hidden-sub') this.#subscribers.add(id);
      this.#model.set(id, {
        peer: meta[PEER_META] ?? null,
        hidden: mark === 'hidden' || mark === 'hidden-sub',
        ...this.#options.here?.(),
        state: own?.state ?? null,
        at: own?.at ?? 0,
      });
      return;
    }
    let own: StoredPresence | undefined;
    if (this.#local.delete(id)) {
      this.#subscribers.delete(id);
      this.#asked.delete(id);
      own = this.#own.get(id);
      // Ended here, or moved to another part (whose report carries its state on).
      if (this.#own.delete(id)) this.#states.save(id, undefined);
    }
    const remote = this.#remote.get(id);
    // Moved away: listed as the new holder's, with its state until that one reports.
    if (remote) this.#model.set(id, remote.at === 0 && own ? { ...remote, state: own.state, at: own.at } : remote);
    else this.#model.delete(id);
  }

  #set(id: ConnectionId, state: PresenceState): void {
    const before = this.#own.get(id);
    if (before && JSON.stringify(before.state) === JSON.stringify(state)) return;
    const stored = { state, at: Math.max(this.#now(), (before?.at ?? 0) + 1) };
    this.#own.set(id, stored);
    this.#states.save(id, stored);
    this.#touch(id);
    this.#options.changed?.(id);
  }

  #refuse(id: ConnectionId, why: string): void {
    this.#sendTo(id, { refused: why });
  }

  #hookFailed(id: ConnectionId, error: unknown): void {
    this.#options.report?.(`onPresence hook failed for ${id}: ${error instanceof Error ? error.message : String(error)}`);
    this.#refuse(id, 'refused by the server');
  }

  #sendTo(id: ConnectionId, frame: PresenceFrame): void {
    this.#sendFrame(id, encode(frame));
  }

  #sendFrame(id: ConnectionId, frame: string): void {
    if (!this.#options.send(id, frame)) return;
    this.counts.frames++;
    this.counts.bytes += frame.length;
  }
}

export function encode(frame: PresenceFrame): string {
  return PRESENCE_FRAME + JSON.stringify(frame);
}
