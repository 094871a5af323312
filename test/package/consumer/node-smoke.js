// Run by pack.test.ts in a project that installed the packed tarball: the Node server and
// client from `keepalive-actors/node`, as plain JavaScript (no TypeScript, no type stripping).
import { Host, keepaliveMachine } from 'keepalive-actors';
import { connect, startServer } from 'keepalive-actors/node';

const server = await startServer({ port: 0, tcpPort: 0, interval: 200, count: 2, log: () => {} });
const client = connect(server.wsUrl, { interval: 100, count: 2, reconnect: false });
const pong = await new Promise((resolve, reject) => {
  client.addEventListener('received', (event) => event.message === 'PONG' && resolve(event.message));
  client.addEventListener('close', (event) => reject(new Error(`closed before a PONG: ${event.reason}`)));
});
const advertised = server.host.list().filter((view) => view.advertised).length;
client.close();
await server.close();
console.log(JSON.stringify({ pong, advertised, host: typeof Host, machine: keepaliveMachine.id }));
