/**
 * What Redis holds under this process after a cut, beyond what it holds itself: a record
 * or an owed event it deleted while Redis was away (the delete failed), or whose delete the
 * old primary never passed to the replica that took over. Writing again all it holds does
 * not remove those; left there, a survivor that took this process over later would find
 * connections long ended and judge them again, and a restart under its name would restore
 * them. So when Redis is back, this process's hashes are made what it holds.
 *
 * Only then: no takeover can be under way (a process judges others only after seeing Redis
 * for a whole lease), so every record and event in these hashes is one this process wrote.
 * A handover to this process in the same moment may lose its record here; its peer then
 * opens a new connection, and the full presence list that follows removes the row.
 */
import type { ConnectionId } from '../host/index.ts';
import { keys } from './keys.ts';
import type { RedisLink } from './link.ts';

/** Fields per HDEL. */
const CHUNK = 500;

/** Deletes from this process's hashes what it no longer holds or owes; returns how many fields went. */
export async function pruneStale(link: RedisLink, prefix: string, node: string, held: ReadonlySet<ConnectionId>, owed: ReadonlySet<string>): Promise<number> {
  let pruned = 0;
  for (const [key, keep] of [
    [keys.conns(prefix, node), held],
    [keys.events(prefix, node), owed],
  ] as const) {
    const fields = ((await link.command<string[]>(['HKEYS', key])) ?? []).map(String);
    const stale = fields.filter((field) => !keep.has(field));
    for (let i = 0; i < stale.length; i += CHUNK) await link.command(['HDEL', key, ...stale.slice(i, i + CHUNK)]);
    pruned += stale.length;
  }
  return pruned;
}
