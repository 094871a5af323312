/**
 * The presence example's only server code, the same on Node and on the Worker: a page sets
 * `{ said: text }` as its presence state, and the hub keeps it trimmed, cut to MAX_TEXT and
 * stamped with the hub's time (a rewrite), or refuses anything else. (Outside this repository
 * the types come from `keepalive-actors/cloudflare`.)
 */
import type { Connection, PresenceVerdict } from '../../runtime/application/index.ts';
import type { PresenceState } from '../../runtime/protocol/index.ts';
import { MAX_TEXT } from './protocol.ts';

export const onPresence = (_conn: Connection, state: PresenceState): PresenceVerdict => {
  const said = typeof state === 'object' && state !== null && !Array.isArray(state) ? (state as { said?: unknown }).said : undefined;
  if (typeof said !== 'string' || said.trim() === '') return { refuse: 'say something: { said: text }' };
  return { state: { said: said.trim().slice(0, MAX_TEXT), at: Date.now() } };
};
