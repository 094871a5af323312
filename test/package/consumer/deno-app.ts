// Checked with `deno check` and run with `deno run` by pack.test.ts: the package as a Deno
// user imports it, `npm:` specifiers resolved from this project's node_modules.
import { Host, type SnapshotStore } from 'npm:keepalive-actors';
import { connect, KvSnapshotStore, startServer, type RunningServer } from 'npm:keepalive-actors/deno';

const kv = await Deno.openKv(':memory:');
const store: SnapshotStore = new KvSnapshotStore(kv);
const server: RunningServer = await startServer({ port: 0, tcpPort: null, interval: 200, count: 2, log: () => {} });
const client = connect(server.wsUrl, { interval: 100, count: 2, reconnect: false });
const pong = await new Promise<string>((resolve, reject) => {
  client.addEventListener('received', (event) => event.message === 'PONG' && resolve(event.message));
  client.addEventListener('close', (event) => reject(new Error(`closed before a PONG: ${event.reason}`)));
});
const advertised = server.host.list().filter((view) => view.advertised).length;
client.close();
await server.close();
kv.close();
console.log(JSON.stringify({ pong, advertised, host: typeof Host, kvStore: store instanceof KvSnapshotStore }));
