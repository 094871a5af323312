/**
 * Resuming a connection after the host restarted. Sockets die with a process, so a
 * restored actor can only continue if its peer comes back and says which actor is its
 * own. The peer proves that with a session secret it generated itself and presented on
 * its first connect (`/connect?session=SECRET`); the host keeps only the secret's
 * SHA-256 (in the connection's stored `meta`, so it survives with the snapshot).
 *
 * The connection id is never the credential: ids are listed on `/actors`. A secret
 * resumes only a connection that has no socket attached (one restored from storage),
 * so a peer can never take over a live connection, and one actor never has two sockets.
 *
 * Web Crypto and nothing else, so every runtime (Node, Deno, Workers) shares this.
 */
import { nanoid } from 'nanoid';
import type { ConnectionId, Host } from '../host/index.ts';

/** The query parameter that carries the secret on `/connect`. */
export const SESSION_PARAM = 'session';
/** The `meta` key under which a connection keeps its secret's hash. */
export const SESSION_META = 'sessionHash';

/**
 * At least 16 characters of the URL-safe alphabet (96 bits): a restored connection is
 * unattached, so a guessable secret would let anyone reattach it. nanoid's 21 qualify.
 */
const SECRET = /^[A-Za-z0-9_-]{16,128}$/;

/** A fresh secret for a client that wants to be able to resume (nanoid: 126 bits). */
export function createSessionSecret(): string {
  return nanoid();
}

export function isSessionSecret(secret: string): boolean {
  return SECRET.test(secret);
}

/** WebSocket closes that say goodbye for good: normal closure, going away (a page unloading), no status given. */
const FINAL_CLOSE: ReadonlySet<number> = new Set([1000, 1001, 1005]);

/**
 * Whether a connection outlives its socket's close (code `code`): one with a session whose
 * peer left without a final goodbye (no close frame: a dropped network, 1006; or 4000: the
 * peer declared us dead and will reconnect) stays, detached, until the peer comes back with
 * the secret (the same id, counters and presence carry on) or the keepalive rule declares
 * it dead. Only where that rule runs, so a detached connection always ends by itself.
 */
export function outlivesSocket(host: Host, id: ConnectionId, code: number): boolean {
  if (FINAL_CLOSE.has(code) || host.meta(id)?.[SESSION_META] === undefined) return false;
  return host.view(id)?.sendPings === true;
}

/** Hex SHA-256 of the secret. Asynchronous, as Web Crypto is everywhere. */
export async function hashSessionSecret(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * What `/connect` does with a presented secret: open a new connection that remembers it,
 * re-attach the socket to the restored connection it belongs to, or refuse because that
 * connection has a socket already.
 */
export type SessionClaim =
  | { kind: 'new' }
  | { kind: 'resume'; id: ConnectionId }
  | { kind: 'attached'; id: ConnectionId };

/**
 * Secret hash -> connection id for the connections a host holds. Entries of connections
 * that ended are dropped when looked up, and swept once they outnumber the live ones, so
 * the index never needs a per-frame event listener on the host.
 */
export class SessionIndex {
  readonly #host: Host;
  readonly #ids = new Map<string, ConnectionId>();

  /** Indexes every connection the host holds already (restored ones included). */
  constructor(host: Host) {
    this.#host = host;
    this.refresh();
  }

  get size(): number {
    return this.#ids.size;
  }

  /** Re-reads the hashes from the host's connections: call it after a later `restore`. */
  refresh(): void {
    this.#ids.clear();
    for (const id of this.#host.ids()) {
      const hash = this.#host.meta(id)?.[SESSION_META];
      if (hash !== undefined) this.#ids.set(hash, id);
    }
  }

  /** The live connection that presented this hash, if any. */
  lookup(hash: string): ConnectionId | undefined {
    const id = this.#ids.get(hash);
    if (id === undefined) return undefined;
    if (this.#host.has(id)) return id;
    this.#ids.delete(hash);
    return undefined;
  }

  /** Decides what a connect presenting `hash` gets; `attached` says whether a connection has a socket. */
  claim(hash: string, attached: (id: ConnectionId) => boolean): SessionClaim {
    const id = this.lookup(hash);
    if (id === undefined) return { kind: 'new' };
    return attached(id) ? { kind: 'attached', id } : { kind: 'resume', id };
  }

  add(hash: string, id: ConnectionId): void {
    this.#ids.set(hash, id);
    if (this.#ids.size > 2 * this.#host.size + 64) this.#sweep();
  }

  #sweep(): void {
    for (const [hash, id] of this.#ids) if (!this.#host.has(id)) this.#ids.delete(hash);
  }
}
