/**
 * A Deno server with hooks, for the cross-runtime hook tests: each hook call is printed as
 * one `HOOK {json}` line; application messages are echoed back. `?deny` is refused by
 * authorize with 401; `?name=X` names the peer.
 */
import { startServer } from '../../adapters/deno/server.ts';

const print = (hook: string, id: string, peer: string | null, detail: unknown = null) => console.log(`HOOK ${JSON.stringify({ hook, id, peer, detail })}`);

const server = await startServer({
  port: 0,
  tcpPort: null,
  interval: Number(Deno.env.get('INTERVAL')),
  count: Number(Deno.env.get('COUNT')),
  hooks: {
    authorize(request) {
      const url = new URL(request.url);
      if (url.searchParams.has('deny')) return new Response('no', { status: 401 });
      const name = url.searchParams.get('name');
      return name ? { peer: name } : undefined;
    },
    onOpen: (conn) => print('onOpen', conn.id, conn.peer),
    onMessage: (conn, data) => {
      print('onMessage', conn.id, conn.peer, data);
      conn.send(`echo:${String(data)}`);
    },
    onDead: (conn, verdict) => print('onDead', conn.id, conn.peer, verdict),
    onClose: (conn, info) => print('onClose', conn.id, conn.peer, info),
  },
});
console.log(`  WebSocket  ${server.wsUrl}`);
console.log(`  TCP        tcp://none`);
console.log(`  health     ${server.url}/healthz`);
console.log('  timers     local');
Deno.addSignalListener('SIGTERM', () => void server.close().then(() => Deno.exit(0)));
