/**
 * Figure 11's server process: the Node server in a hub over Redis (interval 1000, count 2).
 * A peer's `bc:STAMP` message is broadcast to the whole hub. Asked `count`, it answers how
 * many presence rows name a node (answered from what it knows, as `/presence` is).
 *
 *   node bench/workers/cluster-node.ts REDIS_URL NODE [HUB]
 *
 * REDIS_URL is any of --redis's forms (one Redis, redis+cluster://, redis+sentinel://).
 */
import { startServer } from '../../adapters/node/server.ts';
import { onCommand, report } from '../lib/spawn.ts';

const [redis, node, hubName] = process.argv.slice(2);
if (!redis || !node) throw new Error('usage: cluster-node.ts REDIS_URL NODE [HUB]');
let deaths = 0;
const server = await startServer({
  port: 0,
  tcpPort: null,
  inspector: false,
  interval: 1000,
  count: 2,
  ...(hubName ? { hub: hubName } : {}),
  cluster: { redis, node },
  onEvent: (event) => void (event.type === 'dead' && deaths++),
  hooks: {
    onMessage(_conn, data, hub) {
      if (typeof data === 'string' && data.startsWith('bc:')) hub.broadcast(data);
    },
  },
});
report({ type: 'ready', url: server.wsUrl, http: server.url });
onCommand((command) => {
  if (command.type === 'count') {
    const rows = server.hub.presence();
    report({ type: 'count', of: rows.filter((row) => row.node === command.node).length, total: rows.length });
  } else if (command.type === 'stats') {
    report({ type: 'stats', deaths, connections: server.host.size, commands: server.cluster!.stats.commands });
  }
});
