/**
 * A Deno server for the delivery tests: the stream app's hooks and routes
 * (test/support/stream-app.ts) on the Deno adapter, with the settings from the environment.
 *
 *   deno run --allow-net --allow-env --allow-read test/deno/stream-server.ts
 */
import { startServer } from '../../adapters/deno/server.ts';
import { StreamApp } from '../support/stream-app.ts';

const stream = new StreamApp();
const server = await startServer({
  port: 0,
  tcpPort: null,
  interval: Number(Deno.env.get('INTERVAL') ?? '1000'),
  count: Number(Deno.env.get('COUNT') ?? '2'),
  hooks: { onMessage: stream.onMessage },
  extend: (app) => stream.routes(app, () => server.hub),
});
console.log(`listening ${server.url}`);
Deno.addSignalListener('SIGTERM', () => void server.close().then(() => Deno.exit(0)));
