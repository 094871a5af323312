/**
 * Where the states peers set outlive the instance that holds them. A process keeps them in
 * memory (a restart ends its connections' sockets, and each client sets its state again on
 * its next attach); a Durable Object in its storage, since hibernation and eviction end the
 * instance but not the sockets, whose peers have no reason to set it again.
 */
import type { PresenceState } from '../protocol/index.ts';

export interface StoredPresence {
  readonly state: PresenceState;
  /** ms since the epoch when it was set: a peer shows the most recent of its connections'. */
  readonly at: number;
}

export interface PresenceStates {
  load(): Iterable<[string, StoredPresence]>;
  /** undefined: the connection is gone from here. */
  save(id: string, stored: StoredPresence | undefined): void;
}

export class MemoryPresenceStates implements PresenceStates {
  load(): Iterable<[string, StoredPresence]> {
    return [];
  }
  save(): void {}
}
