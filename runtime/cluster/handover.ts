/**
 * Sessions across processes. A peer that reattaches through another process presents its
 * secret; that process finds in Redis which process holds the connection and asks it to
 * hand the connection over (its exact record moves in one script). A holder that does not
 * answer is waited for until its lease runs out, and then taken over (reaper.ts).
 */
import { nanoid } from 'nanoid';
import { PEER_META } from '../application/index.ts';
import type { ConnectionId } from '../host/index.ts';
import type { HandoverAnswer } from '../hub/index.ts';
import { SESSION_META } from '../protocol/index.ts';
import type { ClusterContext } from './context.ts';
import { HANDOVER, keys, LOCATE } from './keys.ts';
import type { PresenceReport } from './presence-report.ts';
import type { Reaper } from './reaper.ts';
import { parseRecord } from './stores.ts';

/** Where a session's connection is, as `/connect` needs to know. */
export type SessionPlace = 'here' | 'none' | 'attached' | 'unavailable';

/** How long a process that holds a session may take to hand it over. */
const HANDOVER_TIMEOUT_MS = 300;

export interface HandoverOptions extends ClusterContext {
  readonly report: PresenceReport;
  readonly reaper: Reaper;
  /** Takes what other processes left in these connections' inboxes (delivery mode). */
  readonly drain: (ids: readonly ConnectionId[]) => Promise<number>;
}

export class Handover {
  readonly #options: HandoverOptions;
  /** Handovers this process asked for, by the id of the ask, waiting for their answer. */
  readonly #asked = new Map<string, (answer: HandoverAnswer) => void>();

  constructor(options: HandoverOptions) {
    this.#options = options;
  }

  /**
   * Brings the connection of a presented session here, if another process holds it: that
   * process hands it over; one that does not answer is waited for until its lease runs
   * out, and then its connections are taken over. `here`: now in this host, resume it;
   * `none`: no such session (open a new connection); `attached`: a live socket has it.
   */
  async claim(hash: string): Promise<SessionPlace> {
    const { hub, link, prefix, node: me, leaseMs, renewMs, reaper } = this.#options;
    const deadline = Date.now() + leaseMs + 2 * renewMs;
    for (;;) {
      let found: string[] | null;
      try {
        found = await link.command<string[] | null>(['EVAL', LOCATE, 0, prefix, hash]);
      } catch {
        return 'unavailable';
      }
      if (!found) return 'none';
      const [id, node, lease, now] = found as [ConnectionId, string | undefined, string | undefined, string | undefined];
      if (hub.host.has(id)) return 'here';
      if (node === undefined || node === me) return 'none';
      if (Date.now() > deadline) return 'unavailable';
      const expiresIn = Number(lease) - Number(now);
      if (expiresIn <= 0) {
        // Its holder's lease ran out: take its connections (or let the survivor taking them finish).
        await reaper.reap(node);
        if (!hub.host.has(id)) await sleep(20);
        continue;
      }
      const answer = await this.#ask(node, id);
      if (answer === 'moved') return (await this.#adopt(id)) ? 'here' : 'none';
      if (answer === 'attached') return 'attached';
      // Silent (dead, or restarting under its name) or just handed on: look again shortly.
      await sleep(answer === undefined ? Math.min(200, expiresIn) : 50);
    }
  }

  /** Another process asks for a connection its peer reattached to: hands it over if it is here and detached. */
  async release(id: ConnectionId, to: string): Promise<HandoverAnswer> {
    const { hub, link, prefix, node, presence, snapshots, deliveries, stats } = this.#options;
    if (!hub.host.has(id)) return 'gone';
    if (hub.sockets.get(id) !== undefined) return 'attached';
    // Its window in Redis as it is here (the next holder replays it), before the record moves.
    if (hub.delivery.speaks(id)) await deliveries.flush().catch(() => {});
    if (!hub.host.has(id) || hub.sockets.get(id) !== undefined) return hub.host.has(id) ? 'attached' : 'gone';
    const view = hub.host.view(id);
    const record = hub.host.release(id);
    if (!record || !view) return 'gone';
    // Listed as the new holder's from now on: presence here never misses it in between.
    presence.set(to, { id, peer: view.meta[PEER_META] ?? null, state: view.state, lastSignOfLife: view.lastSignOfLife, codec: view.codec });
    try {
      await link.command(['EVAL', HANDOVER, 0, prefix, node, to, id, JSON.stringify(record)]);
    } catch {
      presence.delete(id);
      hub.host.restore([record]);
      return 'gone';
    }
    hub.application.forget(id);
    hub.delivery.forget(id, false);
    deliveries.forget(id);
    snapshots.forget(id);
    stats.handovers++;
    return 'moved';
  }

  /** The answer to a handover this process asked for. */
  answered(ask: string, answer: HandoverAnswer): void {
    this.#asked.get(ask)?.(answer);
  }

  /** Asks the process holding `id` to hand it over; undefined when it does not answer in time. */
  #ask(node: string, id: ConnectionId): Promise<HandoverAnswer | undefined> {
    const ask = nanoid(12);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#asked.delete(ask);
        resolve(undefined);
      }, HANDOVER_TIMEOUT_MS);
      this.#asked.set(ask, (answer) => {
        clearTimeout(timer);
        this.#asked.delete(ask);
        resolve(answer);
      });
      void this.#options.dispatch.toNode(node, { type: 'handover', connection: id, ask });
    });
  }

  /** Takes in a connection just handed over to this process. */
  async #adopt(id: ConnectionId): Promise<boolean> {
    const { hub, link, prefix, node, presence, snapshots, deliveries, report, drain } = this.#options;
    const json = await link.command<string | null>(['HGET', keys.conns(prefix, node), id]).catch(() => null);
    const record = json === null ? undefined : parseRecord(json);
    if (!record) return false;
    // Its window, as the process that handed it over wrote it (a flush before the handover).
    await deliveries.fetch([id]).catch(() => {});
    snapshots.adopt([record]);
    presence.delete(id);
    hub.host.restore([record]);
    const hash = record.meta?.[SESSION_META];
    if (hash !== undefined && hub.host.has(id)) hub.gate.sessions.add(hash, id);
    report.arrived(id);
    report.soon();
    if (hub.host.has(id)) void drain([id]).catch(() => 0);
    return hub.host.has(id);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
