/**
 * Where a hub's primary is, for each topology `--redis` may name (runtime/config/redis-url.ts):
 *
 * - one Redis: the address in the URL, always;
 * - a Redis Cluster: the primary serving the hub's slot, as the cluster's nodes say
 *   (redis-cluster.ts); a hub's keys share one hash tag, so the hub lives on that one primary
 *   and its channels are sharded (`SPUBLISH`, `SSUBSCRIBE`) so they stay there too;
 * - Sentinel: the primary the Sentinels name (sentinel.ts).
 *
 * The link (redis.ts) asks again whenever its primary stops answering, and moves when the
 * answer changes: that is a failover.
 */
import type { RedisAddress, RedisTarget, RedisTopology } from '../config/index.ts';
import { clusterPrimary } from './redis-cluster.ts';
import { sentinelPrimary } from './sentinel.ts';

export interface Topology {
  readonly kind: RedisTopology;
  readonly target: RedisTarget;
  /** The primary to use now; rejects when nobody can say (every node or Sentinel away). */
  primary(): Promise<RedisAddress>;
  /** Whether a server must say it is a primary (`ROLE`) before it is used: after a failover the old address may be a replica. */
  readonly checksRole: boolean;
  /** Sharded pub/sub (Redis 7): on a cluster a plain `PUBLISH` goes to every node. */
  readonly sharded: boolean;
}

/** `key`: any key of the hub (they share its hash tag), for the slot on a cluster. */
export function topologyOf(target: RedisTarget, key: string): Topology {
  switch (target.topology) {
    case 'single':
      return { kind: 'single', target, primary: () => Promise.resolve(target.address), checksRole: false, sharded: false };
    case 'cluster':
      return { kind: 'cluster', target, primary: clusterPrimary(target, key), checksRole: true, sharded: true };
    case 'sentinel':
      return { kind: 'sentinel', target, primary: sentinelPrimary(target), checksRole: true, sharded: false };
  }
}
