/**
 * This process's lease in the hub, and what it knows of Redis's health and of the other
 * processes' leases. A lease is renewed every `renewMs` and lasts `leaseMs` on Redis's clock
 * (the scripts read `TIME`), so no process's clock decides whose lease ran out.
 *
 * A process may declare another gone only while it is `judging`: it has seen Redis without
 * a gap for a whole lease. A Redis freeze or this process's own stall (nobody could renew)
 * therefore never makes it take over a live process.
 */
import type { ConnectionId } from '../host/index.ts';
import { keys, pairs, RENEW, script } from './keys.ts';
import type { RedisLink, RedisServer } from './link.ts';
import type { ClusterStats } from './stats.ts';

export interface ClusterStatus {
  node: string;
  redis: 'up' | 'down';
  /** ms since the epoch Redis went away, while it is. */
  downSince?: number;
  /** Processes of the hub this one knows to be live (itself included). */
  nodes: number;
  /** How Redis is deployed: one server, a Redis Cluster, or a primary under Sentinel. */
  topology: RedisServer['topology'];
  /** `host:port` of the primary this process uses for the hub (on a cluster: the one serving its slot). */
  redisAt: string;
  /** Times that primary changed under this process (a replica took over). */
  failovers: number;
  /** ms since the epoch of the last such change. */
  failedOverAt?: number;
}

/** What a renewal found. */
export interface Renewal {
  /** When Redis answered, on this process's clock. */
  readonly at: number;
  /** Ids a survivor took from this process since the last renewal (it could not renew in time). */
  readonly reaped: readonly ConnectionId[];
  /** Redis had no lease of this registered process and nobody took from it: Redis lost what it wrote. */
  readonly forgotten: boolean;
  /** Every other process with a lease, and when that lease runs out on this process's clock. */
  readonly others: readonly (readonly [node: string, expiresAt: number])[];
}

export interface LeaseOptions {
  link: RedisLink;
  prefix: string;
  node: string;
  leaseMs: number;
  renewMs: number;
  stats: ClusterStats;
  log: (line: string) => void;
}

export class Lease {
  readonly #options: LeaseOptions;
  /** Nodes with a lease at the last renewal (or heard from since), and when each was last seen. */
  readonly #seen = new Map<string, number>();
  #downSince: number | undefined;
  #lastRenewal: number | undefined;
  #healthySince = Infinity;
  /** Redis's clock minus ours, at the last renewal. */
  #offset = 0;
  /** Redis lacks some of what this process holds: write it all again. */
  #lost = false;
  #registered = false;
  #stopped = false;

  constructor(options: LeaseOptions) {
    this.#options = options;
  }

  status(): ClusterStatus {
    const { topology, address, failovers, failedOverAt } = this.#options.link.server();
    return {
      node: this.#options.node,
      redis: this.#downSince === undefined ? 'up' : 'down',
      ...(this.#downSince === undefined ? {} : { downSince: this.#downSince }),
      nodes: this.#seen.size + 1,
      topology,
      redisAt: address,
      failovers,
      ...(failedOverAt === undefined ? {} : { failedOverAt }),
    };
  }

  /** Renews the lease; undefined when Redis did not answer. */
  async renew(): Promise<Renewal | undefined> {
    const { link, prefix, node, leaseMs, renewMs, stats } = this.#options;
    let reply: [string, string[], string, string[]];
    const sent = performance.now();
    try {
      reply = await link.command(script(RENEW, prefix, node, leaseMs));
      stats.renewRoundTripMs = performance.now() - sent;
    } catch {
      this.#healthySince = Infinity;
      return undefined;
    }
    const at = Date.now();
    // A gap in renewals (Redis stopped, this process stalled) means no one could renew: wait a lease before judging anyone.
    if (this.#lastRenewal === undefined || at - this.#lastRenewal > 2 * renewMs || this.#healthySince === Infinity) this.#healthySince = at;
    this.#lastRenewal = at;
    link.answered();
    const [now, reaped, had, nodes] = reply;
    this.#offset = Number(now) - at;
    const others: [string, number][] = [];
    for (const [other, expiry] of pairs(nodes)) if (other !== node) others.push([other, this.toLocal(Number(expiry))]);
    return { at, reaped, forgotten: had === '0' && this.#registered && reaped.length === 0, others };
  }

  /** The others' leases at a renewal: those are live; one not seen for a lease's time is forgotten. */
  saw(others: Renewal['others'], at: number): void {
    for (const [node] of others) this.#seen.set(node, at);
    const live = new Set(others.map(([node]) => node));
    for (const [node, seen] of this.#seen) if (!live.has(node) && at - seen > this.#options.leaseMs) this.#seen.delete(node);
  }

  /** Another process spoke on the hub's channel; `leaving`: it said goodbye. */
  heard(node: string, leaving: boolean): void {
    if (leaving) this.#seen.delete(node);
    else this.#seen.set(node, Date.now());
  }

  /** Whether `node` had a lease or spoke within the last lease. */
  knows(node: string): boolean {
    return this.#seen.has(node);
  }

  /** Whether this process has seen Redis without a gap for a whole lease: only then may it declare another process gone. */
  judging(at = Date.now()): boolean {
    return this.#downSince === undefined && at - this.#healthySince >= this.#options.leaseMs;
  }

  /** A time on Redis's clock (a lease's expiry), on this process's. */
  toLocal(redisMs: number): number {
    return redisMs - this.#offset;
  }

  get lost(): boolean {
    return this.#lost;
  }

  markLost(): void {
    this.#lost = true;
  }

  clearLost(): void {
    this.#lost = false;
  }

  /** This process wrote all it holds under its first lease: from now on a lease Redis lacks was lost. */
  get registered(): boolean {
    return this.#registered;
  }

  register(): void {
    this.#registered = true;
  }

  wentDown(error: string): void {
    if (this.#stopped || this.#downSince !== undefined) return;
    this.#downSince = Date.now();
    this.#healthySince = Infinity;
    this.#options.log(`redis unreachable (${error}): serving this process's peers; presence of the others as last heard`);
  }

  /** Redis answers again: what it holds of this process may be gone. Returns since when it was away, if it was known to be. */
  cameBack(): number | undefined {
    const since = this.#downSince;
    this.#downSince = undefined;
    this.#lost = true;
    return since;
  }

  /** Gives the lease up: `keeping` connections, it lapses now (a survivor takes them at once); else it goes. Rejects while Redis is away. */
  async leave(keeping: boolean): Promise<void> {
    const { link, prefix, node } = this.#options;
    await link.command(keeping ? ['ZADD', keys.nodes(prefix), 0, node] : ['ZREM', keys.nodes(prefix), node]);
  }

  /** No more renewals: what Redis does from now on is not news. */
  stop(): void {
    this.#stopped = true;
  }
}
