/**
 * A user's Worker as docs/hooks.md shows it: the routes re-exported, and a hub subclass
 * with hooks. Every hook call is written to the object's storage (so a test reads it after
 * an eviction). While `hang:<hook>` is set in storage, that hook never returns in this
 * instance: a hook still running when the object is evicted.
 */
import { KeepaliveHub, type CloseInfo, type Connection, type DeadVerdict } from '../../../adapters/cloudflare/index.ts';
import type { AppData } from '../../../runtime/application/types.ts';

export { default } from '../../../adapters/cloudflare/index.ts';

export interface HookCall {
  hook: 'onOpen' | 'onMessage' | 'onDead' | 'onClose';
  id: string;
  peer: string | null;
  detail?: unknown;
}

export class RecordingHub extends KeepaliveHub {
  override authorize(request: Request) {
    const url = new URL(request.url);
    if (url.searchParams.get('deny') !== null) return new Response('not you', { status: 403 });
    const name = url.searchParams.get('name');
    return name ? { peer: name, meta: { room: 'lobby' } } : undefined;
  }

  override async onOpen(conn: Connection) {
    await this.#record({ hook: 'onOpen', id: conn.id, peer: conn.peer, detail: conn.meta });
  }

  override async onMessage(conn: Connection, data: AppData) {
    const text = typeof data === 'string' ? data : `bytes:${data.length}`;
    await this.#record({ hook: 'onMessage', id: conn.id, peer: conn.peer, detail: text });
    if (text === 'throw') throw new Error('onMessage broke on purpose');
    conn.send(`echo:${text}`);
    this.broadcast(`${conn.peer} said ${text}`, { except: conn });
  }

  override async onDead(conn: Connection, verdict: DeadVerdict) {
    await this.#record({ hook: 'onDead', id: conn.id, peer: conn.peer, detail: verdict });
  }

  override async onClose(conn: Connection, info: CloseInfo) {
    await this.#record({ hook: 'onClose', id: conn.id, peer: conn.peer, detail: info });
  }

  /**
   * The test reads its records through fetch: vitest's runInDurableObject waits while a
   * hook's request is in flight, which is the very moment these tests look.
   */
  override async fetch(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === '/test/calls') return Response.json(this.calls());
    if (path === '/test/hang') {
      const hook = new URL(request.url).searchParams.get('hook')!;
      if (request.method === 'POST') this.ctx.storage.kv.put(`hang:${hook}`, true);
      else this.ctx.storage.kv.delete(`hang:${hook}`);
      return new Response(null, { status: 204 });
    }
    if (path === '/test/events') return Response.json([...this.ctx.storage.kv.list({ prefix: 'event:' })].map(([, record]) => record));
    return super.fetch(request);
  }

  /** Hook calls that returned, in order. */
  calls(): HookCall[] {
    return [...this.ctx.storage.kv.list<HookCall>({ prefix: 'calls:' })].map(([, call]) => call);
  }

  async #record(call: HookCall): Promise<void> {
    if (this.ctx.storage.kv.get(`hang:${call.hook}`)) await new Promise(() => {});
    const n = this.ctx.storage.kv.get<number>('calls') ?? 0;
    this.ctx.storage.kv.put('calls', n + 1);
    this.ctx.storage.kv.put(`calls:${String(n).padStart(6, '0')}`, call);
  }
}
