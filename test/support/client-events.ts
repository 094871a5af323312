/** Waiting for a keepalive client's events (the same `EventTarget` on every runtime). */
import type { ClientEventMap } from '../../runtime/client/events.ts';
import type { KeepaliveClient } from '../../runtime/client/keepalive-client.ts';

/** The next `type` event, once. */
export function nextEvent<K extends keyof ClientEventMap>(client: KeepaliveClient, type: K): Promise<ClientEventMap[K]> {
  return new Promise((resolve) => client.addEventListener(type, (event) => resolve(event as ClientEventMap[K]), { once: true }));
}
