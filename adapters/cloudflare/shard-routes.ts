/**
 * What a shard serves its siblings (shards.ts): their broadcasts, sends, closes and presence rows, applied
 * in the order they were made. The Worker never forwards this path, so only objects of the
 * same namespace (this Worker's code) reach it.
 */
import { Hono } from 'hono';
import type { Application } from '../../runtime/application/index.ts';
import type { PresenceRow } from '../../runtime/hub/index.ts';
import { decodeMail } from './shard-mail.ts';
import { SHARD_ROUTES } from './shards.ts';

/** `rows`: presence rows from sibling `from` (shard-presence.ts), when presence for peers is on. */
export function shardRoutes(application: () => Application, rows?: (from: number, up: readonly PresenceRow[], down: readonly string[]) => void): Hono {
  const app = new Hono();
  app.post(SHARD_ROUTES.mail, async (c) => {
    let mail;
    let from: number;
    try {
      ({ mail, from } = decodeMail(await c.req.text()));
    } catch (error) {
      return c.json({ error: `not shard mail: ${error instanceof Error ? error.message : String(error)}` }, 400);
    }
    const hub = application();
    let sent = 0;
    let missing = 0;
    for (const m of mail) {
      if (m.type === 'rows') {
        rows?.(from, m.up, m.down);
        continue;
      }
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
