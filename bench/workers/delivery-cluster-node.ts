/**
 * Figure 13's clustered process: the Node server in a hub over Redis (interval 1000, count
 * 2), which selects delivery mode for a client that offers it. Commands on stdin:
 *
 *   { type: 'ids' }                     answers the ids of the connections this process holds
 *   { type: 'stream', to, perSecond }   sends that many messages a second to each id of `to`
 *                                       (held here or by another process), in 10 ms ticks
 *   { type: 'quiet' }                   stops; answers { sent } since the last 'stream'
 *
 *   node bench/workers/delivery-cluster-node.ts REDIS_URL NODE
 */
import { startServer } from '../../adapters/node/server.ts';
import { onCommand, report } from '../lib/spawn.ts';

const [redis, node] = process.argv.slice(2);
if (!redis || !node) throw new Error('usage: delivery-cluster-node.ts REDIS_URL NODE');
const server = await startServer({ port: 0, tcpPort: null, inspector: false, interval: 1000, count: 2, cluster: { redis, node } });

const TICK = 10;
let timer: ReturnType<typeof setInterval> | undefined;
let sent = 0;
let refused = 0;
report({ type: 'ready', url: server.wsUrl });
onCommand((command) => {
  if (command.type === 'ids') {
    report({ type: 'ids', ids: [...server.host.ids()] });
  } else if (command.type === 'stream') {
    const to = command.to as string[];
    const perTick = (Number(command.perSecond) * TICK) / 1000;
    let owed = 0;
    sent = 0;
    refused = 0;
    clearInterval(timer);
    timer = setInterval(() => {
      owed += perTick;
      const n = Math.floor(owed);
      owed -= n;
      for (const id of to) {
        const conn = server.hub.connection(id);
        for (let i = 0; i < n; i++) {
          if (conn?.send(`m${sent}`)) sent++;
          else refused++;
        }
      }
    }, TICK);
  } else if (command.type === 'quiet') {
    clearInterval(timer);
    report({ type: 'quiet', sent, refused });
  }
});
