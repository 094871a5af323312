/**
 * Where delivery-mode windows outlive the process: each connection's counters and the
 * messages it sent and its peer has not acknowledged. A store promises when a `send` is
 * durable (docs/delivery.md): the SQLite state file and a Durable Object's storage write
 * synchronously, before `send` returns; Deno KV and Redis write in batches, once per turn.
 * `load` is synchronous: an asynchronous store reads every window at start (`preload`).
 */
import type { LinkCounters, LinkPersistence } from './link.ts';
import type { WindowEntry } from './window.ts';

export interface StoredWindow {
  counters: LinkCounters;
  entries: WindowEntry[];
}

export interface DeliveryStore {
  /** Connection `id`'s window as last written, or undefined: nothing was (a fresh history). */
  load(id: string): StoredWindow | undefined;
  /** How connection `id`'s link writes; undefined: nothing to write (memory). */
  persistence(id: string): LinkPersistence | undefined;
  /** Connection `id` ended: its window goes. */
  delete(id: string): void;
  /** An asynchronous store reads every window before the hub restores its connections. */
  preload?(): Promise<void>;
  /** Waits for writes in flight. */
  flush?(): Promise<void>;
  /**
   * After a restart: drops every window but those of `live` (a connection whose end was
   * recorded, or that ended while no process ran, is not restored: its window would stay).
   */
  prune?(live: ReadonlySet<string>): void | Promise<void>;
}

/** Memory: the links hold their windows themselves, for as long as the process lives. */
export class MemoryDeliveryStore implements DeliveryStore {
  load(): undefined {
    return undefined;
  }

  persistence(): undefined {
    return undefined;
  }

  delete(): void {}
}
