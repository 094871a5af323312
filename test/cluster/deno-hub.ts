/**
 * A Deno process in a clustered hub, for the cross-runtime cluster tests (node-hub.ts is the
 * same on Node): REDIS and NODE from the environment, INTERVAL and COUNT too (500 and 2 if
 * unset). A peer drives the hub through its messages: `bc:TEXT` broadcasts, `send:ID:TEXT`
 * sends to connection ID (on any process), `close:ID` closes it. Each death and close is a
 * line: `EVENT dead ID` or `EVENT closed ID`.
 */
import { startServer } from '../../adapters/deno/server.ts';

const server = await startServer({
  port: 0,
  tcpPort: null,
  interval: Number(Deno.env.get('INTERVAL') ?? 500),
  count: Number(Deno.env.get('COUNT') ?? 2),
  cluster: { redis: Deno.env.get('REDIS')!, node: Deno.env.get('NODE')! },
  log: (line) => console.log(line),
  onEvent: (event) => void ((event.type === 'dead' || event.type === 'closed') && console.log(`EVENT ${event.type} ${event.id}`)),
  hooks: {
    onMessage(_conn, data, hub) {
      const [command, id, ...rest] = String(data).split(':');
      if (command === 'bc') hub.broadcast([id, ...rest].join(':'));
      else if (command === 'send') console.log(`SENT ${hub.connection(id!)?.send(rest.join(':')) ?? 'unknown'}`);
      else if (command === 'close') hub.connection(id!)?.close('closed from deno');
    },
  },
});
console.log(`  WebSocket  ${server.wsUrl}`);
console.log(`  TCP        tcp://none`);
console.log(`  health     ${server.url}/healthz`);
console.log('  timers     local');
Deno.addSignalListener('SIGTERM', () => void server.close().then(() => Deno.exit(0)));
