/**
 * The rest of a clustered hub, as the application layer sees it: the connections other
 * processes hold, as this process last heard of them (never asked for at call time), and
 * how to reach them. A hub that is one process has none.
 */
import type { ConnectionId } from '../store.ts';
import type { AppData, PresenceEntry } from './types.ts';

export interface RemoteHub {
  /** This process's name in the hub. */
  readonly node: string;
  /** Every live connection other processes hold, each row naming its `node`. */
  rows(): PresenceEntry[];
  /** A connection another process holds, as last heard: its node and peer. */
  holder(id: ConnectionId): { node: string; peer: string | null } | undefined;
  /** To every other process's WebSocket text connections, but `except`. */
  broadcast(data: AppData, except: readonly ConnectionId[]): void;
  /** To one connection on another process; false when none holds it. */
  send(id: ConnectionId, data: AppData): boolean;
  close(id: ConnectionId, reason: string): boolean;
}
