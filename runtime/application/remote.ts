/**
 * The rest of a hub spread out, as the application layer sees it: the connections other
 * processes (runtime/cluster/) or Durable Object shards hold, as far as this part knows
 * them (never asked for at call time), and how to reach them. A hub in one piece has none.
 */
import type { ConnectionId } from '../host/index.ts';
import type { AppData, PresenceEntry } from './types.ts';

/** Where one part of a hub is: a process of a clustered hub, or a Durable Object of a sharded one. */
export type HubPlace = { readonly node: string } | { readonly shard: number };

export interface RemoteHub {
  /** This part's place in the hub: each of its presence and `/actors` rows names it. */
  readonly here: HubPlace;
  /** Every live connection the other parts hold that this one knows of, each row naming its place. */
  rows(): PresenceEntry[];
  /** A connection another part holds, as last heard: its peer (null where unknown). */
  holder(id: ConnectionId): { peer: string | null } | undefined;
  /** To every other part's WebSocket text connections, but `except`. */
  broadcast(data: AppData, except: readonly ConnectionId[]): void;
  /** To one connection another part holds; false when none does. */
  send(id: ConnectionId, data: AppData): boolean;
  close(id: ConnectionId, reason: string): boolean;
}
