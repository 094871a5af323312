/**
 * What a shard serves its siblings (shards.ts): their broadcasts, sends and closes, applied
 * in the order they were made. The Worker never forwards this path, so only objects of the
 * same namespace (this Worker's code) reach it.
 */
import { Hono } from 'hono';
import type { Application } from '../../runtime/application/index.ts';
import { decodeMail } from './shard-mail.ts';
import { SHARD_ROUTES } from './shards.ts';

export function shardRoutes(application: () => Application): Hono {
  const app = new Hono();
  app.post(SHARD_ROUTES.mail, async (c) => {
    let mail;
    try {
      ({ mail } = decodeMail(await c.req.text()));
    } catch (error) {
      return c.json({ error: `not shard mail: ${error instanceof Error ? error.message : String(error)}` }, 400);
    }
    const hub = application();
    let sent = 0;
    let missing = 0;
    for (const m of mail) {
      if (m.type === 'broadcast') {
        sent += hub.broadcastHere(m.data, new Set(m.except));
        continue;
      }
      // Only this shard's own: a handle here never forwards again.
      const conn = hub.connection(m.connection);
      if (!conn) missing++;
      else if (m.type === 'send') sent += conn.send(m.data) ? 1 : 0;
      else conn.close(m.reason);
    }
    return c.json({ sent, missing });
  });
  return app;
}
