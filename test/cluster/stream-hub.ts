/**
 * A Node process of a clustered hub for the delivery test: REDIS and NODE from the
 * environment. It prints every application message it hands to `onMessage` (`GOT <seq>
 * <data>`) and every verdict with what the peer never acknowledged (`DEAD <id> <count>
 * <first> <last> <messages>`), so they outlive its SIGKILL in the test's hands, and it
 * streams to one connection of the hub (on any process) over HTTP:
 *
 *   POST /stream/start?to=ID&rate=N   send `s0`, `s1`, ... to ID and broadcast `b0`, `b1`, ...
 *   POST /stream/stop                 stop; answers { sent, broadcast } (every one accepted)
 *   POST /send?to=ID&text=T           one message to ID
 */
import { startServer } from '../../adapters/node/server.ts';

let timer: ReturnType<typeof setInterval> | undefined;
let sent = 0;
let broadcast = 0;

const server = await startServer({
  port: 0,
  tcpPort: null,
  interval: Number(process.env.INTERVAL ?? '1000'),
  count: Number(process.env.COUNT ?? '2'),
  inspector: false,
  cluster: { redis: process.env.REDIS!, node: process.env.NODE! },
  hooks: {
    onMessage(_conn, data, _hub, info) {
      process.stdout.write(`GOT ${info.seq ?? '-'} ${String(data)}\n`);
    },
    onDead(conn, verdict) {
      const u = verdict.undelivered;
      process.stdout.write(`DEAD ${conn.id} ${u ? `${u.count} ${u.first} ${u.last} ${u.messages.map(String).join(',')}` : 'none'}\n`);
    },
  },
  extend(app) {
    app.post('/stream/start', (c) => {
      const to = c.req.query('to')!;
      const rate = Number(c.req.query('rate') ?? '200');
      clearInterval(timer);
      timer = setInterval(() => {
        const conn = server.hub.connection(to);
        if (conn?.send(`s${sent}`)) sent++;
        server.hub.broadcast(`b${broadcast}`);
        broadcast++;
      }, 1000 / rate);
      return c.json({ ok: true });
    });
    app.post('/send', (c) => c.json({ sent: server.hub.connection(c.req.query('to')!)?.send(c.req.query('text')!) ?? false }));
    app.post('/stream/stop', (c) => {
      clearInterval(timer);
      return c.json({ sent, broadcast });
    });
  },
});
console.log(`  WebSocket  ${server.wsUrl}`);
console.log(`  TCP        tcp://none`);
console.log(`  health     ${server.url}/healthz`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
