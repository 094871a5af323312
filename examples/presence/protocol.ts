/**
 * What the presence page and its server say to each other, on top of the keepalive
 * client's application frames. Shared by the page (app.ts) and both servers (hooks.ts).
 *
 *   page -> server   {"type":"say","text":"hello"}
 *   server -> page   {"type":"presence","peers":[...]}   on every join and leave
 *                    {"type":"said","peer":"ada","text":"hello","at":1700000000000}
 */

/** The example's keepalive: a frozen page is declared dead INTERVAL * (COUNT + 1) = 6 s after its last frame. */
export const INTERVAL = 2000;
export const COUNT = 2;

/** Longest text a peer may say; longer is cut. */
export const MAX_TEXT = 280;

export interface Said {
  text: string;
  /** ms since the epoch, server clock. */
  at: number;
}

export interface Left {
  /** ms since the epoch, server clock: when the connection ended. */
  at: number;
  /** As the server put it: "peer dead: silent for 6003 ms, ...", "peer closed: ...". */
  reason: string;
  /** True when keepalive declared the peer dead (not a goodbye). */
  dead: boolean;
}

/** One row of the page's list: a peer name, online or gone, and its last words. */
export interface PeerRow {
  peer: string;
  online: boolean;
  /** The keepalive statechart's state of its connection while online, e.g. `alive.probing`. */
  state?: string;
  said?: Said;
  left?: Left;
}

export type ServerMessage = { type: 'presence'; peers: PeerRow[] } | { type: 'said'; peer: string; text: string; at: number };

export type PageMessage = { type: 'say'; text: string };

export const encode = (message: ServerMessage | PageMessage): string => JSON.stringify(message);

/** A frame from the server, or null for anything else (never throws: the page keeps running). */
export function parseServerMessage(data: unknown): ServerMessage | null {
  const value = parseObject(data);
  if (value?.type === 'presence' && Array.isArray(value.peers)) return value as ServerMessage;
  if (value?.type === 'said' && typeof value.peer === 'string' && typeof value.text === 'string' && typeof value.at === 'number') {
    return value as ServerMessage;
  }
  return null;
}

/** A frame from a page, or null; the text is trimmed and cut to MAX_TEXT, empty is null. */
export function parsePageMessage(data: unknown): PageMessage | null {
  const value = parseObject(data);
  if (value?.type !== 'say' || typeof value.text !== 'string') return null;
  const text = value.text.trim().slice(0, MAX_TEXT);
  return text === '' ? null : { type: 'say', text };
}

function parseObject(data: unknown): Record<string, unknown> | null {
  if (typeof data !== 'string') return null;
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
