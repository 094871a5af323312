/**
 * A Deno server for the delivery tests: the stream app's hooks and routes
 * (test/support/stream-app.ts) on the Deno adapter, with the settings from the environment:
 *
 *   INTERVAL, COUNT   the keepalive (default 1000, 2)
 *   PORT              default 0 (any)
 *   KV                a Deno KV file: serverless mode, as `main.ts serve --kv FILE` (needs --unstable-kv)
 *   PREFIX            the stream's messages (default `s`)
 *   HEARD=1           print `heard <data> <seq>` for every application message, as it is handed over
 *
 * With KV it first prints what the file holds of each delivery window, as the previous
 * process left it: `stored <id> received=R floor=F next=N`.
 *
 *   deno run --allow-net --allow-env --allow-read --allow-write --unstable-kv test/deno/stream-server.ts
 */
import { startServer } from '../../adapters/deno/server.ts';
import { DEFAULT_KV_DELIVERIES_PREFIX } from '../../adapters/deno/kv-deliveries.ts';
import type { LinkCounters } from '../../runtime/delivery/index.ts';
import { StreamApp } from '../support/stream-app.ts';

const kvPath = Deno.env.get('KV');
const kv = kvPath ? await Deno.openKv(kvPath) : undefined;
if (kv) {
  for await (const entry of kv.list<LinkCounters>({ prefix: DEFAULT_KV_DELIVERIES_PREFIX })) {
    const [id, kind] = entry.key.slice(DEFAULT_KV_DELIVERIES_PREFIX.length);
    if (kind === 'c') console.log(`stored ${String(id)} received=${entry.value.received} floor=${entry.value.floor} next=${entry.value.next}`);
  }
}
const stream = new StreamApp({
  prefix: Deno.env.get('PREFIX') ?? 's',
  ...(Deno.env.get('HEARD') ? { heard: (data: string, seq: number | undefined) => console.log(`heard ${data} ${seq}`) } : {}),
});
const server = await startServer({
  port: Number(Deno.env.get('PORT') ?? '0'),
  tcpPort: null,
  interval: Number(Deno.env.get('INTERVAL') ?? '1000'),
  count: Number(Deno.env.get('COUNT') ?? '2'),
  hooks: { onMessage: stream.onMessage },
  extend: (app) => stream.routes(app, () => server.hub),
  // The prefixes main.ts uses, so the deliveries sit where DEFAULT_KV_DELIVERIES_PREFIX says.
  ...(kv ? { kv, kvPrefix: ['keepalive', 'connections'] } : {}),
});
console.log(`listening ${server.url} (${server.restored.length} restored)`);
Deno.addSignalListener('SIGTERM', () => void server.close().then(() => Deno.exit(0)));
