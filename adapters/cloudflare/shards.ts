/**
 * A hub spread over `KEEPALIVE_SHARDS` Durable Objects of one class (docs/cloudflare.md,
 * "Sharded hubs"). Each shard is a whole hub for its own connections: its sockets, its one
 * alarm, its snapshots. What makes them one hub:
 *
 * - Where a connection lives is decided before its object is woken, from the request alone:
 *   a session's shard from its secret (a consistent hash, so the shard holding it is found
 *   again), any other new connection's in turn. The shard is in the connection's id, so a
 *   message to it by id needs no lookup.
 * - Presence, broadcasts and sends reach the other shards on demand: a presence read is one
 *   request per shard; broadcasts and sends go to each sibling in order, one request in
 *   flight at a time, batching whatever was made meanwhile. Nothing moves between shards
 *   while nobody asks, so an idle hub's shards wake only for their own peers.
 *
 * Shard 0 is the object a hub of one shard has always been (`idFromName(hub)`), so turning
 * sharding on keeps every connection already there.
 */
import { newConnectionId } from '../../runtime/protocol/index.ts';
import type { AppData, PresenceEntry, RemoteHub } from '../../runtime/application/index.ts';
import type { ConnectionId } from '../../runtime/host/index.ts';
import type { PresenceRow } from '../../runtime/hub/index.ts';
import type { KeepaliveHub } from './hub.ts';
import { encodeMail, type ShardMail } from './shard-mail.ts';

/** Set on every request to a shard: which one it is (the Worker's, and its siblings'). */
export const SHARD_HEADER = 'x-keepalive-shard';
/** The routes shards call on one another: never forwarded by the Worker. */
export const SHARD_ROUTES = { presence: '/presence', mail: '/_shard/mail' } as const;
/**
 * Most shards a hub may have. Presence and each broadcast cost one subrequest per shard, and
 * a Worker on the Free plan may make 50 per request.
 */
export const MAX_SHARDS = 32;

/** The Durable Object name of a hub's shard. `#` is never in a hub name, so the names never meet. */
export function shardName(hub: string, shard: number): string {
  return shard === 0 ? hub : `${hub}#${shard}`;
}

/** A new connection's id on a shard: shard 0's are plain (as a hub of one shard mints them), others end in `.<shard>`. */
export function connectionIdOn(shard: number): ConnectionId {
  return shard === 0 ? newConnectionId() : `${newConnectionId()}.${shard}`;
}

/** The shard a connection id was minted on (0 for plain ids, as every id of an unsharded hub is; -1 for none). */
export function shardOfId(id: ConnectionId): number {
  if (!id.includes('.')) return 0;
  const suffix = /^[^.]+\.([1-9]\d?)$/.exec(id);
  return suffix ? Number(suffix[1]) : -1;
}

/**
 * The shard a session lives on, from its secret: Lamping and Veach's jump consistent hash
 * over the secret's SHA-256. Going from n to n+1 shards moves only 1/(n+1) of sessions.
 */
export async function shardOfSession(secret: string, shards: number): Promise<number> {
  if (shards <= 1) return 0;
  const digest = new DataView(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret)));
  let key = digest.getBigUint64(0);
  let b = -1;
  let j = 0;
  while (j < shards) {
    b = j;
    key = (key * 2862933555777941757n + 1n) & 0xffff_ffff_ffff_ffffn;
    j = Math.floor((b + 1) * (2 ** 31 / (Number(key >> 33n) + 1)));
  }
  return b;
}

/** Hands out shards in turn from a random start, so isolates together spread connections evenly. */
export class ShardTurns {
  #next = -1;
  next(shards: number): number {
    if (this.#next < 0) this.#next = Math.floor(Math.random() * shards);
    return this.#next++ % shards;
  }
}

type Namespace = DurableObjectNamespace<KeepaliveHub>;

/** A request to one shard of a hub, naming the hub and the shard as the Worker does. */
export function shardRequest(url: string | URL, hub: string, shard: number, hubHeader: string, init?: RequestInit): Request {
  const request = new Request(url, init);
  request.headers.set(hubHeader, hub);
  request.headers.set(SHARD_HEADER, String(shard));
  return request;
}

/** Shards 0 to `shards` - 1. */
export function allShards(shards: number): number[] {
  return Array.from({ length: shards }, (_, shard) => shard);
}

/**
 * Asks these shards at once and reads each answer (JSON by default), in the order given.
 * Any shard that does not answer 2xx fails the whole: a hub-wide answer is never partial.
 */
export function askShards<T>(
  shards: readonly number[],
  ask: (shard: number) => Promise<Response>,
  read: (response: Response) => Promise<T> = (response) => response.json() as Promise<T>,
): Promise<T[]> {
  return Promise.all(
    shards.map(async (shard) => {
      const response = await ask(shard);
      if (!response.ok) throw new Error(`shard ${shard} answered ${response.status}: ${await response.text()}`);
      return read(response);
    }),
  );
}

export interface ShardLinksOptions {
  namespace: Namespace;
  /** The hub's name and this object's shard, as the last request said. */
  hub: () => string;
  shard: () => number;
  shards: number;
  hubHeader: string;
  /** A call to another shard failed: the message is lost for that shard's peers (at most once). */
  report: (line: string) => void;
}

/**
 * The other shards of this object's hub, as the application layer reaches them (`RemoteHub`).
 * It keeps no copy of their connections: `rows()` is empty and `presence()` stays this
 * shard's; the hub's is `KeepaliveHub.hubPresence()`, asked for when wanted.
 */
export class ShardLinks implements RemoteHub {
  readonly #options: ShardLinksOptions;
  /** One stub per sibling: its calls arrive in the order made. A stub that threw is broken for good, so it is dropped. */
  readonly #stubs = new Map<number, DurableObjectStub<KeepaliveHub>>();
  /** Per sibling: mail not yet sent, and whether a request to it is in flight. */
  readonly #outbox = new Map<number, { mail: ShardMail[]; sending: boolean }>();

  constructor(options: ShardLinksOptions) {
    this.#options = options;
  }

  get here(): { shard: number } {
    return { shard: this.#options.shard() };
  }

  rows(): PresenceEntry[] {
    return [];
  }

  /** A connection of another shard, known by its id alone: its peer is not known here. */
  holder(id: ConnectionId): { peer: null } | undefined {
    const shard = shardOfId(id);
    return shard >= 0 && shard < this.#options.shards && shard !== this.#options.shard() ? { peer: null } : undefined;
  }

  broadcast(data: AppData, except: readonly ConnectionId[]): void {
    for (let shard = 0; shard < this.#options.shards; shard++) {
      if (shard !== this.#options.shard()) this.#post(shard, { type: 'broadcast', data, except });
    }
  }

  send(id: ConnectionId, data: AppData): boolean {
    if (!this.holder(id)) return false;
    this.#post(shardOfId(id), { type: 'send', connection: id, data });
    return true;
  }

  close(id: ConnectionId, reason: string): boolean {
    if (!this.holder(id)) return false;
    this.#post(shardOfId(id), { type: 'close', connection: id, reason });
    return true;
  }

  /** Presence for peers: rows of this shard's connections, to every sibling (shard-presence.ts). */
  postRows(up: PresenceRow[], down: ConnectionId[]): void {
    for (let shard = 0; shard < this.#options.shards; shard++) {
      if (shard !== this.#options.shard()) this.#post(shard, { type: 'rows', full: false, up, down });
    }
  }

  /** Every shard's presence but this one's (the caller has its own at hand); each row names its shard. */
  async others(): Promise<PresenceEntry[]> {
    const siblings = allShards(this.#options.shards).filter((shard) => shard !== this.#options.shard());
    const lists = await askShards<PresenceEntry[]>(siblings, (shard) => this.#call(shard, SHARD_ROUTES.presence, { method: 'GET' }));
    return lists.flat();
  }

  /**
   * One request in flight per sibling: mail made meanwhile waits and goes in the next
   * request, in order. Alone it leaves at once; under load a shard sends each sibling one
   * request per round trip however many broadcasts its hooks make, which keeps the requests
   * every shard receives (about 1,000 a second per object) from growing with the hub's rate.
   */
  #post(shard: number, mail: ShardMail): void {
    let queue = this.#outbox.get(shard);
    if (!queue) this.#outbox.set(shard, (queue = { mail: [], sending: false }));
    queue.mail.push(mail);
    if (!queue.sending) void this.#drain(shard, queue);
  }

  async #drain(shard: number, queue: { mail: ShardMail[]; sending: boolean }): Promise<void> {
    queue.sending = true;
    while (queue.mail.length > 0) {
      const batch = queue.mail.splice(0);
      try {
        const response = await this.#call(shard, SHARD_ROUTES.mail, { method: 'POST', body: encodeMail(this.#options.shard(), batch), headers: { 'content-type': 'application/json' } });
        if (!response.ok) this.#options.report(`shard ${shard} refused ${batch.length} message(s): ${response.status} ${await response.text()}`);
      } catch (error) {
        this.#options.report(`shard ${shard} unreachable, ${batch.length} message(s) lost: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    queue.sending = false;
  }

  async #call(shard: number, path: string, init: RequestInit): Promise<Response> {
    const { namespace, hub, hubHeader } = this.#options;
    let stub = this.#stubs.get(shard);
    if (!stub) {
      stub = namespace.get(namespace.idFromName(shardName(hub(), shard)));
      this.#stubs.set(shard, stub);
    }
    try {
      return await stub.fetch(shardRequest(`http://shard${path}`, hub(), shard, hubHeader, init));
    } catch (error) {
      this.#stubs.delete(shard);
      throw error;
    }
  }
}
