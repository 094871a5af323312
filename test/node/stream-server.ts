/**
 * A Node server for the delivery restart test: the stream app's hooks and routes
 * (test/support/stream-app.ts) on the Node adapter, as test/deno/stream-server.ts is on
 * Deno, with the settings from the environment:
 *
 *   INTERVAL, COUNT   the keepalive (default 1000, 2)
 *   PORT              default 0 (any)
 *   STATE             a SQLite state file, as `keepalive serve --state FILE`
 *   PREFIX            the stream's messages (default `s`)
 *   HEARD=1           print `heard <data> <seq>` for every application message, as it is handed over
 *
 * With STATE it first prints what the file holds of each delivery window, as the previous
 * process left it: `stored <id> received=R floor=F next=N`.
 *
 *   node test/node/stream-server.ts
 */
import { startServer } from '../../adapters/node/server.ts';
import { SqliteDeliveryStore } from '../../adapters/node/sqlite-deliveries.ts';
import { SqliteSnapshotStore } from '../../adapters/node/sqlite-store.ts';
import { StreamApp } from '../support/stream-app.ts';

const statePath = process.env.STATE;
if (statePath) {
  const store = new SqliteSnapshotStore(statePath);
  const deliveries = new SqliteDeliveryStore(store);
  for (const { id } of store.load()) {
    const counters = deliveries.load(id)?.counters;
    if (counters) console.log(`stored ${id} received=${counters.received} floor=${counters.floor} next=${counters.next}`);
  }
  store.close();
}
const stream = new StreamApp({
  prefix: process.env.PREFIX ?? 's',
  ...(process.env.HEARD ? { heard: (data: string, seq: number | undefined) => console.log(`heard ${data} ${seq}`) } : {}),
});
const server = await startServer({
  port: Number(process.env.PORT ?? '0'),
  tcpPort: null,
  interval: Number(process.env.INTERVAL ?? '1000'),
  count: Number(process.env.COUNT ?? '2'),
  hooks: { onMessage: stream.onMessage },
  extend: (app) => stream.routes(app, () => server.hub),
  ...(statePath ? { statePath } : {}),
});
console.log(`listening ${server.url} (${server.restored.length} restored)`);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
