/**
 * Presence for peers on the text dialect (docs/protocol.md, "Presence"): what the hub tells
 * a subscribed connection of who is online, and how a peer sets its own state. Shared by the
 * hub (runtime/presence/) and the client (runtime/client/presence.ts), so it imports nothing.
 *
 *   server -> client   keepalive:PRESENCE {"sync":[entry...],"you":"<connection>"}   on every attach
 *                      keepalive:PRESENCE {"join":[entry...],"update":[entry...],"leave":[key...]}
 *                      keepalive:PRESENCE {"off":"<why>"}       presence is on, but not for this connection
 *                      keepalive:PRESENCE {"refused":"<why>"}   a PRESENCE-SET was not taken
 *   client -> server   keepalive:PRESENCE-SET <json>
 *
 * They are control frames in both plain and delivery mode: never sequenced or acknowledged,
 * because every attach (a resume too) starts with a whole `sync`.
 */

/** A peer's own presence state: any JSON value (null: none set). */
export type PresenceState = null | boolean | number | string | readonly PresenceState[] | { readonly [key: string]: PresenceState };

/** One connection of a peer, as subscribers see it: set by the hub, never by the peer. */
export interface PresenceConnection {
  readonly id: string;
  /** The process that holds it, in a clustered hub. */
  readonly node?: string;
  /** The Durable Object that holds it, in a sharded hub. */
  readonly shard?: number;
}

/** One entry of a presence list: a peer with all its connections, or (`peer: null`) one connection without an identity. */
export interface PresencePeer {
  readonly peer: string | null;
  /** The state its connections last set (the most recent set of any of them), or null. */
  readonly state: PresenceState;
  /** Sorted by id; never empty. */
  readonly connections: readonly PresenceConnection[];
}

/** What names an entry in a `leave`: the peer, or for a connection without an identity, its id. */
export type PresenceKey = { readonly peer: string } | { readonly peer: null; readonly id: string };

/** A `keepalive:PRESENCE` frame's JSON. */
export interface PresenceFrame {
  sync?: PresencePeer[];
  you?: string;
  join?: PresencePeer[];
  update?: PresencePeer[];
  leave?: PresenceKey[];
  off?: string;
  refused?: string;
}

export const PRESENCE_FRAME = 'keepalive:PRESENCE ';
export const PRESENCE_SET_FRAME = 'keepalive:PRESENCE-SET ';
/** The `/connect` query parameter a client subscribes with (`?presence=1`). */
export const PRESENCE_PARAM = 'presence';
/** Default bound on a peer's state: its JSON in UTF-8 bytes. */
export const PRESENCE_STATE_BYTES = 1024;
/** At most one presence frame per connection per this many ms (a sync on attach aside). */
export const PRESENCE_COALESCE_MS = 50;

/** Whether a text frame is one of presence's (either direction). */
export function isPresenceFrame(frame: unknown): frame is string {
  return typeof frame === 'string' && frame.startsWith('keepalive:PRESENCE');
}

/** The key an entry is known by: its peer, or its only connection. */
export function keyOf(entry: PresencePeer): PresenceKey {
  return entry.peer !== null ? { peer: entry.peer } : { peer: null, id: entry.connections[0]!.id };
}
