/**
 * What the presence page and its hub agree on. Who is online is the hub's presence
 * (`client.presence`, docs/client.md); what each peer last said is its presence state,
 * `{ said, at }`, set by the page and stamped by the hub's `onPresence` hook (hooks.ts).
 */

/** The example's keepalive: a frozen page is declared dead INTERVAL * (COUNT + 1) = 6 s after its last frame. */
export const INTERVAL = 2000;
export const COUNT = 2;

/** Longest text a peer may say; longer is cut. */
export const MAX_TEXT = 280;

/** A peer's presence state once the hub took it: what it said, and when (ms, the hub's clock). */
export interface Said {
  said: string;
  at: number;
}
