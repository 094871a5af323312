/**
 * The application API: what a user's code sees of a hub and its connections, the same on
 * Node, Deno and a Cloudflare Durable Object. Hooks are optional and may be async; one
 * that throws or rejects is logged and never touches keepalive.
 */
import type { ConnectionId } from '../host/index.ts';
import type { EndCause, PresenceState } from '../protocol/index.ts';

export type Awaitable<T> = T | Promise<T>;

/** Application data: a WebSocket text or binary frame (libvirt dialect: a whole frame of another program). */
export type AppData = string | Uint8Array;

/** One peer connection, as hooks get it. */
export interface Connection {
  readonly id: ConnectionId;
  /** Who the peer is: what `authorize` returned, else `?peer=NAME` on /connect, else null. */
  readonly peer: string | null;
  /** What `authorize` returned as `meta`, plus the transport's own (`transport`, `codec`). Survives restarts and hibernation. */
  readonly meta: Readonly<Record<string, string>>;
  /**
   * Sends an application frame. In delivery mode it is taken into the connection's window
   * and arrives once, in order, even across a drop: false only when the window is full (or
   * the connection ended). Otherwise false when no socket carries the connection right now
   * (a restored connection waits for its peer to come back). A text frame may not start with
   * `keepalive:` (TypeError): that prefix is the protocol's.
   */
  send(data: AppData): boolean;
  /** Closes the connection from the server side; `onClose` follows. */
  close(reason?: string): void;
}

/**
 * Delivery mode: the messages a connection sent and its peer never acknowledged, when it died
 * or its connection ended. The peer may have had the last few (its acknowledgement was lost
 * with the socket); it never got the others.
 */
export interface Undelivered {
  count: number;
  /** Sequence numbers of the first and the last of them. */
  first: number;
  last: number;
  /** The messages, oldest first: all of them, unless there are more than 100 or 64 KiB (then the first that fit; `count` says how many in all). */
  messages: AppData[];
}

/** `onMessage`'s fourth argument. */
export interface MessageInfo {
  /** ms since the epoch. */
  at: number;
  /**
   * Delivery mode: the message's sequence number on its connection. Each arrives once, in
   * order; only after a server's process was killed may a message it had not yet recorded
   * come again, under the same number (docs/delivery.md). Undefined otherwise.
   */
  seq: number | undefined;
}

/** `onDead`'s second argument: when the statechart declared the peer dead, and why. */
export interface DeadVerdict {
  /** ms since the epoch: exactly `lastSignOfLife + interval * (count + 1)` on a timely tick. */
  at: number;
  /** ms between the peer's last sign of life and the verdict. */
  silentFor: number;
  /** Our PINGs the peer left unanswered. */
  unanswered: number;
  /** Delivery mode: what the peer never acknowledged. */
  undelivered?: Undelivered;
}

/**
 * What `onPresence` decides of a state a peer set: `{ state }` keeps that instead (a rewrite),
 * `{ refuse }` refuses it with a reason the client hears; nothing keeps it as sent.
 */
export type PresenceVerdict = { state: PresenceState } | { refuse: string };

/** `onClose`'s second argument. */
export interface CloseInfo {
  at: number;
  /**
   * Why it ended, as a value to decide by: `{ cause: 'dead', silentFor, unanswered }`,
   * `{ cause: 'peer-closed', code, said }`, `{ cause: 'protocol', code, message }`,
   * `{ cause: 'restart' }`, `{ cause: 'application', reason }`... (docs/hooks.md lists them).
   */
  cause: EndCause;
  /** The same as a sentence a person can read: "peer dead: ...", "peer closed: ...", "protocol error ...". Never decide by it. */
  reason: string;
  /** True when the connection ended because the peer was declared dead (`onDead` ran first). */
  dead: boolean;
  /** Delivery mode: what the peer never acknowledged. */
  undelivered?: Undelivered;
}

/** What `authorize` returns to accept a peer. */
export interface Admission {
  /** The peer's identity, shown in presence and webhooks. */
  peer?: string;
  /** Kept with the connection (and its snapshot); strings only. */
  meta?: Record<string, string>;
  /**
   * Presence for peers (the hub's `presence` setting): `false` denies this connection the
   * subscription (it is still listed to others); `'hidden'` lists it to nobody (it may still
   * subscribe, e.g. an operator's page). Default: listed, and subscribed if it asked.
   */
  presence?: boolean | 'hidden';
}

/** A row of `GET /presence`: one live connection. */
export interface PresenceEntry {
  peer: string | null;
  connection: ConnectionId;
  /** The statechart's state, e.g. `alive.watching`, `alive.probing`, `awaitingAdvertise`. */
  state: string;
  /** ms since the epoch. On another process of a clustered hub: as of its last report (about a second). */
  lastSignOfLife: number;
  /** The process that holds the connection, in a clustered hub (`--redis`). */
  node?: string;
  /** The Durable Object that holds the connection, in a sharded hub (`KEEPALIVE_SHARDS` > 1). */
  shard?: number;
}

export interface BroadcastOptions {
  /** Connections (or their ids) that do not get this frame, e.g. the sender. */
  except?: Connection | ConnectionId | readonly (Connection | ConnectionId)[];
}

/** The hub a connection belongs to: what hooks can do beyond their own connection. */
export interface Hub {
  /** `default` on Node and Deno unless set; the Durable Object's name on Cloudflare. */
  readonly name: string;
  /**
   * Sends to every connection of the WebSocket text dialect that has a socket, and to every
   * delivery-mode one whether it has a socket now or not (into its window); returns how many
   * of this process's took it (in a clustered hub the other processes send theirs; in a
   * sharded Durable Object hub, the other shards).
   */
  broadcast(data: AppData, options?: BroadcastOptions): number;
  /** Every connection the hub holds now (in a clustered hub, on every process; in a sharded Durable Object hub, this shard's). */
  connections(): Connection[];
  connection(id: ConnectionId): Connection | undefined;
  /** What `GET /presence` answers (a sharded Durable Object hub: this shard's; `hubPresence()` is the hub's). */
  presence(): PresenceEntry[];
}

/**
 * The application's hooks. Every one is optional and may return a promise, which is
 * awaited (its value, like any other return value, is ignored). `onOpen`,
 * `onDead` and `onClose` run in that order per connection, each after the one before it
 * settled; `onMessage` runs for every application frame as it arrives.
 */
export interface Hooks {
  /**
   * Before the WebSocket upgrade. Return an `Admission` to accept (nothing: accept with no
   * identity), or a `Response` to refuse: its status reaches the client and no socket opens.
   * Without this hook a peer names itself with `?peer=NAME`.
   */
  authorize?(request: Request, hub: Hub): Awaitable<Admission | Response | undefined | void>;
  /** Once, when the connection is accepted. */
  onOpen?(conn: Connection, hub: Hub): unknown;
  /** Every application frame; keepalive frames never come here. In delivery mode once each, in order, with its `seq`. */
  onMessage?(conn: Connection, data: AppData, hub: Hub, message: MessageInfo): unknown;
  /** The statechart declared the peer dead. With a durable store, runs after a crash too. */
  onDead?(conn: Connection, verdict: DeadVerdict, hub: Hub): unknown;
  /** Once for every connection that was opened, whatever ended it (after `onDead` when it died). */
  onClose?(conn: Connection, info: CloseInfo, hub: Hub): unknown;
  /**
   * A peer set its presence state (the hub's `presence` setting is on; the state is JSON within
   * `presenceStateBytes`). Return `{ state }` to keep another, `{ refuse: 'why' }` to refuse it,
   * nothing to keep it as sent. A hook that throws refuses it. Of two sets in flight, only the
   * later one's answer counts.
   */
  onPresence?(conn: Connection, state: PresenceState, hub: Hub): Awaitable<PresenceVerdict | undefined | void>;
}
