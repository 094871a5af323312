// The same Worker written against the package's types (workers-types, no Node, no DOM),
// with a hub of its own built on the hooks, as docs/hooks.md shows.
import worker, { KeepaliveHub, type AppData, type CloseInfo, type Connection, type DeadVerdict, type Env } from 'keepalive-actors/cloudflare';

export { KeepaliveHub };
export default {
  fetch: (request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> => worker.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;

export class ChatHub extends KeepaliveHub {
  override authorize(request: Request) {
    const name = new URL(request.url).searchParams.get('name');
    return name ? { peer: name, meta: { room: 'lobby' } } : new Response('who are you?', { status: 401 });
  }
  override onMessage(conn: Connection, data: AppData) {
    const sent: number = this.broadcast(`${conn.peer ?? 'someone'}: ${typeof data === 'string' ? data : `${data.byteLength} bytes`}`, { except: conn });
    return sent;
  }
  override async onDead(conn: Connection, verdict: DeadVerdict) {
    console.log(conn.id, verdict.at, verdict.silentFor, verdict.unanswered, this.presence().length);
  }
  override onClose(conn: Connection, info: CloseInfo) {
    if (info.dead) console.log(`${conn.peer} went silent: ${info.reason}`);
  }
}
