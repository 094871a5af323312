/**
 * The presence example on Node: `npm run example:presence`, then open the URL it prints
 * in two tabs. The keepalive server with presence on and the example's one hook, plus two
 * routes of its own: the page and its script, bundled once at start. With `--redis URL` (and
 * a `--port` each), run it twice: the two processes are one hub, and a page on either lists everyone.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startServer, type RunningServer, type ServerOptions } from '../../adapters/node/server.ts';
import { bundlePage } from './bundle.ts';
import { onPresence } from './hooks.ts';
import { pageHtml } from './html.ts';
import { COUNT, INTERVAL } from './protocol.ts';

export async function startPresence(options: ServerOptions = {}): Promise<RunningServer> {
  const script = await bundlePage();
  const html = pageHtml({ connect: '/connect' });
  return startServer({
    port: 8787,
    // The libvirt TCP listener is of no use to a page: any free port, so it never clashes with `npm start`.
    tcpPort: 0,
    interval: INTERVAL,
    count: COUNT,
    presence: true,
    hooks: { onPresence },
    extend: (app) => {
      app.get('/', (c) => c.html(html));
      app.get('/app.js', (c) => c.body(script, 200, { 'content-type': 'text/javascript; charset=utf-8' }));
    },
    ...options,
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { port: { type: 'string' }, redis: { type: 'string' }, node: { type: 'string' } } });
  const port = Number(values.port ?? process.env.PORT ?? 8787);
  const redis = values.redis ?? process.env.KEEPALIVE_REDIS;
  const cluster = redis ? { cluster: { redis, ...(values.node ? { node: values.node } : {}) } } : {};
  const server = await startPresence({ port, log: (line) => console.log(line), ...cluster });
  console.log(`presence example: open ${server.url}/ in two tabs (Ctrl-C stops)`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void server.close().then(() => process.exit(0)));
  }
}
