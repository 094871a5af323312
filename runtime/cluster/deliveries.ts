/**
 * Delivery mode across a clustered hub: each connection's window in Redis (delivery-scripts.ts
 * has the keys), so the process that holds it next (a handover, or a takeover after a
 * SIGKILL) replays exactly what its peer had not acknowledged; and sends and broadcasts from
 * other processes go through the connection's inbox in Redis, not pub/sub, so a holder that
 * dies before it took them leaves them to the next.
 *
 * Writes wait for the end of the turn and go as one script (APPLY) for every connection
 * this process holds, in order; a link writes a message to its socket only once its turn's
 * script answered (runtime/delivery/link.ts), so a peer never saw a sequence number that
 * Redis does not have. A send is durable by the next batch write (docs/delivery.md).
 * A failed write marks the process lost: everything it holds is written again when Redis
 * answers (`rewrite`), as its records are.
 */
import type { AppData } from '../application/index.ts';
import { fromBase64, toBase64 } from '../codec/index.ts';
import { byteLength, type DeliveryStore, type LinkCounters, type LinkPersistence, type StoredWindow, type WindowEntry } from '../delivery/index.ts';
import type { ConnectionId } from '../host/index.ts';
import { APPLY, BROADCAST, DRAIN, LOAD, SEND } from './delivery-scripts.ts';
import { keys, pairs } from './keys.ts';
import type { RedisLink } from './link.ts';

interface Place {
  link: RedisLink;
  prefix: string;
  node: string;
  /** A write failed: what this process holds must be written again when Redis is back. */
  lost: () => void;
}

/** What a holder does with a message taken from a connection's inbox: false when its window is full (it waits). */
export type Take = (id: ConnectionId, data: AppData) => boolean;

export class ClusterDeliveries implements DeliveryStore {
  readonly #place: Place;
  /** Windows read from Redis, each handed to its connection's link once. */
  readonly #loaded = new Map<ConnectionId, StoredWindow>();
  /** The sequence numbers in each window in Redis (an acknowledgement deletes them by name). */
  readonly #seqs = new Map<ConnectionId, Set<number>>();
  #ops: string[] = [];
  /** Counters written this turn, the last of each connection (a batch writes each once). */
  readonly #counterOps = new Map<ConnectionId, string>();
  #turn: Promise<void> | null = null;
  #writing: Promise<void> = Promise.resolve();
  #draining: Promise<unknown> = Promise.resolve();
  /** Batches written, for tests and the bench. */
  batches = 0;

  constructor(place: Place) {
    this.#place = place;
  }

  // ---- DeliveryStore ----

  load(id: ConnectionId): StoredWindow | undefined {
    const loaded = this.#loaded.get(id);
    this.#loaded.delete(id);
    return loaded;
  }

  persistence(id: ConnectionId): LinkPersistence {
    this.#seqs.set(id, this.#seqs.get(id) ?? new Set());
    this.#queue('H', id);
    return {
      append: (entry, counters) => {
        this.#write(id, entry);
        return this.#counters(id, counters);
      },
      release: (upTo, counters) => {
        const seqs = this.#seqs.get(id);
        for (const seq of seqs ?? []) {
          if (seq > upTo) continue;
          seqs!.delete(seq);
          this.#queue('D', id, String(seq));
        }
        void this.#counters(id, counters);
      },
      received: (counters) => void this.#counters(id, counters),
      renumbered: (entries, counters) => {
        this.#seqs.get(id)?.clear();
        this.#queue('E', id);
        for (const entry of entries) this.#write(id, entry);
        void this.#counters(id, counters);
      },
    };
  }

  delete(id: ConnectionId): void {
    this.#seqs.delete(id);
    this.#loaded.delete(id);
    this.#counterOps.delete(id);
    this.#queue('X', id);
  }

  /** A restart under this node's name: the windows of the connections its records hold. */
  async preload(): Promise<void> {
    const { link, prefix, node } = this.#place;
    const ids = (await link.command<string[]>(['HKEYS', keys.conns(prefix, node)])) ?? [];
    await this.fetch(ids);
  }

  async flush(): Promise<void> {
    if (this.#ops.length > 0 || this.#counterOps.size > 0) await this.#commit();
    await this.#writing;
  }

  // ---- the cluster's own ----

  /** Reads the windows of connections about to be taken in here (a takeover, a handover, a restart), for their links. */
  async fetch(ids: readonly ConnectionId[]): Promise<void> {
    if (ids.length === 0) return;
    const { link, prefix } = this.#place;
    const reply = (await link.command<unknown[]>(['EVAL', LOAD, 1, keys.nodes(prefix), prefix, ...ids])) ?? [];
    for (let i = 0; i + 2 < reply.length; i += 3) {
      const id = String(reply[i]);
      const counters = JSON.parse(String(reply[i + 1])) as LinkCounters;
      const entries: WindowEntry[] = pairs(reply[i + 2])
        .map(([seq, value]) => ({ seq: Number(seq), data: decode(value) }))
        .filter((entry) => entry.seq > counters.floor && entry.seq < counters.next)
        .sort((a, b) => a.seq - b.seq)
        .map((entry) => ({ ...entry, bytes: byteLength(entry.data) }));
      this.#loaded.set(id, { counters, entries });
      this.#seqs.set(id, new Set(entries.map((entry) => entry.seq)));
    }
  }

  /** Whether `id`'s window was read from Redis and waits for its link. */
  fetched(id: ConnectionId): boolean {
    return this.#loaded.has(id);
  }

  /**
   * Takes what other processes sent to `ids` (their inboxes, and what a previous holder took
   * and never wrote), in order, through `take`; what a full window refuses waits for the next
   * drain. One drain at a time, each after the previous one's writes: a message is never
   * taken twice.
   */
  drain(ids: readonly ConnectionId[], take: Take): Promise<number> {
    const run = this.#draining.then(async () => {
      if (ids.length === 0) return 0;
      await this.flush();
      const { link, prefix } = this.#place;
      const reply = (await link.command<unknown[]>(['EVAL', DRAIN, 1, keys.nodes(prefix), prefix, ...ids])) ?? [];
      let taken = 0;
      for (let i = 0; i + 1 < reply.length; i += 2) {
        const id = String(reply[i]);
        const messages = (reply[i + 1] as unknown[]).map(String);
        let n = 0;
        while (n < messages.length && take(id, decode(messages[n]!))) n++;
        if (n > 0) this.#queue('T', id, String(n));
        taken += n;
      }
      return taken;
    });
    this.#draining = run.catch(() => 0);
    return run;
  }

  /** A send to a connection another node holds: into its inbox if it speaks delivery mode. Its holder, or undefined (it does not). */
  async send(id: ConnectionId, data: AppData): Promise<string | undefined> {
    const { link, prefix } = this.#place;
    const node = await link.command<string | null>(['EVAL', SEND, 1, keys.nodes(prefix), prefix, id, encode(data)]);
    return node ?? undefined;
  }

  /** A broadcast's part for delivery-mode connections of other nodes: into each inbox. Which node holds which, to nudge. */
  async broadcast(data: AppData, except: readonly ConnectionId[]): Promise<Map<string, ConnectionId[]>> {
    const { link, prefix, node } = this.#place;
    const reply = (await link.command<string[]>(['EVAL', BROADCAST, 1, keys.nodes(prefix), prefix, node, encode(data), ...except])) ?? [];
    const byNode = new Map<string, ConnectionId[]>();
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const list = byNode.get(reply[i]!) ?? byNode.set(reply[i]!, []).get(reply[i]!)!;
      list.push(reply[i + 1]!);
    }
    return byNode;
  }

  /** Writes a link's whole state again (Redis lost it), as `renumbered` does. */
  rewrite(id: ConnectionId, counters: LinkCounters, entries: readonly WindowEntry[]): void {
    this.#queue('H', id);
    this.persistence(id).renumbered(entries, counters);
  }

  /** This process no longer holds `id` (handed over, or let go of): nothing more of it is written from here. */
  forget(id: ConnectionId): void {
    this.#seqs.delete(id);
    this.#loaded.delete(id);
  }

  #write(id: ConnectionId, entry: WindowEntry): void {
    this.#seqs.get(id)?.add(entry.seq);
    this.#queue('W', id, String(entry.seq), encode(entry.data));
  }

  #counters(id: ConnectionId, counters: LinkCounters): Promise<void> {
    const turn = this.#queue();
    this.#counterOps.set(id, JSON.stringify(counters));
    return turn;
  }

  /** Queues an op (none: only makes sure this turn's batch is coming) and returns the turn's write. */
  #queue(op?: string, id?: ConnectionId, a = '', b = ''): Promise<void> {
    if (this.#turn === null) {
      this.#turn = new Promise<void>((resolve) => queueMicrotask(() => void this.#commit().then(resolve)));
    }
    if (op !== undefined && id !== undefined) this.#ops.push(op, id, a, b);
    return this.#turn;
  }

  #commit(): Promise<void> {
    this.#turn = null;
    // Counters first: only an X (the connection ended) could follow them, and it dropped its own.
    const ops: string[] = [];
    for (const [id, json] of this.#counterOps) ops.push('C', id, json, '');
    this.#counterOps.clear();
    ops.push(...this.#ops);
    this.#ops = [];
    if (ops.length === 0) return this.#writing;
    const { link, prefix, node, lost } = this.#place;
    // In order, one script per batch: a batch is all or nothing, and batches never overtake.
    this.#writing = this.#writing.then(async () => {
      try {
        await link.command(['EVAL', APPLY, 1, keys.nodes(prefix), prefix, node, ...ops]);
        this.batches++;
      } catch {
        lost();
      }
    });
    return this.#writing;
  }
}

function encode(data: AppData): string {
  return typeof data === 'string' ? `t${data}` : `b${toBase64(data)}`;
}

function decode(value: string): AppData {
  return value.startsWith('b') ? fromBase64(value.slice(1)) : value.slice(1);
}
