/**
 * The delivery tests' Worker (workerd via the vitest plugin, and `wrangler dev`): the
 * Worker's own routes, plus `/stream/<hub>/...` to a hub subclass that streams as
 * test/support/stream-app.ts does, its counts in the object's storage so they outlive
 * hibernation, eviction and a restart:
 *
 *   POST /stream/<hub>/send?count=N   sends `s<k>` to the hub's first connection, N times (k counts on)
 *   GET  /stream/<hub>/sent           how many were sent (accepted by `send`) and refused
 *   GET  /stream/<hub>/heard          every application message `onMessage` got, in order: { data, seq }[]
 *   GET  /stream/<hub>/count          how many that is, and the last of them
 *
 * `onMessage` writes each message to storage in its own turn, so a message is in `heard`
 * exactly when the object had it; the hub's own delivery rows commit with the same turn.
 */
import workerRoutes, { KeepaliveHub, type AppData, type Connection } from '../../../adapters/cloudflare/index.ts';
import type { Env } from '../../../adapters/cloudflare/config.ts';
import type { MessageInfo } from '../../../runtime/application/types.ts';

export interface Heard {
  data: string;
  seq: number | null;
}

export class StreamHub extends KeepaliveHub {
  override onMessage(_conn: Connection, data: AppData, message: MessageInfo): void {
    const kv = this.ctx.storage.kv;
    const n = kv.get<number>('stream:heard') ?? 0;
    kv.put(`stream:heard:${String(n).padStart(8, '0')}`, { data: typeof data === 'string' ? data : new TextDecoder().decode(data), seq: message.seq ?? null } satisfies Heard);
    kv.put('stream:heard', n + 1);
  }

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const kv = this.ctx.storage.kv;
    if (url.pathname === '/stream/send') {
      const conn = this.connections()[0];
      let sent = kv.get<number>('stream:sent') ?? 0;
      let refused = kv.get<number>('stream:refused') ?? 0;
      for (let i = Number(url.searchParams.get('count') ?? '1'); conn && i > 0; i--) {
        if (conn.send(`s${sent}`)) sent++;
        else refused++;
      }
      kv.put('stream:sent', sent);
      kv.put('stream:refused', refused);
      return Response.json({ sent, refused, connection: conn?.id ?? null });
    }
    if (url.pathname === '/stream/sent') return Response.json({ sent: kv.get<number>('stream:sent') ?? 0, refused: kv.get<number>('stream:refused') ?? 0 });
    if (url.pathname === '/stream/count') {
      const count = kv.get<number>('stream:heard') ?? 0;
      return Response.json({ count, last: count === 0 ? null : kv.get<Heard>(`stream:heard:${String(count - 1).padStart(8, '0')}`) });
    }
    if (url.pathname === '/stream/heard') return Response.json([...kv.list<Heard>({ prefix: 'stream:heard:' })].map(([, heard]) => heard));
    return super.fetch(request);
  }
}

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    const url = new URL(request.url);
    const stream = /^\/stream\/([\w-]+)(\/\w+)$/.exec(url.pathname);
    if (!stream) return workerRoutes.fetch(request, env, ctx);
    const stub = env.KEEPALIVE_HUB.get(env.KEEPALIVE_HUB.idFromName(stream[1]!));
    return stub.fetch(new Request(`http://hub/stream${stream[2]}${url.search}`, request));
  },
} satisfies ExportedHandler<Env>;
