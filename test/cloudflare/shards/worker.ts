/**
 * A user's Worker over a sharded hub: the routes re-exported, and a subclass whose
 * `onMessage` speaks a tiny command language so a test can drive hub-wide calls from hook
 * code on any shard:
 *
 *   all:<text>        broadcast `<text>` to the hub, except the sender
 *   bin:<text>        broadcast `<text>`'s UTF-8 bytes as a binary frame, except the sender
 *   to:<id>:<text>    send `<text>` to connection <id>, on whatever shard
 *   who               answer `who:` + the hub's presence as JSON (`hubPresence()`)
 *
 * Deaths are written to storage so a test reads them through the object's fetch.
 */
import { KeepaliveHub, type Connection, type DeadVerdict } from '../../../adapters/cloudflare/index.ts';
import type { AppData } from '../../../runtime/application/types.ts';

export { default } from '../../../adapters/cloudflare/index.ts';

export class ShardedHub extends KeepaliveHub {
  override async onMessage(conn: Connection, data: AppData) {
    if (typeof data !== 'string') return;
    if (data.startsWith('all:')) this.broadcast(data.slice(4), { except: conn });
    else if (data.startsWith('bin:')) this.broadcast(new TextEncoder().encode(data.slice(4)), { except: conn });
    else if (data.startsWith('to:')) {
      const [, id, ...text] = data.split(':');
      const target = this.connection(id!);
      conn.send(target?.send(text.join(':')) ? 'sent' : 'no such connection');
    } else if (data === 'who') conn.send(`who:${JSON.stringify(await this.hubPresence())}`);
  }

  override onDead(conn: Connection, verdict: DeadVerdict) {
    this.ctx.storage.kv.put(`dead:${conn.id}`, { shard: this.shard, silentFor: verdict.silentFor, at: Date.now() });
  }

  override async fetch(request: Request): Promise<Response> {
    if (new URL(request.url).pathname === '/test/dead') {
      return Response.json([...this.ctx.storage.kv.list({ prefix: 'dead:' })].map(([key, value]) => ({ id: key.slice(5), ...(value as object) })));
    }
    return super.fetch(request);
  }
}
