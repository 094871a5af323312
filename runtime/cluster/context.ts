/**
 * What each running part of a cluster process (running.ts, reaper.ts, handover.ts) is built
 * with: the hub it serves, which exists before they do, and what came with the connection
 * to Redis (cluster.ts).
 */
import type { Application } from '../application/index.ts';
import type { Host, SocketRegistry } from '../host/index.ts';
import type { ConnectGate, HubDelivery } from '../hub/index.ts';
import type { PresenceFeed } from '../presence/index.ts';
import type { ClusterDeliveries } from './deliveries.ts';
import type { Dispatch } from './dispatch.ts';
import type { Lease } from './lease.ts';
import type { RedisLink } from './link.ts';
import type { RemotePresence } from './presence.ts';
import type { ClusterStats } from './stats.ts';
import type { ClusterEvents, ClusterSnapshots } from './stores.ts';

/** The hub a cluster process serves, as its running parts reach it. */
export interface AttachedHub {
  readonly host: Host;
  readonly application: Application;
  readonly gate: ConnectGate;
  readonly sockets: SocketRegistry;
  readonly delivery: HubDelivery;
  /** Presence for peers, when the hub has it on: fed the others' rows. */
  readonly presence?: PresenceFeed | undefined;
}

export interface ClusterContext {
  readonly hub: AttachedHub;
  /** The link as this process's own parts use it (their commands counted). */
  readonly link: RedisLink;
  /** The hub's key prefix (keys.ts). */
  readonly prefix: string;
  readonly node: string;
  readonly leaseMs: number;
  readonly renewMs: number;
  readonly lease: Lease;
  readonly presence: RemotePresence;
  readonly dispatch: Dispatch;
  readonly snapshots: ClusterSnapshots;
  readonly events: ClusterEvents;
  readonly deliveries: ClusterDeliveries;
  readonly stats: ClusterStats;
  readonly log: (line: string) => void;
}
