/**
 * Presence states in the Durable Object's storage (runtime/presence/states.ts): a rebuilt
 * object (after hibernation or eviction) lists each peer with the state it had set, without
 * the peer setting it again; its socket never knew the object went away. One row per
 * connection that set a state, written when it changes and deleted when the connection ends
 * or moves to another shard.
 */
import type { PresenceStates, StoredPresence } from '../../runtime/presence/index.ts';

const PREFIX = 'ps:';

export class DurableObjectPresenceStates implements PresenceStates {
  readonly #kv: SyncKvStorage;

  constructor(kv: SyncKvStorage) {
    this.#kv = kv;
  }

  load(): Iterable<[string, StoredPresence]> {
    return [...this.#kv.list<StoredPresence>({ prefix: PREFIX })].map(([key, stored]) => [key.slice(PREFIX.length), stored] as [string, StoredPresence]);
  }

  save(id: string, stored: StoredPresence | undefined): void {
    if (stored) this.#kv.put(PREFIX + id, stored);
    else this.#kv.delete(PREFIX + id);
  }
}
