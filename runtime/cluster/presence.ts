/**
 * What this process knows of the connections other processes hold: rows they publish
 * (a connection opened, changed state, ended) and whole lists (after a process starts or
 * Redis came back). Presence is answered from here, so a slow or dead process never
 * makes anyone wait; a dead process's rows stay until a survivor says it took them.
 */
import type { PresenceEntry } from '../application/index.ts';
import type { ConnectionId } from '../host/index.ts';
import type { PresenceRow } from '../hub/index.ts';

interface Row {
  node: string;
  peer: string | null;
  state: string;
  lastSignOfLife: number;
  codec: string;
  hidden?: boolean;
  presence?: PresenceRow['presence'];
}

/** Told of every row that changed: its connection, and the row (undefined: gone from the others). */
export type RowListener = (id: ConnectionId, row: Readonly<Row> | undefined) => void;

export class RemotePresence {
  readonly #rows = new Map<ConnectionId, Row>();
  /** Presence for peers, when the hub has it on. */
  listener: RowListener | undefined;

  get size(): number {
    return this.#rows.size;
  }

  /** A node's rows: changed ones, ended ones, or (`full`) all it holds. */
  apply(node: string, up: readonly PresenceRow[], down: readonly ConnectionId[], full: boolean): void {
    if (full) {
      const listed = new Set(up.map((row) => row.id));
      for (const [id, row] of this.#rows) if (row.node === node && !listed.has(id)) this.delete(id);
    }
    for (const row of up) this.set(node, row);
    // Only the holder's word ends a row: a node that handed a connection on does not.
    for (const id of down) if (this.#rows.get(id)?.node === node) this.delete(id);
  }

  /** One connection held by `node` (as it reported, or a handover this process just made). */
  set(node: string, { id, peer, state, lastSignOfLife, codec, hidden, presence }: PresenceRow): void {
    const row: Row = { node, peer, state, lastSignOfLife, codec, ...(hidden ? { hidden } : {}), ...(presence ? { presence } : {}) };
    this.#rows.set(id, row);
    this.listener?.(id, row);
  }

  delete(id: ConnectionId): void {
    if (this.#rows.delete(id)) this.listener?.(id, undefined);
  }

  /** Rows of `from` now held by `to` (a survivor took them; `to` may be this process: then they go). */
  move(from: string, to: string | null): void {
    for (const [id, row] of this.#rows) {
      if (row.node !== from) continue;
      if (to === null) this.delete(id);
      else {
        row.node = to;
        this.listener?.(id, row);
      }
    }
  }

  nodes(): Set<string> {
    return new Set([...this.#rows.values()].map((row) => row.node));
  }

  holder(id: ConnectionId): { node: string; peer: string | null; codec: string } | undefined {
    const row = this.#rows.get(id);
    return row && { node: row.node, peer: row.peer, codec: row.codec };
  }

  list(): PresenceEntry[] {
    const out: PresenceEntry[] = [];
    for (const [connection, row] of this.#rows) {
      out.push({ peer: row.peer, connection, state: row.state, lastSignOfLife: row.lastSignOfLife, node: row.node });
    }
    return out;
  }
}
