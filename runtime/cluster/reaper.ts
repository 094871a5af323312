/**
 * Takeovers, both ways. A process whose lease ran out is dead to the hub: one survivor (one
 * script decides which) takes its connections and what it owed, steps them as a timely host
 * would have (takeover.ts), and resumes them, so their peers reattach here or are declared
 * dead by the keepalive rule. And a process that was taken over while it could not renew
 * (it stalled, or Redis was away) lets go of those connections: their peers reattach there.
 */
import type { ConnectionId, StoredConnection } from '../host/index.ts';
import type { EndCause } from '../protocol/index.ts';
import type { ClusterContext } from './context.ts';
import { keys, pairs, script, TAKEOVER } from './keys.ts';
import type { PresenceReport } from './presence-report.ts';
import { parseEvent, parseRecord } from './stores.ts';
import { takenOver } from './takeover.ts';

/** A connection another process took over: its peer reconnects (1012) and resumes there. */
const HELD_ELSEWHERE: EndCause = { cause: 'restart', detail: 'another process holds this connection now' };

export interface ReaperOptions extends ClusterContext {
  readonly report: PresenceReport;
  /** Connections that just became this process's, in the turn they did (delivery mode: their inboxes come first). */
  readonly takeIn: (ids: readonly ConnectionId[]) => void;
}

export class Reaper {
  readonly #options: ReaperOptions;
  readonly #reaping = new Set<string>();
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #stopped = false;

  constructor(options: ReaperOptions) {
    this.#options = options;
  }

  /** A takeover attempt just after `node`'s lease expires (on this process's clock), so a dead process's peers wait no more than that. */
  arm(node: string, expiresAt: number): void {
    const { leaseMs, renewMs } = this.#options;
    const wait = expiresAt - Date.now();
    if (wait > renewMs + leaseMs) return;
    clearTimeout(this.#timers.get(node));
    const timer = setTimeout(
      () => {
        this.#timers.delete(node);
        // A command failing half-way (Redis slow or away) must not end the process: the next round tries again.
        this.reap(node).catch((error: unknown) => this.#options.log(`takeover of node ${node} stopped: ${error instanceof Error ? error.message : String(error)}`));
      },
      Math.max(0, wait) + 20 + Math.floor(Math.random() * 30),
    );
    (timer as { unref?: () => void }).unref?.();
    this.#timers.set(node, timer);
  }

  /** Takes over a process whose lease ran out: its connections, what it owed. One script decides who. */
  async reap(dead: string): Promise<void> {
    const { hub, link, prefix, node, lease, presence, snapshots, deliveries, dispatch, report, stats, log, takeIn } = this.#options;
    if (this.#stopped || this.#reaping.has(dead) || !lease.judging()) return;
    this.#reaping.add(dead);
    try {
      let reply: [string, string, string[], string[]] | null;
      try {
        reply = await link.command(script(TAKEOVER, prefix, dead, node));
      } catch {
        return;
      }
      if (!reply) return;
      const [expiry, now, conns, events] = reply;
      const owed = pairs(events).flatMap(([, json]) => parseEvent(json) ?? []);
      // A connection whose end was recorded is over, even if its record's delete was lost.
      const ended = new Set(owed.filter((record) => record.event.type === 'closed').map((record) => record.event.connection));
      const records: StoredConnection[] = [];
      for (const [id, json] of pairs(conns)) {
        const record = parseRecord(json);
        if (record && !ended.has(id)) records.push(record);
        else void link.command(['HDEL', keys.conns(prefix, node), id]).catch(() => {});
      }
      // Their windows, for their links: what the dead process sent and was not acknowledged.
      await deliveries.fetch(records.map((record) => record.id)).catch(() => {});
      const at = Date.now();
      // Held past the expiry, or past now when Redis was away then (a failover): a live peer gets its moment either way.
      // A verdict already due waits past the dead lease's expiry (or this takeover, if later) for a live peer to reattach.
      const taken = takenOver(records, at, Math.max(lease.toLocal(Number(expiry)), at));
      snapshots.adopt(taken);
      presence.move(dead, null);
      const ids = hub.host.resume(taken, at);
      takeIn(ids);
      hub.gate.sessions.refresh();
      for (const id of ids) report.arrived(id);
      hub.host.tick(at);
      stats.takeovers++;
      stats.taken += ids.length;
      log(`took over ${ids.length} connection(s) and ${owed.length} undelivered event(s) of node ${dead}: its lease ran out ${Number(now) - Number(expiry)} ms ago`);
      await hub.application.outbox.load();
      hub.application.wake();
      await dispatch.toHub({ type: 'took-over', dead });
      await report.send(false);
    } finally {
      this.#reaping.delete(dead);
    }
  }

  /** Another process took these over while this one could not renew (it stalled, or Redis was away): their peers reattach there. */
  letGo(ids: readonly ConnectionId[]): void {
    const { hub, snapshots, deliveries, log } = this.#options;
    let released = 0;
    for (const id of ids) {
      if (!hub.host.has(id)) continue;
      const socket = hub.sockets.detach(id);
      hub.host.release(id);
      hub.application.forget(id);
      hub.delivery.forget(id, false);
      deliveries.forget(id);
      snapshots.forget(id);
      socket?.close(HELD_ELSEWHERE);
      released++;
    }
    if (released > 0) log(`another process took over ${released} connection(s) of this one while it could not renew its lease: their peers reattach there`);
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
  }
}
