/**
 * Presence lists in one comparable form, whoever holds them: a client's `presence.list()`, a
 * page's, or a hub's `/presence` rows (one per connection) grouped as presence groups them.
 * Each entry is `peer:connection,connection` (`#<id>` for a connection without an identity),
 * sorted, so two lists are equal exactly when they list the same peers with the same connections.
 */
import type { PresenceEntry } from '../../runtime/application/index.ts';
import type { PresencePeer } from '../../runtime/protocol/index.ts';

export function listForm(list: readonly PresencePeer[]): string[] {
  return list.map((entry) => `${entry.peer ?? '#'}:${entry.connections.map((c) => c.id).sort().join(',')}`).sort();
}

export function rowsForm(rows: readonly PresenceEntry[], hidden: readonly string[] = []): string[] {
  const byPeer = new Map<string, string[]>();
  for (const row of rows) {
    if (row.peer !== null && hidden.includes(row.peer)) continue;
    const key = row.peer ?? `#${row.connection}`;
    byPeer.set(key, [...(byPeer.get(key) ?? []), row.connection]);
  }
  return [...byPeer].map(([key, ids]) => `${key.startsWith('#') ? '#' : key}:${ids.sort().join(',')}`).sort();
}
