/**
 * For tests and benchmarks only (not exported from the package): a hub's parts, which the
 * class keeps private so a user's subclass shares no names with them. Read inside the
 * object, e.g. `runInDurableObject(stub, (o: KeepaliveHub) => hubInternals(o).host.list())`.
 */
import { INTERNALS, type HubInternals, type KeepaliveHub } from './hub.ts';

export type { HubInternals } from './hub.ts';

export function hubInternals(hub: KeepaliveHub): HubInternals {
  const parts = INTERNALS.get(hub);
  if (!parts) throw new Error('not a constructed KeepaliveHub');
  return parts;
}
