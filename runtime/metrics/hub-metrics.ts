/**
 * What `GET /metrics` answers for one hub, the same names on every runtime: connections
 * and how they ended, PING round trips, statechart steps, timer wake-ups and their
 * lateness, hooks, webhook delivery and the outbox, and for a clustered hub its Redis side.
 * Counted from the host's lifecycle events (never per frame) and read from counters the
 * host, outbox and cluster keep anyway; a PONG costs one histogram observation.
 * docs/operations.md lists every metric.
 */
import type { Application } from '../application/index.ts';
import type { ConnectionId, Host } from '../host/index.ts';
import { endLabel } from '../protocol/index.ts';
import { Counter, Histogram, Registry, Sampled } from './exposition.ts';

/** What a clustered hub tells its metrics. */
export interface ClusterGauges {
  status(): { redis: 'up' | 'down'; nodes: number; topology: string; redisAt: string; failovers: number; failedOverAt?: number };
  readonly stats: { takeovers: number; taken: number; handovers: number; reregistered: number; commands: number; renewRoundTripMs: number };
}

export class HubMetrics {
  readonly registry = new Registry();
  readonly #opened: Counter;
  readonly #closed: Counter;
  readonly #dead: Counter;
  readonly #unanswered: Histogram;
  readonly #rtt: Histogram;
  readonly #wakeups: Counter;
  readonly #late: Histogram;
  readonly #hooks: Counter;
  readonly #hookErrors: Counter;
  readonly #hookSeconds: Histogram;
  #host: Host | undefined;
  #application: Application | undefined;

  constructor() {
    const r = this.registry;
    r.add(
      new Sampled('keepalive_connections', 'Connections open now, by transport and dialect', 'gauge', () => {
        const counts = new Map<string, { labels: { transport: string; codec: string }; value: number }>();
        const host = this.#host;
        for (const id of host?.ids() ?? []) {
          const meta = host!.meta(id);
          const labels = { transport: meta?.transport ?? 'unknown', codec: host!.codec(id) ?? 'unknown' };
          const k = `${labels.transport}/${labels.codec}`;
          const row = counts.get(k);
          if (row) row.value++;
          else counts.set(k, { labels, value: 1 });
        }
        return [...counts.values()];
      }),
    );
    this.#opened = r.add(new Counter('keepalive_connections_opened_total', 'Peer connections opened'));
    this.#closed = r.add(new Counter('keepalive_connections_closed_total', 'Peer connections ended, by reason (dead, peer_closed, no_advertise, protocol_error, shutdown, application, other)', ['reason']));
    this.#dead = r.add(new Counter('keepalive_peers_dead_total', 'Peers declared dead by the keepalive rule'));
    this.#unanswered = r.add(new Histogram('keepalive_unanswered_pings_at_death', 'Our PINGs a peer left unanswered when it was declared dead', [0, 1, 2, 3, 5, 10]));
    this.#rtt = r.add(new Histogram('keepalive_ping_rtt_seconds', 'From our PING leaving to the peer\'s PONG arriving', [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]));
    r.add(new Sampled('keepalive_statechart_steps_total', 'Statechart steps taken (signs of life are folded: about one per connection per interval)', 'counter', () => this.#host?.stats.steps ?? 0));
    this.#wakeups = r.add(new Counter('keepalive_timer_wakeups_total', 'Times the platform timer woke the host'));
    this.#late = r.add(new Histogram('keepalive_timer_lateness_seconds', 'How long after its deadline the timer fired', [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]));
    this.#hooks = r.add(new Counter('keepalive_hook_calls_total', 'Application hook calls, by hook', ['hook']));
    this.#hookErrors = r.add(new Counter('keepalive_hook_errors_total', 'Application hook calls that threw or rejected, by hook', ['hook']));
    this.#hookSeconds = r.add(new Histogram('keepalive_hook_duration_seconds', 'How long onOpen, onDead and onClose took, by hook (onMessage is not timed)', [0.001, 0.01, 0.1, 1, 10], ['hook']));
    const outbox = () => this.#application?.outbox;
    r.add(new Sampled('keepalive_webhook_deliveries_total', 'Webhook events the receiver accepted', 'counter', () => outbox()?.counts.delivered ?? 0));
    r.add(new Sampled('keepalive_webhook_failures_total', 'Webhook tries that failed (each is retried)', 'counter', () => outbox()?.counts.failed ?? 0));
    r.add(new Sampled('keepalive_outbox_events', 'Events not yet delivered to every hook and the webhook', 'gauge', () => outbox()?.pending ?? 0));
    r.add(
      new Sampled('keepalive_outbox_oldest_age_seconds', 'Age of the oldest event not yet delivered (0: none)', 'gauge', () => {
        // A loop, not Math.min(...): an outbox holding many events would overflow the call stack.
        let oldest = Infinity;
        for (const record of outbox()?.owed() ?? []) if (record.event.at < oldest) oldest = record.event.at;
        return oldest === Infinity ? 0 : Math.max(0, (Date.now() - oldest) / 1000);
      }),
    );
  }

  /** The hub's parts, once assembled. */
  attach(host: Host, application: Application, cluster?: ClusterGauges): void {
    this.#host = host;
    this.#application = application;
    host.subscribe(
      (event) => {
        if (event.type === 'opened') {
          if (event.role === 'server') this.#opened.inc();
        } else if (event.type === 'dead') {
          // A dead peer's connection ends with the verdict (no separate closed event).
          this.#closed.inc({ reason: 'dead' });
          this.#dead.inc();
          this.#unanswered.observe(event.unanswered);
        } else if (event.type === 'closed') {
          this.#closed.inc({ reason: endLabel(event.cause) });
        }
      },
      { frames: false },
    );
    if (cluster) this.#clusterFamilies(cluster);
  }

  /** `HostOptions.onPong`. */
  readonly pong = (_id: ConnectionId, rtt: number): void => this.#rtt.observe(rtt / 1000);

  /** The platform timer fired for a deadline at `at`. */
  woke(at: number, now = Date.now()): void {
    this.#wakeups.inc();
    this.#late.observe(Math.max(0, now - at) / 1000);
  }

  /** A hook ran (`ms`: how long, for the lifecycle hooks). */
  readonly hook = (hook: string, failed: boolean, ms?: number): void => {
    this.#hooks.inc({ hook });
    if (failed) this.#hookErrors.inc({ hook });
    if (ms !== undefined) this.#hookSeconds.observe(ms / 1000, { hook });
  };

  render(): string {
    return this.registry.render();
  }

  #clusterFamilies(cluster: ClusterGauges): void {
    const r = this.registry;
    r.add(new Sampled('keepalive_cluster_redis_up', '1 while this process reaches Redis', 'gauge', () => (cluster.status().redis === 'up' ? 1 : 0)));
    r.add(
      new Sampled('keepalive_cluster_redis_info', 'The Redis this process uses for the hub: its topology (single, cluster, sentinel) and the primary\'s address', 'gauge', () => {
        const { topology, redisAt } = cluster.status();
        return [{ labels: { topology, address: redisAt }, value: 1 }];
      }),
    );
    r.add(new Sampled('keepalive_cluster_redis_failovers_total', 'Times the Redis primary of the hub changed under this process (a replica took over)', 'counter', () => cluster.status().failovers));
    r.add(
      new Sampled('keepalive_cluster_redis_last_failover_timestamp_seconds', 'When this process last found a new Redis primary (absent: never)', 'gauge', () => {
        const at = cluster.status().failedOverAt;
        return at === undefined ? [] : [{ labels: {}, value: at / 1000 }];
      }),
    );
    r.add(new Sampled('keepalive_cluster_nodes', 'Processes of the hub this one knows to be live, itself included', 'gauge', () => cluster.status().nodes));
    r.add(new Sampled('keepalive_cluster_takeovers_total', 'Dead processes whose connections this one took over', 'counter', () => cluster.stats.takeovers));
    r.add(new Sampled('keepalive_cluster_taken_connections_total', 'Connections taken over from dead processes', 'counter', () => cluster.stats.taken));
    r.add(new Sampled('keepalive_cluster_handovers_total', 'Connections handed to another process their peer reattached to', 'counter', () => cluster.stats.handovers));
    r.add(new Sampled('keepalive_cluster_reregistrations_total', 'Times this process wrote everything again after Redis came back or lost it', 'counter', () => cluster.stats.reregistered));
    r.add(new Sampled('keepalive_cluster_lease_renewal_seconds', 'Round trip of the last lease renewal (Redis)', 'gauge', () => cluster.stats.renewRoundTripMs / 1000));
    r.add(new Sampled('keepalive_cluster_redis_commands_total', 'Redis commands this process sent', 'counter', () => cluster.stats.commands));
  }
}
