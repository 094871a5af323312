/**
 * Presence for peers across the shards of a hub (shards.ts): each shard pushes the rows of
 * its connections that opened, ended or set a state to every sibling, as hub mail (`rows`,
 * runtime/hub/mail.ts), and feeds the rows it gets from them into its own presence, so a
 * subscriber on any shard lists the whole hub. A shard keeps its siblings' rows in its
 * storage: hibernation and eviction end the instance, not its subscribers' sockets, which
 * must not hear a join for a peer they already list.
 *
 * Pushed, not asked for: a change wakes each sibling once (its rows gathered per turn), and
 * an idle hub's shards sleep. A push that fails is reported and lost (at most once, as
 * broadcasts between shards are).
 */
import type { ConnectionId, Host } from '../../runtime/host/index.ts';
import { presenceRowOf, type PresenceRow } from '../../runtime/hub/index.ts';
import type { PresenceFeed, PresenceMember } from '../../runtime/presence/index.ts';

const PREFIX = 'pr:';

interface Stored {
  shard: number;
  row: PresenceRow;
}

export interface ShardPresenceOptions {
  host: Host;
  feed: PresenceFeed;
  kv: SyncKvStorage;
  /** Posts rows to every sibling. */
  post: (up: PresenceRow[], down: ConnectionId[]) => void;
}

export class ShardPresence {
  readonly #options: ShardPresenceOptions;
  readonly #up = new Set<ConnectionId>();
  readonly #down = new Set<ConnectionId>();
  #pending = false;

  constructor(options: ShardPresenceOptions) {
    this.#options = options;
    // The siblings' rows as last heard, before the feed first looks (a rebuilt object).
    for (const [, { shard, row }] of options.kv.list<Stored>({ prefix: PREFIX })) options.feed.restore(row.id, member(shard, row));
    options.host.subscribe(
      (event) => {
        if (event.type === 'opened' && event.role === 'server') this.changed(event.id);
        else if (event.type === 'dead' || event.type === 'closed') this.#gone(event.id);
      },
      { frames: false },
    );
  }

  /** A connection here opened or set its state. */
  changed(id: ConnectionId): void {
    this.#up.add(id);
    this.#down.delete(id);
    this.#soon();
  }

  /** Rows from sibling `shard`. */
  receive(shard: number, up: readonly PresenceRow[], down: readonly ConnectionId[]): void {
    const { kv, feed } = this.#options;
    for (const row of up) {
      kv.put(PREFIX + row.id, { shard, row } satisfies Stored);
      feed.remote(row.id, member(shard, row));
    }
    for (const id of down) {
      kv.delete(PREFIX + id);
      feed.remote(id, undefined);
    }
  }

  #gone(id: ConnectionId): void {
    this.#up.delete(id);
    this.#down.add(id);
    this.#soon();
  }

  #soon(): void {
    if (this.#pending) return;
    this.#pending = true;
    // At the end of the turn, inside the event that made the change (a timer may not fire
    // until the object's next event: see hub.ts, presenceTimers).
    queueMicrotask(() => {
      this.#pending = false;
      this.#send();
    });
  }

  #send(): void {
    const { host, feed, post } = this.#options;
    const up: PresenceRow[] = [];
    for (const id of this.#up) {
      const view = host.view(id);
      if (!view) continue;
      up.push(presenceRowOf(id, view, feed.own(id)));
    }
    const down = [...this.#down];
    this.#up.clear();
    this.#down.clear();
    if (up.length + down.length > 0) post(up, down);
  }
}

function member(shard: number, row: PresenceRow): PresenceMember {
  return { peer: row.peer, hidden: row.hidden === true, shard, state: row.presence?.state ?? null, at: row.presence?.at ?? 0 };
}
