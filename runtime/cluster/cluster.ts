/**
 * One hub over many processes (Node or Deno), meeting in Redis. Each process holds its own
 * peers and runs their statecharts as a single process does; Redis carries what the others
 * must know:
 *
 * - a lease per process, renewed every second (lease.ts); a survivor takes over the
 *   connections of a process whose lease ran out (reaper.ts, takeover.ts), so their peers
 *   resume there or are declared dead by the keepalive rule, and what it owed (hooks,
 *   webhooks) is delivered;
 * - each connection's record (stores.ts), so a session resumes on any process: the
 *   process holding it hands it over when its peer reattaches elsewhere (handover.ts);
 * - presence rows and broadcasts on a channel (dispatch.ts, in the hub's mail:
 *   runtime/hub/mail.ts), so every process answers presence from what it already knows
 *   (presence.ts, presence-report.ts) and a broadcast reaches every process's peers.
 *
 * While Redis is away every process keeps judging its own peers; when it is back each
 * writes again all it holds, so a Redis restarted empty is whole within a lease.
 *
 * A cluster comes in two steps, because the hub and the cluster each need the other:
 * `Cluster.connect` reaches Redis and gives what the hub is assembled with (the stores, the
 * other processes as a `RemoteHub`, `/healthz`'s status); `attach` then builds the
 * `RunningCluster`, which holds the hub, and `start`, `claim` and `stop` go to it.
 */
import { nanoid } from 'nanoid';
import type { AppData, PresenceEntry, RemoteHub } from '../application/index.ts';
import { NODE_NAME, NODE_NAME_RULE, redactRedisUrl } from '../config/index.ts';
import type { ConnectionId } from '../host/index.ts';
import type { AttachedHub } from './context.ts';
import { Dispatch } from './dispatch.ts';
import type { SessionPlace } from './handover.ts';
import { hubPrefix, keys } from './keys.ts';
import { Lease, type ClusterStatus } from './lease.ts';
import type { RedisLink } from './link.ts';
import { RemotePresence } from './presence.ts';
import { NodeRedisLink } from './redis.ts';
import { RunningCluster } from './running.ts';
import { countedLink, newStats, type ClusterStats } from './stats.ts';
import { ClusterEvents, ClusterSnapshots } from './stores.ts';
import { ClusterDeliveries } from './deliveries.ts';

export interface ClusterOptions {
  /**
   * Redis 7 or later (or Valkey): one server, `redis://HOST:PORT`; a Redis Cluster by its seed
   * nodes, `redis+cluster://HOST:PORT[,HOST:PORT...]`; or a primary under Sentinel,
   * `redis+sentinel://HOST:PORT[,HOST:PORT...]/MASTER` (`rediss...` for TLS; user and password
   * in the URL). Every process given the same Redis and hub name serves one hub.
   */
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

/** What `start`, `claim` and `stop` do: before `attach`, next to nothing; after it, the running cluster's. */
interface Phase {
  start(): Promise<void>;
  claim(hash: string): Promise<SessionPlace>;
  stop(): Promise<void>;
  redisBack(): void;
}

export class Cluster implements RemoteHub {
  readonly node: string;
  readonly hub: string;
  readonly snapshots: ClusterSnapshots;
  readonly events: ClusterEvents;
  /** Delivery mode's windows and inboxes (deliveries.ts). */
  readonly deliveries: ClusterDeliveries;
  readonly leaseMs: number;
  readonly renewMs: number;
  /** Counts for `/metrics`, logs, tests and the bench. */
  readonly stats: ClusterStats = newStats();
  readonly #link: RedisLink;
  /** The link as this process's own parts use it: their commands are counted. */
  readonly #counted: RedisLink;
  readonly #prefix: string;
  readonly #log: (line: string) => void;
  readonly #lease: Lease;
  readonly #presence = new RemotePresence();
  readonly #dispatch: Dispatch;
  #phase: Phase;
  /** The hub served, once attached. */
  #hub: AttachedHub | undefined;

  private constructor(link: RedisLink, options: ClusterOptions, hub: string, log: (line: string) => void) {
    this.#link = link;
    this.#counted = countedLink(link, this.stats);
    this.node = options.node ?? nanoid(10);
    this.hub = hub;
    this.leaseMs = options.leaseMs ?? 3000;
    this.renewMs = options.renewMs ?? 1000;
    this.#prefix = hubPrefix(hub);
    this.#log = log;
    const common = { link: this.#counted, prefix: this.#prefix, node: this.node, log };
    this.#lease = new Lease({ ...common, leaseMs: this.leaseMs, renewMs: this.renewMs, stats: this.stats });
    this.#dispatch = new Dispatch(common);
    const place = { link, prefix: this.#prefix, node: this.node, lost: () => this.#lease.markLost() };
    this.snapshots = new ClusterSnapshots(place);
    this.events = new ClusterEvents(place);
    this.deliveries = new ClusterDeliveries({ ...place, link: this.#counted });
    this.#phase = {
      start: () => Promise.reject(new Error('a cluster starts once its hub is attached')),
      claim: () => Promise.resolve('unavailable'),
      // No lease was taken yet: there is nothing to give up.
      stop: () => link.close(),
      redisBack: () => void this.#lease.cameBack(),
    };
    link.watch({ down: (error) => this.#lease.wentDown(error), back: () => this.#phase.redisBack() });
  }

  /** Connects to Redis; throws, naming the URL, when it cannot be reached. */
  static async connect(options: ClusterOptions, hub: string, log: (line: string) => void): Promise<Cluster> {
    if (options.node !== undefined && !NODE_NAME.test(options.node)) {
      throw new RangeError(`a node name is ${NODE_NAME_RULE}, got "${options.node}"`);
    }
    return new Cluster(await NodeRedisLink.connect({ url: options.redis, key: keys.nodes(hubPrefix(hub)) }), options, hub, log);
  }

  /** Said in the banner and on `RunningServer.durable`. */
  get where(): string {
    return `Redis ${redactRedisUrl(this.#link.url)}, hub "${this.hub}" as node "${this.node}"`;
  }

  /** Wires the assembled hub in (connections restored from this node's records come after); once. */
  attach(hub: AttachedHub): RunningCluster {
    if (this.#phase instanceof RunningCluster) throw new Error('a cluster serves one hub: it is attached already');
    this.#hub = hub;
    const running = new RunningCluster({
      hub,
      link: this.#counted,
      prefix: this.#prefix,
      node: this.node,
      leaseMs: this.leaseMs,
      renewMs: this.renewMs,
      lease: this.#lease,
      presence: this.#presence,
      dispatch: this.#dispatch,
      snapshots: this.snapshots,
      events: this.events,
      deliveries: this.deliveries,
      stats: this.stats,
      log: this.#log,
    });
    this.#phase = running;
    return running;
  }

  /** Takes the lease, says hello (every process answers with its rows), then renews every `renewMs`. */
  start(): Promise<void> {
    return this.#phase.start();
  }

  /** Presence for peers: a connection of this process set its state (reported to the others soon). */
  presenceChanged(id: ConnectionId): void {
    if (this.#phase instanceof RunningCluster) this.#phase.presenceChanged(id);
  }

  /** See `RunningCluster.claim`: where a presented session's connection is, brought here if another process holds it. */
  claim(hash: string): Promise<SessionPlace> {
    return this.#phase.claim(hash);
  }

  /** Stops renewing. A process that keeps its connections lets its lease lapse now, so a survivor takes them at once. */
  stop(): Promise<void> {
    return this.#phase.stop();
  }

  status(): ClusterStatus {
    return this.#lease.status();
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

  /**
   * Plain connections hear it on the hub's channel (at most once); delivery-mode ones find it
   * in their inboxes in Redis, and their holders are told to take it.
   */
  broadcast(data: AppData, except: readonly ConnectionId[]): void {
    // The application sent it to the delivery-mode connections held here already.
    const here = this.#hub?.delivery.held() ?? [];
    void this.deliveries
      .broadcast(data, [...except, ...here])
      .then((byNode) => {
        for (const [node, connections] of byNode) this.#nudge(node, connections);
      })
      .catch((error: unknown) => this.#log(`a broadcast did not reach the delivery-mode connections of other processes: ${String(error)}`));
    void this.#dispatch.toHub({ type: 'broadcast', data, except: [...except] });
  }

  /** Into the connection's inbox in Redis if it speaks delivery mode (its holder is told); else on its holder's channel. */
  send(id: ConnectionId, data: AppData): boolean {
    const held = this.holder(id);
    if (!held) return false;
    void this.deliveries.send(id, data).then(
      (node) => (node ? this.#nudge(node, [id]) : this.#dispatch.toNode(held.node, { type: 'send', connection: id, data })),
      (error: unknown) => this.#log(`a send to connection ${id} on node ${held.node} failed: ${String(error)}`),
    );
    return true;
  }

  /** Holders to tell that inboxes of theirs hold messages: one letter per holder per turn. */
  readonly #nudges = new Map<string, Set<ConnectionId>>();

  #nudge(node: string, connections: readonly ConnectionId[]): void {
    if (this.#nudges.size === 0) {
      queueMicrotask(() => {
        for (const [holder, ids] of this.#nudges) void this.#dispatch.toNode(holder, { type: 'inbox', connections: [...ids] });
        this.#nudges.clear();
      });
    }
    const ids = this.#nudges.get(node) ?? this.#nudges.set(node, new Set()).get(node)!;
    for (const id of connections) ids.add(id);
  }

  close(id: ConnectionId, reason: string): boolean {
    const held = this.holder(id);
    if (!held) return false;
    void this.#dispatch.toNode(held.node, { type: 'close', connection: id, reason });
    return true;
  }
}
