/**
 * The presence model: every connection of the hub that subscribers may see (this part's and,
 * in a clustered or sharded hub, the others'), grouped into entries by peer, and the
 * difference between what is true now and what subscribers were last told.
 *
 * Changes mark their entry dirty; `diff()` compares each dirty entry with its published form,
 * so whatever happened in between (a join and a leave, two state changes, a connection moving
 * to another process) reaches subscribers as its net effect: nothing, one update, one join or
 * one leave. That is what makes a resume (same connection, maybe another node) never a leave
 * and a join, and a join or leave exactly once.
 */
import type { PresenceConnection, PresenceKey, PresencePeer, PresenceState } from '../protocol/index.ts';

/** One connection as the model holds it. */
export interface PresenceMember {
  readonly peer: string | null;
  /** Listed to nobody (`authorize` returned `presence: 'hidden'`). */
  readonly hidden: boolean;
  readonly node?: string;
  readonly shard?: number;
  /** Its own state and when it was set (ms; 0: never): the peer shows its most recent one. */
  readonly state: PresenceState;
  readonly at: number;
}

export interface PresenceDiff {
  join: PresencePeer[];
  update: PresencePeer[];
  leave: PresenceKey[];
}

type Key = string;

const keyString = (peer: string | null, id: string): Key => (peer !== null ? `p${peer}` : `c${id}`);

export class PresenceModel {
  readonly #members = new Map<string, PresenceMember>();
  readonly #byKey = new Map<Key, Set<string>>();
  /** What subscribers were last told, by key, with its JSON to compare. */
  readonly #published = new Map<Key, { entry: PresencePeer; json: string }>();
  readonly #dirty = new Set<Key>();

  get size(): number {
    return this.#members.size;
  }

  get dirty(): boolean {
    return this.#dirty.size > 0;
  }

  has(id: string): boolean {
    return this.#members.has(id);
  }

  member(id: string): PresenceMember | undefined {
    return this.#members.get(id);
  }

  ids(): IterableIterator<string> {
    return this.#members.keys();
  }

  /** A connection is here (or changed: another node, a new state). */
  set(id: string, member: PresenceMember): void {
    const before = this.#members.get(id);
    if (before && before.peer !== member.peer) this.delete(id);
    const key = keyString(member.peer, id);
    this.#members.set(id, member);
    let ids = this.#byKey.get(key);
    if (!ids) this.#byKey.set(key, (ids = new Set()));
    ids.add(id);
    this.#dirty.add(key);
  }

  delete(id: string): void {
    const member = this.#members.get(id);
    if (!member) return;
    this.#members.delete(id);
    const key = keyString(member.peer, id);
    const ids = this.#byKey.get(key);
    ids?.delete(id);
    if (ids?.size === 0) this.#byKey.delete(key);
    this.#dirty.add(key);
  }

  /** What subscribers have been told: a new subscriber's `sync`. */
  published(): PresencePeer[] {
    return [...this.#published.values()].map(({ entry }) => entry);
  }

  /** Takes what is true now as told, without a diff (a rebuilt part whose subscribers already know it). */
  baseline(): void {
    for (const key of this.#byKey.keys()) this.#dirty.add(key);
    this.diff();
  }

  /** The net change since the last call, now taken as told. */
  diff(): PresenceDiff {
    const out: PresenceDiff = { join: [], update: [], leave: [] };
    for (const key of this.#dirty) {
      const before = this.#published.get(key);
      const entry = this.#entry(key);
      if (!entry) {
        if (before) {
          this.#published.delete(key);
          const first = before.entry;
          out.leave.push(first.peer !== null ? { peer: first.peer } : { peer: null, id: first.connections[0]!.id });
        }
        continue;
      }
      const json = JSON.stringify(entry);
      if (before?.json === json) continue;
      this.#published.set(key, { entry, json });
      (before ? out.update : out.join).push(entry);
    }
    this.#dirty.clear();
    return out;
  }

  /** The entry of `key` as it is now: its visible connections, the state most recently set. */
  #entry(key: Key): PresencePeer | undefined {
    const ids = this.#byKey.get(key);
    if (!ids) return undefined;
    const connections: PresenceConnection[] = [];
    let latest: PresenceMember | undefined;
    let peer: string | null = null;
    for (const id of [...ids].sort()) {
      const member = this.#members.get(id)!;
      if (member.hidden) continue;
      peer = member.peer;
      connections.push({ id, ...(member.node !== undefined ? { node: member.node } : {}), ...(member.shard !== undefined ? { shard: member.shard } : {}) });
      if (member.at > 0 && (!latest || member.at >= latest.at)) latest = member;
    }
    if (connections.length === 0) return undefined;
    return { peer, state: latest?.state ?? null, connections };
  }
}
