/**
 * Figure 13, delivery mode (issue 34) beside plain frames, in one run:
 *
 * - frames on the wire, counted by a TCP relay that reads WebSocket frame headers
 *   (bench/lib/frame-relay.ts), between our client and a real Node server in another
 *   process: delivery on / off at 1, 10 and 100 messages per connection per interval, the
 *   server streaming (one way) or both sides (both ways). Target <= 1.05;
 * - the server's CPU per message (user + system of its process over the same windows) at
 *   100 messages per interval. Target within 1.3x;
 * - heap per unacknowledged message: a raw WebSocket speaking the subprotocol that answers
 *   PINGs and never acknowledges; the server sends it N messages (heap after a full GC);
 * - Redis commands per message in a hub of two processes on one redis-server (INFO
 *   total_commands_processed), sends from the holder and from the other process. Target <= 1;
 * - Durable Object storage writes per message, counted in its deliveries store driven by
 *   real links in this process (bench/lib/do-delivery-writes.ts; not workerd). Target <= 1;
 * - time from the resume (the client's `open`) to the last of 1,000 messages the server
 *   had sent into a link that went quiet and was then cut;
 * - Socket.IO 4.8 with connection state recovery beside ours: random cuts, and a SIGKILL of
 *   the process holding the client (lost, duplicated and, across the SIGKILL, out-of-order
 *   messages).
 */
import WebSocket from 'ws';
import { connect, type KeepaliveClient } from '../../adapters/node/client.ts';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import { DELIVERY_PROTOCOL } from '../../runtime/delivery/index.ts';
import { createSessionSecret } from '../../runtime/protocol/sessions.ts';
import { freePort } from '../../test/support/redis.ts';
import { oursUnderCuts, oursUnderKill } from '../lib/delivery-anchors.ts';
import { durableObjectWrites } from '../lib/do-delivery-writes.ts';
import { startFrameRelay } from '../lib/frame-relay.ts';
import { startRedisRelay, type RedisRelay } from '../lib/redis-relay.ts';
import { benchFile } from '../lib/paths.ts';
import type { Figure, Measurement } from '../lib/result.ts';
import { socketIoUnderCuts } from '../lib/socketio-cuts.ts';
import { socketIoUnderKill } from '../lib/socketio-kill.ts';
import { spawnNode, type NodeChild } from '../lib/spawn.ts';
import { measure, median } from '../lib/stats.ts';

const FRAMES_TARGET = 1.05;
const CPU_TARGET = 1.3;
const RATES = [1, 10, 100];
const MODES = ['on', 'off'] as const;
type Mode = (typeof MODES)[number];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean | Promise<boolean>, what: string, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`figure 13: ${what} not within ${timeout} ms`);
    await sleep(10);
  }
}

interface Window {
  cpuUs: number;
  sent: number;
  received: number;
  refused: number;
}

function startServer(interval: number, log: (line: string) => void): { child: NodeChild; url: Promise<string> } {
  const child = spawnNode(benchFile('workers/delivery-server.ts'), [String(interval)], { onLine: log });
  return { child, url: child.next<{ type: string; url: string }>('ready', 30_000).then((m) => m.url) };
}

async function ask<T>(child: NodeChild, type: string, extra: Record<string, unknown> = {}): Promise<T> {
  child.send({ type, ...extra });
  return child.next<T & { type: string }>(type, 30_000);
}

function openClient(url: string, delivery: boolean, interval: number): Promise<KeepaliveClient> {
  const client = connect(url, { delivery, interval, count: 5, reconnect: { minDelay: 20, maxDelay: 100 } });
  return new Promise((resolve, reject) => {
    client.addEventListener('open', () => resolve(client), { once: true });
    client.addEventListener('close', (event) => reject(new Error(`closed before opening: ${event.reason}`)), { once: true });
  });
}

/** One window of `clients` connections through the counting relay: frames per connection per interval, and the server's CPU per message. */
async function frameWindow(
  server: NodeChild,
  serverUrl: string,
  options: { mode: Mode; perInterval: number; bothWays: boolean; clients: number; interval: number; intervals: number },
): Promise<{ frames: number; framesPerMessage: number; cpuPerMessage: number; messages: number }> {
  const port = Number(new URL(serverUrl).port);
  const relay = await startFrameRelay(port);
  const clients = await Promise.all(Array.from({ length: options.clients }, () => openClient(`ws://127.0.0.1:${relay.port}/connect`, options.mode === 'on', options.interval)));
  let sender: ReturnType<typeof setInterval> | undefined;
  try {
    if (options.bothWays) {
      const perTick = (options.perInterval * 10) / options.interval;
      let owed = 0;
      let n = 0;
      sender = setInterval(() => {
        owed += perTick;
        const k = Math.floor(owed);
        owed -= k;
        for (const client of clients) for (let i = 0; i < k; i++) client.send(`c${n++}`);
      }, 10);
    }
    server.send({ type: 'stream', perInterval: options.perInterval });
    await sleep(options.interval); // warm-up: the handshakes are behind us
    const before = { ...relay.counts };
    await ask<Window>(server, 'window');
    await sleep(options.interval * options.intervals);
    const window = await ask<Window>(server, 'window');
    const frames = relay.counts.down - before.down + relay.counts.up - before.up;
    const messages = window.sent + window.received;
    return { frames: frames / options.clients / options.intervals, framesPerMessage: frames / messages, cpuPerMessage: window.cpuUs / messages, messages };
  } finally {
    clearInterval(sender);
    server.send({ type: 'quiet' });
    for (const client of clients) client.close();
    await until(async () => (await ask<{ size: number }>(server, 'connections')).size === 0, 'the connections closed');
    await relay.close();
  }
}

/** A peer in delivery mode that answers PINGs and never acknowledges; counts the DATA it got. */
async function silentPeer(url: string, delivery: boolean): Promise<{ ws: WebSocket; data: () => number }> {
  const ws = new WebSocket(`${url}?session=${createSessionSecret()}`, delivery ? [DELIVERY_PROTOCOL] : [], { perMessageDeflate: false });
  let data = 0;
  ws.on('message', (raw) => {
    const text = raw.toString();
    if (text === TEXT_FRAMES.PING || text.startsWith('keepalive:PING ')) ws.send(TEXT_FRAMES.PONG);
    else if (!text.startsWith('keepalive:')) data++;
    else if (text.startsWith('keepalive:DATA ')) data++;
  });
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  ws.send(TEXT_FRAMES.ADVERTISE);
  if (delivery) ws.send('keepalive:RESUME - 0 0');
  return { ws, data: () => data };
}

const figure: Figure = {
  figure: 13,
  name: 'delivery mode (issue 34)',
  async run({ quick, runs, log }) {
    const parts: Measurement[] = [];
    const notes: string[] = [];
    const t0 = performance.now();
    const interval = quick ? 200 : 1000;
    const clients = quick ? 5 : 50;
    const intervals = quick ? 3 : 5;
    const rounds = quick ? 1 : 3;

    // 1-2. Frames and server CPU, on and off alternated within each rate and direction.
    const served = startServer(interval, log);
    const cpu: Record<string, Record<Mode, number[]>> = {};
    try {
      const url = await served.url;
      for (const bothWays of [false, true]) {
        for (const perInterval of quick ? [1, 100] : RATES) {
          const frames: Record<Mode, number[]> = { on: [], off: [] };
          const perConn: Record<Mode, number[]> = { on: [], off: [] };
          const cpuPer: Record<Mode, number[]> = { on: [], off: [] };
          for (let round = 0; round < rounds; round++) {
            for (const mode of round % 2 === 0 ? MODES : [...MODES].reverse()) {
              const w = await frameWindow(served.child, url, { mode, perInterval, bothWays, clients, interval, intervals });
              frames[mode].push(w.framesPerMessage);
              perConn[mode].push(w.frames);
              cpuPer[mode].push(w.cpuPerMessage);
            }
          }
          const way = bothWays ? 'both ways' : 'one way';
          cpu[`${perInterval} ${way}`] = cpuPer;
          log(`${perInterval}/interval ${way}: frames/conn/interval on ${median(perConn.on).toFixed(2)}, off ${median(perConn.off).toFixed(2)}; frames/message on ${median(frames.on).toFixed(3)}, off ${median(frames.off).toFixed(3)}; CPU/message on ${median(cpuPer.on).toFixed(1)} us, off ${median(cpuPer.off).toFixed(1)} us`);
          parts.push(
            measure({
              name: `frames on the wire, ${perInterval} message(s) per connection per interval, ${way}`,
              unit: 'frames/message',
              samples: frames.on,
              baselineSamples: frames.off,
              baselineName: 'delivery off (plain frames)',
              target: `ratio <= ${FRAMES_TARGET}`,
              meets: (_v, ratio) => ratio !== null && ratio <= FRAMES_TARGET,
            }),
          );
        }
      }
      for (const way of ['one way', 'both ways']) {
        const c = cpu[`100 ${way}`]!;
        parts.push(
          measure({
            name: `server CPU per message, 100 messages per connection per interval, ${way}`,
            unit: 'CPU-us/message',
            samples: c.on,
            baselineSamples: c.off,
            baselineName: 'delivery off (plain frames)',
            target: `ratio <= ${CPU_TARGET}`,
            meets: (_v, ratio) => ratio !== null && ratio <= CPU_TARGET,
          }),
        );
      }
    } finally {
      served.child.kill();
    }

    log(`section done at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // 3. Heap per unacknowledged message.
    const held = quick ? 1000 : 5000;
    const payload = 64;
    const memServer = startServer(1000, log);
    try {
      const url = await memServer.url;
      const growth: Record<Mode, number[]> = { on: [], off: [] };
      const peers: WebSocket[] = [];
      for (let round = 0; round < (quick ? 1 : runs); round++) {
        for (const mode of round % 2 === 0 ? MODES : [...MODES].reverse()) {
          const peer = await silentPeer(url, mode === 'on');
          peers.push(peer.ws);
          await sleep(100);
          const before = (await ask<{ heapUsed: number }>(memServer.child, 'heap')).heapUsed;
          // Only this peer gets the burst: the others are closed by now (plain) or held (on).
          const { sent } = await ask<{ sent: number }>(memServer.child, 'burst', { n: held, bytes: payload, last: true });
          await until(() => peer.data() >= held, `${held} messages at the silent peer`);
          const after = (await ask<{ heapUsed: number }>(memServer.child, 'heap')).heapUsed;
          growth[mode].push((after - before) / held);
          if (sent < held) throw new Error(`figure 13: the server sent ${sent} of ${held}`);
          if (mode === 'off') peer.ws.terminate();
        }
      }
      for (const ws of peers) ws.terminate();
      log(`heap per message held unacknowledged: ${median(growth.on).toFixed(0)} bytes (delivery off, not held: ${median(growth.off).toFixed(0)})`);
      parts.push(
        measure({ name: `heap per unacknowledged message (${held} held, ${payload}-byte payloads)`, unit: 'bytes', samples: growth.on }),
        measure({ name: `heap growth per message sent, delivery off (nothing held; ${held} sent)`, unit: 'bytes', samples: growth.off }),
      );
    } finally {
      memServer.child.kill();
    }

    log(`section done at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // 4. Resume to the last of 1,000 replayed messages.
    const outstanding = 1000;
    const resumeServer = startServer(1000, log);
    try {
      const url = await resumeServer.url;
      const relay = await startFrameRelay(Number(new URL(url).port));
      const replay: number[] = [];
      const live: number[] = [];
      for (const mode of MODES) {
        const client = await openClient(`ws://127.0.0.1:${relay.port}/connect`, mode === 'on', 1000);
        let got = 0;
        let first = 0;
        let last = 0;
        client.addEventListener('message', () => {
          got++;
          if (got === 1) first = performance.now();
          if (got === outstanding) last = performance.now();
        });
        for (let round = 0; round < (quick ? 1 : runs); round++) {
          got = 0;
          if (mode === 'on') {
            relay.blackhole = true;
            await ask(resumeServer.child, 'burst', { n: outstanding, bytes: 16 });
            await sleep(50);
            const opened = new Promise<number>((resolve) => client.addEventListener('open', () => resolve(performance.now()), { once: true }));
            relay.cut();
            relay.blackhole = false;
            const at = await opened;
            await until(() => got >= outstanding, `${outstanding} replayed messages`);
            replay.push(last - at);
          } else {
            await ask(resumeServer.child, 'burst', { n: outstanding, bytes: 16 });
            await until(() => got >= outstanding, `${outstanding} messages`);
            live.push(last - first);
          }
          await sleep(200);
        }
        client.close();
        await until(async () => (await ask<{ size: number }>(resumeServer.child, 'connections')).size === 0, 'the connection closed');
      }
      await relay.close();
      log(`resume to the last of ${outstanding} replayed: ${median(replay).toFixed(1)} ms; ${outstanding} on a live socket, delivery off, first to last: ${median(live).toFixed(1)} ms`);
      parts.push(
        measure({
          name: `resume (client 'open') to the last of ${outstanding} messages outstanding`,
          unit: 'ms',
          samples: replay,
          baselineSamples: live,
          baselineName: `${outstanding} sent at once on a live socket, delivery off, first to last arrival`,
        }),
      );
    } finally {
      resumeServer.child.kill();
    }

    log(`section done at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // 5. Redis commands per message, holder's sends and another process's.
    const perSecond = 100;
    const clusterClients = quick ? 5 : 10;
    const clusterSeconds = quick ? 1 : 5;
    const redisPort = await freePort();
    const { spawn } = await import('node:child_process');
    const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const nodes: NodeChild[] = [];
    let relay: RedisRelay | undefined;
    try {
      const info = () => redisCommands(redisPort);
      await until(() => info().then(() => true, () => false), 'redis-server up');
      relay = await startRedisRelay(redisPort);
      const redisUrl = relay.url;
      for (const name of ['a', 'b']) nodes.push(spawnNode(benchFile('workers/delivery-cluster-node.ts'), [redisUrl, name], { onLine: log }));
      const [holderUrl] = await Promise.all(nodes.map(async (n) => (await n.next<{ type: string; url: string }>('ready', 30_000)).url));
      for (const from of ['holder', 'other'] as const) {
        const per: Record<Mode, number[]> = { on: [], off: [] };
        const processed: Record<Mode, number[]> = { on: [], off: [] };
        const scripts: Record<Mode, number[]> = { on: [], off: [] };
        for (let round = 0; round < rounds; round++) {
          for (const mode of round % 2 === 0 ? MODES : [...MODES].reverse()) {
            const conns = await Promise.all(Array.from({ length: clusterClients }, () => openClient(holderUrl!, mode === 'on', 1000)));
            let ids: string[] = [];
            await until(async () => (ids = (await ask<{ ids: string[] }>(nodes[0]!, 'ids')).ids).length === clusterClients, 'the holder has every connection');
            if (from === 'other') await sleep(quick ? 1000 : 1500); // presence reaches the other process
            const sender = from === 'holder' ? nodes[0]! : nodes[1]!;
            const before = await info();
            const sentBefore = { commands: relay.commands, scripts: relay.scripts };
            sender.send({ type: 'stream', to: ids, perSecond });
            await sleep(clusterSeconds * 1000);
            const { sent } = await ask<{ sent: number }>(sender, 'quiet');
            await sleep(300); // the last batch written
            per[mode].push((relay.commands - sentBefore.commands) / sent);
            scripts[mode].push((relay.scripts - sentBefore.scripts) / sent);
            processed[mode].push(((await info()) - before - 1) / sent);
            for (const c of conns) c.close();
            await until(async () => (await ask<{ ids: string[] }>(nodes[0]!, 'ids')).ids.length === 0, 'the connections closed');
            await sleep(300);
          }
        }
        const who = from === 'holder' ? 'sent by the process holding the connection' : 'sent from another process';
        log(`Redis commands per message ${who}: sent on ${median(per.on).toFixed(3)} (scripts ${median(scripts.on).toFixed(3)}), off ${median(per.off).toFixed(3)}; processed by Redis, scripts' calls included: on ${median(processed.on).toFixed(2)}, off ${median(processed.off).toFixed(2)}`);
        parts.push(
          measure({
            name: `Redis commands sent per message, ${who} (${clusterClients} connections x ${perSecond}/s)`,
            unit: 'commands/message',
            samples: per.on,
            baselineSamples: per.off,
            baselineName: 'delivery off (every command of the hub in the same window)',
            target: '<= 1',
            meets: (value) => value <= 1,
          }),
          measure({
            name: `Redis commands processed per message (INFO, each call inside a script counted), ${who}`,
            unit: 'commands/message',
            samples: processed.on,
            baselineSamples: processed.off,
            baselineName: 'delivery off',
          }),
        );
      }
    } finally {
      for (const n of nodes) n.kill();
      await relay?.close();
      redis.kill('SIGKILL');
    }

    log(`section done at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // 6. Durable Object storage writes per message (the store's own count).
    for (const bothWays of [false, true]) {
      for (const batched of [false, true]) {
        for (const perInterval of [1, 100]) {
          const run = await durableObjectWrites({ perInterval, intervals: quick ? 5 : 20, bothWays, batched });
          const how = batched ? `all ${perInterval} sent in one turn` : 'each sent in a turn of its own';
          parts.push(
            measure({
              name: `Durable Object storage writes per message, ${perInterval} per interval ${bothWays ? 'both ways' : 'one way'}, ${how}`,
              unit: 'writes/message',
              samples: [run.perMessage],
              target: '<= 1',
              meets: (value) => value <= 1,
            }),
          );
        }
      }
    }

    log(`section done at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // 7. Socket.IO 4.8 beside ours: random cuts, then a SIGKILL of the holder.
    const rate = quick ? 200 : 500;
    const durationMs = quick ? 2000 : 20_000;
    const cutMin = 400;
    const cutMax = 1000;
    const sio = await socketIoUnderCuts({ rate, durationMs, cutMin, cutMax, settleMs: 2000 });
    const ours = await oursUnderCuts({ rate, cuts: sio.cuts, cutMin, cutMax, settleMs: 10_000 });
    log(`cuts: Socket.IO ${sio.cuts} cuts (${sio.recovered} recovered), ours ${ours.cuts} in ${ours.seconds.toFixed(1)} s`);
    const killRate = 200;
    const beforeKillMs = quick ? 800 : 3000;
    const afterKillMs = quick ? 1200 : 5000;
    const sioKill = await socketIoUnderKill({ rate: killRate, beforeKillMs, afterKillMs });
    log(`section done at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const oursKill = await oursUnderKill({ rate: killRate, beforeKillMs, afterKillMs });
    log(`kill: Socket.IO recovered ${sioKill.recovered}, ${JSON.stringify(sioKill.serverToClient)}; ours resumed ${oursKill.resumed}, ${JSON.stringify(oursKill.serverToClient)}`);
    const anchor = (name: string, value: number, baseline: number, baselineName: string) =>
      measure({ name, unit: 'messages', samples: [value], baselineSamples: [baseline], baselineName, target: '0', meets: (v) => v === 0 });
    const sioCuts = `Socket.IO 4.8.4, connection state recovery, in memory`;
    const sioRedis = `Socket.IO 4.8.4, connection state recovery, redis-streams-adapter`;
    const cutsName = `${rate}/s each way, ${sio.cuts} vs ${ours.cuts} cuts ${cutMin}-${cutMax} ms apart`;
    parts.push(
      anchor(`lost server to client under cuts (${cutsName})`, ours.serverToClient.lost, sio.serverToClient.lost, sioCuts),
      anchor(`duplicated server to client under cuts`, ours.serverToClient.duplicated, sio.serverToClient.duplicated, sioCuts),
      anchor(`lost client to server under cuts`, ours.clientToServer.lost, sio.clientToServer.lost, sioCuts),
      anchor(`duplicated client to server under cuts`, ours.clientToServer.duplicated, sio.clientToServer.duplicated, sioCuts),
      anchor(`lost to the client across a SIGKILL of its holder (3 processes, ${killRate}/s from another)`, oursKill.serverToClient.lost, sioKill.serverToClient.lost, sioRedis),
      anchor(`duplicated to the client across a SIGKILL of its holder`, oursKill.serverToClient.duplicated, sioKill.serverToClient.duplicated, sioRedis),
      anchor(`out of order to the client across a SIGKILL of its holder`, oursKill.serverToClient.outOfOrder, sioKill.serverToClient.outOfOrder, sioRedis),
    );
    notes.push(
      `Cuts: Socket.IO sent ${sio.serverToClient.sent} down and ${sio.clientToServer.sent} up, reported ${sio.recovered} reconnects recovered and ${sio.notRecovered} not; ours sent ${ours.serverToClient.sent} down and ${ours.clientToServer.sent} up over ${ours.seconds.toFixed(1)} s (Socket.IO ${(durationMs / 1000).toFixed(0)} s).`,
      `Kill: Socket.IO ${sioKill.recovered ? 'reported the reconnect recovered' : 'did not recover the session'}, ${sioKill.serverToClient.sent} sent; ours ${oursKill.resumed ? 'resumed' : 'did not resume'}, ${oursKill.serverToClient.sent} sent (and ${oursKill.broadcasts.sent} broadcasts: ${oursKill.broadcasts.lost} lost, ${oursKill.broadcasts.duplicated} duplicated).`,
      'Frames: counted by a relay reading WebSocket headers between our client and the Node server (another process), both ways together, over a window after one interval of warm-up, divided by the application messages the server sent and received in it (so a window where a loaded machine sent fewer compares alike); the baseline is the same client with delivery: false, alternated.',
      'CPU: user + system time of the server process over the same window, divided by the messages it sent and received.',
      'Durable Object writes: the deliveries store of adapters/cloudflare counted in this process, driven by real links, each frame in a turn of its own; workerd itself is not run.',
    );
    const headline = parts[2]!;
    return {
      ...headline,
      scale: `${clients} connections, interval ${interval} ms, ${intervals} intervals per window, ${rounds} round(s) on/off; cluster ${clusterClients} connections x ${perSecond}/s for ${clusterSeconds} s; ${held} held; cuts ${rate}/s for ${durationMs / 1000} s${quick ? ' (quick mode)' : ''}`,
      parts,
      notes,
    };
  },
};
export default figure;

/** INFO total_commands_processed, on a connection of its own. */
async function redisCommands(port: number): Promise<number> {
  const { connect: tcp } = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = tcp(port, '127.0.0.1', () => socket.write('INFO stats\r\n'));
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString();
      const match = /total_commands_processed:(\d+)/.exec(text);
      if (match) {
        socket.destroy();
        resolve(Number(match[1]));
      }
    });
    socket.on('error', reject);
  });
}
