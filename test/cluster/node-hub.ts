/**
 * A Node process in a clustered hub, as deno-hub.ts is a Deno one (the same environment,
 * messages and lines): the cluster tests SIGKILL it, which they cannot do to a server
 * in their own process.
 */
import { startServer } from '../../adapters/node/server.ts';

const env = (name: string) => process.env[name];
const node = env('NODE')!;
const server = await startServer({
  port: 0,
  tcpPort: null,
  inspector: false,
  interval: Number(env('INTERVAL') ?? 500),
  count: Number(env('COUNT') ?? 2),
  cluster: { redis: env('REDIS')!, node },
  log: (line) => console.log(line),
  onEvent: (event) => void ((event.type === 'dead' || event.type === 'closed') && console.log(`EVENT ${event.type} ${event.id}`)),
  hooks: {
    onMessage(_conn, data, hub) {
      const [command, id, ...rest] = String(data).split(':');
      if (command === 'bc') hub.broadcast([id, ...rest].join(':'));
      else if (command === 'send') console.log(`SENT ${hub.connection(id!)?.send(rest.join(':')) ?? 'unknown'}`);
      else if (command === 'close') hub.connection(id!)?.close(`closed from node ${node}`);
    },
  },
});
console.log(`  WebSocket  ${server.wsUrl}`);
console.log(`  TCP        tcp://none`);
console.log(`  health     ${server.url}/healthz`);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
