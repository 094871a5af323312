/**
 * A hub on a Redis Cluster lives on the primary serving its slot: every key of hub H is
 * under the hash tag `{H}` (keys.ts), so one slot, one primary, and its scripts run there
 * whole. Which primary that is, any node of the cluster can say (`CLUSTER SLOTS`); after a
 * failover the survivors say the promoted replica once it won its election.
 *
 * The seeds of the URL are asked first, then every node an answer named, so a cluster
 * whose seeds are gone is still found; a node that does not answer is asked last next time.
 */
import { addressText, type RedisAddress, type RedisTarget } from '../config/index.ts';
import { ask, ASK_TIMEOUT_MS } from './server-client.ts';

type ClusterTarget = Extract<RedisTarget, { topology: 'cluster' }>;

export function clusterPrimary(target: ClusterTarget, key: string): () => Promise<RedisAddress> {
  let slot: number | undefined;
  let nodes: RedisAddress[] = [...target.seeds];
  const demote = (node: RedisAddress) => (nodes = [...nodes.filter((n) => n !== node), node]);
  return async () => {
    const failures: string[] = [];
    for (const node of [...nodes]) {
      try {
        const [slots, keySlot] = await ask(target, node, slot === undefined ? [['CLUSTER', 'SLOTS'], ['CLUSTER', 'KEYSLOT', key]] : [['CLUSTER', 'SLOTS']], { timeout: ASK_TIMEOUT_MS });
        slot ??= Number(keySlot);
        const { primary, named } = readSlots(slots, slot, node);
        nodes = union(nodes, named);
        if (primary) return primary;
        failures.push(`${addressText(node)}: no primary serves slot ${slot}`);
      } catch (error) {
        failures.push(`${addressText(node)}: ${error instanceof Error ? error.message : String(error)}`);
      }
      demote(node);
    }
    throw new Error(`no node of the Redis Cluster named the primary of the hub's slot (${failures.join('; ')})`);
  };
}

/** `CLUSTER SLOTS`: [[from, to, [host, port, id, ...], ...replicas], ...]. A node with no known endpoint is the one asked. */
function readSlots(reply: unknown, slot: number, asked: RedisAddress): { primary: RedisAddress | undefined; named: RedisAddress[] } {
  let primary: RedisAddress | undefined;
  const named: RedisAddress[] = [];
  for (const range of Array.isArray(reply) ? (reply as unknown[][]) : []) {
    const [from, to, ...servers] = range;
    const addresses = servers.flatMap((server) => {
      if (!Array.isArray(server)) return [];
      const host = String(server[0] ?? '');
      return [{ host: host === '' || host === '?' ? asked.host : host, port: Number(server[1]) }];
    });
    named.push(...addresses);
    if (Number(from) <= slot && slot <= Number(to)) primary = addresses[0];
  }
  return { primary, named };
}

function union(nodes: readonly RedisAddress[], more: readonly RedisAddress[]): RedisAddress[] {
  const out = [...nodes];
  for (const node of more) if (!out.some((n) => n.host === node.host && n.port === node.port)) out.push(node);
  return out;
}
