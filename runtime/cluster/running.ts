/**
 * A cluster process at work on its hub, built once the hub exists (`Cluster.attach`): its
 * loop (renew the lease, flush the records, report presence, every `renewMs`), what a
 * renewal calls for, writing everything again when Redis lost it, and what it hears from
 * the others. Each concern is a part with the hub in hand: the reaper (takeovers), the
 * handover (sessions), the presence report; the lease, the presence heard from others and
 * the pub/sub dispatch came with the connection to Redis.
 */
import type { AppData } from '../application/index.ts';
import type { ConnectionId, StoredConnection } from '../host/index.ts';
import type { ClusterContext } from './context.ts';
import type { HubMail, OwnMail } from './dispatch.ts';
import { Handover, type SessionPlace } from './handover.ts';
import { PresenceReport } from './presence-report.ts';
import { pruneStale } from './prune.ts';
import { Reaper } from './reaper.ts';

export class RunningCluster {
  readonly #options: ClusterContext;
  readonly #report: PresenceReport;
  readonly #reaper: Reaper;
  readonly #handover: Handover;
  #loop: ReturnType<typeof setInterval> | undefined;
  #renewing: Promise<void> | undefined;
  /** Redis came back: the next re-registration also removes what this process let go of meanwhile (prune.ts). */
  #prune = false;
  #stopped = false;

  constructor(options: ClusterContext) {
    this.#options = options;
    const { hub, snapshots, dispatch } = options;
    const feed = hub.presence;
    const report = (this.#report = new PresenceReport({ host: hub.host, snapshots, dispatch, ...(feed ? { own: (id) => feed.own(id) } : {}) }));
    if (feed) {
      options.presence.listener = (id, row) =>
        feed.remote(id, row && { peer: row.peer, hidden: row.hidden === true, node: row.node, state: row.presence?.state ?? null, at: row.presence?.at ?? 0 });
    }
    const takeIn = (ids: readonly ConnectionId[]) => this.#arrived(ids);
    this.#reaper = new Reaper({ ...options, report, takeIn });
    this.#handover = new Handover({ ...options, report, reaper: this.#reaper, takeIn });
    snapshots.onNew = () => report.soon();
    hub.host.subscribe((event) => report.hostEvent(event), { frames: false });
  }

  /** Takes the lease, says hello (every process answers with its rows), then renews every `renewMs`. */
  async start(): Promise<void> {
    const { lease, dispatch, renewMs } = this.#options;
    await dispatch.listen({ hub: (from, mail) => this.#hubMail(from, mail), own: (from, mail) => this.#ownMail(from, mail) });
    await this.#renew();
    lease.register();
    // Whatever this node's records say it holds, written whole (a restart under the same name).
    await this.#reRegister();
    await dispatch.toHub({ type: 'hello' });
    this.#loop = setInterval(() => void this.#round(), renewMs);
    (this.#loop as { unref?: () => void }).unref?.();
  }

  claim(hash: string): Promise<SessionPlace> {
    return this.#handover.claim(hash);
  }

  /** Presence for peers: a connection here set its state; the others hear it within 50 ms. */
  presenceChanged(id: ConnectionId): void {
    this.#report.arrived(id);
    this.#report.soon();
  }

  /** Stops renewing. A process that keeps its connections lets its lease lapse now, so a survivor takes them at once. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const { hub, lease, snapshots, dispatch, link } = this.#options;
    clearInterval(this.#loop);
    this.#report.stop();
    this.#reaper.stop();
    lease.stop();
    const keeping = hub.host.size > 0;
    try {
      await snapshots.flush();
      await lease.leave(keeping);
      if (!keeping) await dispatch.toHub({ type: 'bye' });
    } catch {
      // Redis is away: the lease runs out by itself.
    }
    await link.close();
  }

  /** Redis answers again after a cut: write everything again, and ask the others for their rows (Redis may have restarted empty). */
  redisBack(): void {
    if (this.#stopped) return;
    const { hub, lease, dispatch, link, log } = this.#options;
    const since = lease.cameBack();
    this.#prune = true;
    if (since !== undefined) {
      const { address, failedOverAt } = link.server();
      const moved = failedOverAt !== undefined && failedOverAt >= since ? ` on a new primary, ${address}` : '';
      log(`redis back after ${Date.now() - since} ms${moved}: writing again the ${hub.host.size} connection(s) this process holds`);
    }
    void this.#renew().then(() => dispatch.toHub({ type: 'hello' }));
  }

  async #round(): Promise<void> {
    if (this.#stopped) return;
    await this.#renew();
    await this.#report.send(false);
    // What a nudge missed (sent to a holder that had just handed the connection on) or a full window left waiting.
    await this.drain(this.#options.hub.delivery.held()).catch(() => {});
    if (this.#settling.size > 0) await this.#settle();
  }

  /** Takes into their windows what other processes left in these connections' inboxes; the ones whose window refused some. */
  drain(ids: readonly ConnectionId[]): Promise<Set<ConnectionId>> {
    const { hub, deliveries } = this.#options;
    const here = ids.filter((id) => hub.host.has(id) && hub.delivery.speaks(id));
    return deliveries.drain(here, this.#take);
  }

  /** A message from a connection's inbox into its window: false when it is not held here or its window is full (it waits). */
  readonly #take = (id: ConnectionId, data: AppData): boolean => {
    const { hub } = this.#options;
    return hub.host.has(id) && hub.delivery.link(id)?.send(data) === true;
  };

  /** Connections that became this process's (a takeover, a handover) and have not yet taken what others sent before. */
  readonly #settling = new Set<ConnectionId>();
  /** This process's own sends into inboxes while settling, counted: a drain that saw none come meanwhile took them all. */
  #pushed = 0;

  /**
   * Connections that just became this process's, in the turn they did. Until their inboxes
   * are taken (what others sent before, in order), this process's own sends to them go into
   * the same inboxes, behind those, instead of overtaking them into the window.
   */
  #arrived(ids: readonly ConnectionId[]): void {
    const { hub, deliveries, log } = this.#options;
    for (const id of ids) {
      if (!hub.delivery.speaks(id)) continue;
      this.#settling.add(id);
      hub.delivery.divert(id, (data) => {
        this.#pushed++;
        void deliveries.push(id, data).catch((error: unknown) => log(`a send to connection ${id} did not reach its inbox: ${String(error)}`));
        return true;
      });
    }
    void this.#settle();
  }

  /** Drains the settling connections until a drain saw none of this process's sends arrive meanwhile and left nothing waiting; the rest wait for the next round. */
  async #settle(): Promise<void> {
    const { hub } = this.#options;
    for (let round = 0; round < 20 && this.#settling.size > 0; round++) {
      const mark = this.#pushed;
      const ids = [...this.#settling];
      let waiting: Set<ConnectionId>;
      try {
        waiting = await this.drain(ids);
      } catch {
        return;
      }
      for (const id of ids) {
        if (!hub.host.has(id)) {
          this.#settling.delete(id);
          hub.delivery.undivert(id);
        } else if (this.#pushed === mark && !waiting.has(id)) {
          this.#settling.delete(id);
          hub.delivery.undivert(id);
        }
      }
      if (this.#pushed === mark) return;
    }
  }


  #renew(): Promise<void> {
    this.#renewing ??= this.#renewOnce().finally(() => (this.#renewing = undefined));
    return this.#renewing;
  }

  async #renewOnce(): Promise<void> {
    const { lease, presence } = this.#options;
    const renewal = await lease.renew();
    if (!renewal) return;
    if (renewal.reaped.length > 0) this.#reaper.letGo(renewal.reaped);
    if (renewal.forgotten) lease.markLost();
    if (lease.lost) await this.#reRegister();
    lease.saw(renewal.others, renewal.at);
    for (const [node, expiresAt] of renewal.others) this.#reaper.arm(node, expiresAt);
    // Rows of a node that has had no lease for a lease's time, while this process could see: it is gone.
    if (lease.judging(renewal.at)) {
      for (const node of presence.nodes()) if (!lease.knows(node)) presence.move(node, null);
    }
  }

  /** Writes again everything this process holds: after Redis lost it, and at start. */
  async #reRegister(): Promise<void> {
    const { hub, link, prefix, node, lease, snapshots, events, deliveries, stats, log } = this.#options;
    lease.clearLost();
    try {
      const records: StoredConnection[] = [];
      for (const id of [...hub.host.ids()]) {
        const record = hub.host.snapshot(id);
        if (record) records.push(record);
      }
      const owed = hub.application.outbox.owed();
      await snapshots.writeAll(records);
      await events.writeAll(owed);
      for (const id of this.#options.hub.delivery.held()) {
        const counters = hub.delivery.counters(id);
        if (counters) deliveries.rewrite(id, counters, hub.delivery.unacknowledged(id));
      }
      await deliveries.flush();
      if (this.#prune) {
        const pruned = await pruneStale(link, prefix, node, new Set(hub.host.ids()), new Set(hub.application.outbox.owed().map((record) => record.event.id)));
        this.#prune = false;
        if (pruned > 0) log(`removed ${pruned} record(s) and event(s) Redis still held of what this process let go of while it was away`);
      }
      if (lease.registered) stats.reregistered++;
      await this.#report.send(true);
    } catch {
      lease.markLost();
    }
  }

  #hubMail(from: string, mail: HubMail): void {
    const { hub, node, lease, presence } = this.#options;
    lease.heard(from, mail.type === 'bye');
    switch (mail.type) {
      case 'rows':
        presence.apply(from, mail.up, mail.down, mail.full);
        return;
      case 'hello':
        void this.#report.send(true);
        return;
      case 'bye':
        presence.move(from, null);
        return;
      case 'took-over':
        presence.move(mail.dead, mail.dead === node ? null : from);
        return;
      case 'broadcast':
        // Delivery-mode connections take theirs from their inboxes ('inbox').
        hub.application.broadcastHere(mail.data, new Set(mail.except), true);
        return;
    }
  }

  #ownMail(from: string, mail: OwnMail): void {
    const { hub, dispatch } = this.#options;
    switch (mail.type) {
      case 'send':
        if (hub.host.has(mail.connection)) hub.application.connection(mail.connection)?.send(mail.data);
        return;
      case 'close':
        hub.host.close(mail.connection, { cause: 'application', reason: mail.reason });
        return;
      case 'inbox':
        void this.drain(mail.connections).catch(() => {});
        return;
      case 'handover':
        void this.#handover.release(mail.connection, from).then((answer) => dispatch.toNode(from, { type: 'handover-answer', ask: mail.ask, answer }));
        return;
      case 'handover-answer':
        this.#handover.answered(mail.ask, mail.answer);
        return;
    }
  }
}
