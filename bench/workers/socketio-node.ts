/**
 * One Socket.IO 4.8 server of three behind a balancer, with the Redis Streams adapter and
 * connection state recovery, for the SIGKILL comparison (bench/lib/socketio-kill.ts).
 * Every client joins room `peer`. `POST /stream?rate=N` makes this server send N messages a
 * second to that room (`s0`, `s1`, ...) until `POST /stop`, which answers how many it sent.
 *
 *   node bench/workers/socketio-node.ts PORT REDIS_URL
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { createClient } from 'redis';
import { Server } from 'socket.io';

const [port = '0', redisUrl = ''] = process.argv.slice(2);
const redis = createClient({ url: redisUrl });
await redis.connect();
let sent = 0;
let timer: ReturnType<typeof setInterval> | undefined;
const http = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://x');
  if (url.pathname === '/stream') {
    const rate = Number(url.searchParams.get('rate') ?? '500');
    timer = setInterval(() => io.to('peer').emit('m', `s${sent++}`), 1000 / rate);
    response.end('streaming');
  } else if (url.pathname === '/stop') {
    clearInterval(timer);
    response.end(String(sent));
  } else response.end('ok');
});
const io = new Server(http, {
  adapter: createAdapter(redis),
  connectionStateRecovery: { maxDisconnectionDuration: 2 * 60_000, skipMiddlewares: true },
});
io.on('connection', (socket) => {
  if (!socket.recovered) socket.join('peer');
  console.log(`connection ${socket.recovered ? 'recovered' : 'new'}`);
});
http.listen(Number(port), '127.0.0.1', () => console.log(`listening ${port}`));
