/**
 * What a shard serves its siblings (shards.ts): its part of a broadcast, and a send or a
 * close for one of its connections. The Worker never forwards these paths, so only objects
 * of the same namespace (this Worker's code) reach them.
 */
import { Hono, type Context } from 'hono';
import type { AppData, Application } from '../../runtime/internal.ts';
import { SHARD_ROUTES } from './shards.ts';

async function dataOf(c: Context): Promise<AppData> {
  const binary = c.req.header('content-type')?.startsWith('application/octet-stream') ?? false;
  return binary ? new Uint8Array(await c.req.arrayBuffer()) : c.req.text();
}

export function shardRoutes(application: () => Application): Hono {
  const app = new Hono();
  app.post(SHARD_ROUTES.broadcast, async (c) => {
    const except = c.req.query('except');
    const sent = application().broadcastHere(await dataOf(c), new Set(except ? except.split(',') : []));
    return c.json({ sent });
  });
  app.post(SHARD_ROUTES.send, async (c) => {
    const conn = application().connection(c.req.query('id') ?? '');
    if (!conn) return c.json({ error: 'no such connection on this shard' }, 404);
    return c.json({ sent: conn.send(await dataOf(c)) });
  });
  app.post(SHARD_ROUTES.close, async (c) => {
    const conn = application().connection(c.req.query('id') ?? '');
    if (!conn) return c.json({ error: 'no such connection on this shard' }, 404);
    conn.close(await c.req.text());
    return c.json({ closed: true });
  });
  return app;
}
