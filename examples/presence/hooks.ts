/**
 * The presence example's server side, written once against the application API and used
 * by both servers: node.ts passes it to `startServer({ hooks })`, worker.ts calls it from
 * its `KeepaliveHub` subclass. Who is online comes from `hub.presence()`; what the hub
 * remembers beyond its live connections (last words, who left and why) is the roster,
 * kept wherever the server keeps state (memory on Node, Durable Object storage on
 * Cloudflare, so it outlives hibernation).
 */
import type { AppData, CloseInfo, Connection, Hub } from '../../runtime/index.ts';
import { encode, parsePageMessage, type Left, type PeerRow, type Said } from './protocol.ts';

/** What the hub remembers of each peer name it has seen. */
export type Roster = Record<string, { said?: Said; left?: Left }>;

export interface RosterStore {
  load(): Roster | undefined;
  save(roster: Roster): void;
}

/** Gone peers remembered at most; the oldest are forgotten first, so the roster cannot grow without bound. */
const MAX_GONE = 50;
/** What a connection without a name (no `?peer=`) is called when it speaks. */
const ANONYMOUS = 'anonymous';

export function memoryRoster(): RosterStore {
  let roster: Roster | undefined;
  return { load: () => roster, save: (next) => void (roster = next) };
}

export interface PresenceHooks {
  onOpen(conn: Connection, hub: Hub): void;
  onMessage(conn: Connection, data: AppData, hub: Hub): void;
  onClose(conn: Connection, info: CloseInfo, hub: Hub): void;
}

export function presenceHooks(store: RosterStore): PresenceHooks {
  const update = (change: (roster: Roster) => void): void => {
    const roster = structuredClone(store.load() ?? {});
    change(roster);
    store.save(forgetOldest(roster));
  };
  const announce = (hub: Hub): void => {
    hub.broadcast(encode({ type: 'presence', peers: rows(hub, store.load() ?? {}) }));
  };
  return {
    onOpen(conn, hub) {
      const peer = conn.peer;
      // Back again: no longer gone, its last words kept.
      if (peer !== null) update((roster) => void (roster[peer] = roster[peer]?.said ? { said: roster[peer].said } : {}));
      // Everyone, the newcomer too: its first frame is the whole list.
      announce(hub);
    },
    onMessage(conn, data, hub) {
      const message = parsePageMessage(data);
      if (!message) return;
      const peer = conn.peer ?? ANONYMOUS;
      const said = { text: message.text, at: Date.now() };
      if (conn.peer !== null) update((roster) => void (roster[peer] = { ...roster[peer], said }));
      hub.broadcast(encode({ type: 'said', peer, ...said }));
    },
    onClose(conn, info, hub) {
      const peer = conn.peer;
      // Another tab with the same name keeps the name online.
      if (peer !== null && !hub.presence().some((entry) => entry.peer === peer)) {
        update((roster) => void (roster[peer] = { ...roster[peer], left: { at: info.at, reason: info.reason, dead: info.dead } }));
      }
      announce(hub);
    },
  };
}

/** Online names first (one row per name, however many tabs), then the gone ones, each by name. */
function rows(hub: Hub, roster: Roster): PeerRow[] {
  const online = new Map<string, PeerRow>();
  for (const entry of hub.presence()) {
    if (entry.peer === null || online.has(entry.peer)) continue;
    const said = roster[entry.peer]?.said;
    online.set(entry.peer, { peer: entry.peer, online: true, state: entry.state, ...(said ? { said } : {}) });
  }
  const gone: PeerRow[] = [];
  for (const [peer, { said, left }] of Object.entries(roster)) {
    if (online.has(peer) || !left) continue;
    gone.push({ peer, online: false, left, ...(said ? { said } : {}) });
  }
  const byName = (a: PeerRow, b: PeerRow) => a.peer.localeCompare(b.peer);
  return [...[...online.values()].sort(byName), ...gone.sort(byName)];
}

function forgetOldest(roster: Roster): Roster {
  const gone = Object.entries(roster).filter(([, entry]) => entry.left);
  if (gone.length <= MAX_GONE) return roster;
  gone.sort(([, a], [, b]) => a.left!.at - b.left!.at);
  for (const [peer] of gone.slice(0, gone.length - MAX_GONE)) delete roster[peer];
  return roster;
}
