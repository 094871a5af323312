/**
 * Who a peer is, decided before the WebSocket upgrade: the `authorize` hook when there is
 * one, else `?peer=NAME` on /connect. Kept in the connection's meta (so it survives
 * restarts and hibernation with the snapshot) under keys hooks never see.
 */
import type { Admission, Hooks, Hub } from './types.ts';

/** The query parameter a peer names itself with when the app has no `authorize` hook. */
export const PEER_PARAM = 'peer';
/** The `meta` key a connection keeps its peer under. */
export const PEER_META = 'peer';
/**
 * The `meta` key a connection keeps what presence (runtime/presence/) may do with it under:
 * absent when it did not ask and is listed; `sub` subscribed; `off` asked and `authorize`
 * said no (still listed); `hidden` / `hidden-sub` listed to nobody (and subscribed).
 */
export const PRESENCE_META = 'presence';
export type PresenceMark = 'sub' | 'off' | 'hidden' | 'hidden-sub';

const PEER_NAME = /^[A-Za-z0-9._:@-]{1,64}$/;

export function isPeerName(name: string): boolean {
  return PEER_NAME.test(name);
}

/** What the upgrade goes ahead with: the peer (or null) and meta to keep. */
export interface Admitted {
  peer: string | null;
  meta: Record<string, string>;
  /** What `authorize` said of presence; undefined: nothing (listed, may subscribe). */
  presence?: boolean | 'hidden';
}

/**
 * Runs `authorize` (or reads `?peer=`). A `Response` means refused: answer it as is. A
 * hook that throws refuses with 500 and is reported; it never opens a socket.
 */
export async function admit(request: Request, hooks: Hooks | undefined, hub: Hub, report: (line: string) => void): Promise<Admitted | Response> {
  if (hooks?.authorize) {
    let result: Admission | Response | undefined | void;
    try {
      result = await hooks.authorize(request, hub);
    } catch (error) {
      report(`authorize hook threw: ${describe(error)}`);
      return refusal(500, 'authorization failed');
    }
    if (isResponse(result)) return result;
    const meta: Record<string, string> = {};
    for (const [key, value] of Object.entries(result?.meta ?? {})) {
      if (typeof value !== 'string') {
        report(`authorize hook returned meta.${key} that is not a string`);
        return refusal(500, 'authorization failed');
      }
      meta[key] = value;
    }
    const peer = result?.peer;
    if (peer !== undefined && (typeof peer !== 'string' || peer.length === 0 || peer.length > 256)) {
      report('authorize hook returned a peer that is not a string of 1-256 characters');
      return refusal(500, 'authorization failed');
    }
    const presence = result?.presence;
    if (presence !== undefined && presence !== true && presence !== false && presence !== 'hidden') {
      report('authorize hook returned presence that is not true, false or "hidden"');
      return refusal(500, 'authorization failed');
    }
    return { peer: peer ?? null, meta, ...(presence === undefined ? {} : { presence }) };
  }
  const peer = new URL(request.url).searchParams.get(PEER_PARAM);
  if (peer === null) return { peer: null, meta: {} };
  if (!isPeerName(peer)) {
    return refusal(400, `?${PEER_PARAM}= is 1-64 of A-Z a-z 0-9 . _ : @ -`);
  }
  return { peer, meta: {} };
}

/**
 * Also a Response from another realm or polyfill: @hono/node-server swaps in its own global
 * `Response` class, so `instanceof` alone misses some of them.
 */
export function isResponse(value: unknown): value is Response {
  if (value instanceof Response) return true;
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Response>;
  return typeof candidate.status === 'number' && typeof candidate.headers === 'object' && typeof candidate.arrayBuffer === 'function';
}

/** A JSON `{ error }` answer: how `/connect` and its hook refuse, on every runtime. */
export function refusal(status: number, error: string): Response {
  return new Response(JSON.stringify({ error }), { status, headers: { 'content-type': 'application/json' } });
}

export function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
