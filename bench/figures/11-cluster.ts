/**
 * Figure 11, one hub over four Node processes and one redis-server on this machine
 * (interval 1000 ms, count 2, lease 3 s), side by side in one run:
 *
 * - broadcast latency, stamp to arrival, at 1,000 messages a second: to a peer on another
 *   process (through Redis) beside a peer on the sender's own process (the baseline);
 * - Redis commands per second in steady state with idle answering peers (10,000 over four
 *   processes), per process and per connection per interval; false deaths over the run;
 * - SIGKILL of a process holding a quarter of the peers, to the last of them gone from
 *   every survivor's presence (they never come back, so each is declared dead);
 * - then a column per Redis topology (11-topologies.ts): one Redis, a Redis Cluster,
 *   Sentinel, each with Redis commands per second per primary and the failover's gap.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import WebSocket from 'ws';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import { benchFile } from '../lib/paths.ts';
import type { Figure, Measurement } from '../lib/result.ts';
import { spawnNode, type NodeChild } from '../lib/spawn.ts';
import { measure, percentile } from '../lib/stats.ts';
import { topologyParts } from './11-topologies.ts';

const PROCESSES = 4;
const INTERVAL = 1000;
const COUNT = 2;
const LEASE = 3000;
const RATE = 1000;

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });

/** One Redis command on a fresh connection (RESP by hand: the figure needs INFO only). */
async function redisInfo(port: number): Promise<number> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('INFO stats\r\n'));
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

function peer(url: string, onText: (text: string) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => {
      ws.send(TEXT_FRAMES.ADVERTISE);
      resolve(ws);
    });
    ws.on('message', (data) => {
      const text = data.toString();
      if (text === TEXT_FRAMES.PING) ws.send(TEXT_FRAMES.PONG);
      else onText(text);
    });
    ws.once('error', reject);
  });
}

const now = () => performance.timeOrigin + performance.now();

const figure: Figure = {
  figure: 11,
  name: 'one hub over four processes on Redis',
  async run({ quick, log }) {
    const peers = quick ? 400 : 10_000;
    const seconds = quick ? 3 : 60;
    const broadcastSeconds = quick ? 2 : 10;
    const port = await freePort();
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const children: NodeChild[] = [];
    const sockets: WebSocket[] = [];
    try {
      for (let i = 0; i < 100; i++) {
        if (await redisInfo(port).then(() => true, () => false)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const url = `redis://127.0.0.1:${port}`;
      const nodes = Array.from({ length: PROCESSES }, (_, i) => spawnNode(benchFile('workers/cluster-node.ts'), [url, `n${i + 1}`], { onLine: log }));
      children.push(...nodes);
      const urls = await Promise.all(nodes.map(async (node) => (await node.next<{ type: string; url: string }>('ready', 30_000)).url));

      // 1. Broadcast latency: a sender on n1, a receiver on n1 (baseline) and one on n2.
      const latencies = { local: [] as number[], remote: [] as number[] };
      const sender = await peer(urls[0]!, () => {});
      sockets.push(sender, await peer(urls[0]!, (text) => latencies.local.push(now() - Number(text.slice(3)))));
      sockets.push(await peer(urls[1]!, (text) => latencies.remote.push(now() - Number(text.slice(3)))));
      await new Promise((resolve) => setTimeout(resolve, 1500)); // presence and subscriptions settle
      const sent = RATE * broadcastSeconds;
      const started = now();
      for (let i = 0; i < sent; i++) {
        const due = started + (i * 1000) / RATE;
        const wait = due - now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
        sender.send(`bc:${now()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
      log(`broadcast: ${latencies.remote.length}/${sent} across, ${latencies.local.length}/${sent} local`);
      for (const ws of sockets.splice(0)) ws.terminate();

      // 2. Steady state: idle answering peers over the four processes.
      const share = Math.floor(peers / PROCESSES);
      const clients = urls.map((u) => spawnNode(benchFile('workers/live-clients.ts'), [u, String(share), 'keepalive']));
      children.push(...clients);
      const opened = await Promise.all(clients.map((c) => c.next<{ type: string; open: number }>('connected', 300_000)));
      const connected = opened.reduce((sum, o) => sum + o.open, 0);
      await new Promise((resolve) => setTimeout(resolve, 2 * INTERVAL + 1000));
      const before = await redisInfo(port);
      const t0 = now();
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      const commands = (await redisInfo(port)) - before - 1;
      const elapsed = (now() - t0) / 1000;
      const perSecond = commands / elapsed;
      const perConnectionPerInterval = (perSecond * (INTERVAL / 1000)) / connected;
      const stats = await Promise.all(nodes.map((n) => (n.send({ type: 'stats' }), n.next<{ type: string; deaths: number; connections: number }>('stats'))));
      const clientStats = await Promise.all(clients.map((c) => (c.send({ type: 'stats' }), c.next<{ type: string; unexpectedCloses: number }>('stats'))));
      const falseDeaths = stats.reduce((sum, s) => sum + s.deaths, 0) + clientStats.reduce((sum, s) => sum + s.unexpectedCloses, 0);
      log(`steady: ${connected} peers, ${perSecond.toFixed(1)} Redis commands/s, ${falseDeaths} false deaths in ${elapsed.toFixed(0)} s`);

      // 3. SIGKILL of n4 with its peers; they never come back.
      const killed = nodes[3]!;
      const heldThere = opened[3]!.open;
      const killedAt = now();
      killed.proc.kill('SIGKILL');
      let goneAt = NaN;
      for (;;) {
        const counts = await Promise.all(nodes.slice(0, 3).map((n) => (n.send({ type: 'count', node: 'n4' }), n.next<{ type: string; of: number }>('count'))));
        const holders = await Promise.all(nodes.slice(0, 3).map((n) => (n.send({ type: 'count', node: 'n1' }), n.next<{ type: string; of: number; total: number }>('count'))));
        if (counts.every((c) => c.of === 0) && holders.every((h) => h.total === connected - heldThere)) {
          goneAt = now();
          break;
        }
        if (now() - killedAt > 30_000) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const reaped = goneAt - killedAt;
      log(`SIGKILL of a process holding ${heldThere} peers: gone from every presence in ${reaped.toFixed(0)} ms`);

      for (const child of children.splice(0)) child.kill();
      redis.kill('SIGKILL');
      const topologies = await topologyParts(quick, log);

      const bound = INTERVAL * (COUNT + 1);
      const parts: Measurement[] = [
        measure({
          name: `broadcast latency p50, to a peer on another process (${RATE}/s)`,
          unit: 'ms',
          samples: [percentile(latencies.remote, 50)],
          baselineSamples: [percentile(latencies.local, 50)],
          baselineName: 'to a peer on the sender\'s own process',
        }),
        measure({
          name: `broadcast latency p99, to a peer on another process (${RATE}/s)`,
          unit: 'ms',
          samples: [percentile(latencies.remote, 99)],
          baselineSamples: [percentile(latencies.local, 99)],
          baselineName: 'to a peer on the sender\'s own process',
          target: 'p99 <= 5 ms',
          meets: (value) => value <= 5,
        }),
        measure({
          name: `Redis commands per connection per interval (${connected} idle answering peers)`,
          unit: 'commands',
          samples: [perConnectionPerInterval],
          target: '<= 1',
          meets: (value) => value <= 1,
        }),
        measure({ name: 'Redis commands per second, per process', unit: 'commands/s', samples: [perSecond / PROCESSES] }),
        measure({ name: `false deaths over ${seconds} s (${connected} peers)`, unit: 'peers', samples: [falseDeaths], target: '0', meets: (value) => value === 0 }),
        measure({
          name: `SIGKILL of a process holding ${heldThere} peers, to the last gone from every presence`,
          unit: 'ms',
          samples: [reaped],
          target: `<= ${bound + 1000} ms (bound ${bound} ms + 1 s; lease ${LEASE} ms)`,
          meets: (value) => value <= bound + 1000,
        }),
        ...topologies.parts,
      ];
      return {
        ...parts[1]!,
        scale: `${PROCESSES} processes, one redis-server, ${connected} peers, ${seconds} s steady, ${RATE} broadcasts/s for ${broadcastSeconds} s; ${topologies.scale}${quick ? ' (quick mode)' : ''}`,
        parts,
        notes: [
          'Broadcast: a peer on process 1 sends a stamped message 1,000 times a second; the hub broadcasts it; latency is arrival minus stamp at a peer on process 2 (through Redis pub/sub) beside one on process 1.',
          'Commands: total_commands_processed from Redis INFO over the steady window (lease renewals, one HSET of changed records and one PUBLISH of changed presence rows per process per second).',
          'Kill: measured from the SIGKILL to the moment no survivor lists any of the killed process\'s peers. Anchors: Centrifugo keeps a dead node\'s clients in presence up to 60 s, Phoenix Presence about 30 s.',
          ...topologies.notes,
        ],
      };
    } finally {
      for (const ws of sockets) ws.terminate();
      for (const child of children) child.kill();
      redis.kill('SIGKILL');
    }
  },
};
export default figure;
