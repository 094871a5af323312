/**
 * Figure 6, many live sockets: 10,000 real loopback WebSockets on the Node adapter with a
 * 1 s keepalive interval for 60 s, clients split over two other processes, beside the
 * same clients on a raw `ws` server running the heartbeat recipe. Every peer answers, so
 * every death is a false death.
 */
import { benchFile } from '../lib/paths.ts';
import type { Figure, Measurement } from '../lib/result.ts';
import { fdLimit, spawnNode, type NodeChild } from '../lib/spawn.ts';
import { measure } from '../lib/stats.ts';
import type { LiveWindow } from '../workers/live-server.ts';

const INTERVAL = 1000;
const CLIENT_PROCESSES = 2;
const KINDS = ['adapter', 'ws-recipe'] as const;
type Kind = (typeof KINDS)[number];

interface ClientStats {
  type: string;
  open: number;
  unexpectedCloses: number;
  pingsReceived: number;
  closeReasons: Record<string, number>;
}

interface LiveRun {
  windows: LiveWindow[];
  connected: number;
  deaths: number;
  unexpectedCloses: number;
  pingsPerConnectionPerSecond: number;
  closeReasons: Record<string, number>;
}

async function live(kind: Kind, sockets: number, seconds: number, window: number, log: (line: string) => void): Promise<LiveRun> {
  const children: NodeChild[] = [];
  try {
    const server = spawnNode(benchFile('workers/live-server.ts'), [kind, String(INTERVAL)]);
    children.push(server);
    const { url } = await server.next<{ type: string; url: string }>('ready', 30_000);
    const t0 = performance.now();
    const clients = Array.from({ length: CLIENT_PROCESSES }, (_, i) => {
      const share = Math.floor(sockets / CLIENT_PROCESSES) + (i < sockets % CLIENT_PROCESSES ? 1 : 0);
      return spawnNode(benchFile('workers/live-clients.ts'), [url, String(share), kind === 'adapter' ? 'keepalive' : 'ws-ping']);
    });
    children.push(...clients);
    const opened = await Promise.all(clients.map((c) => c.next<{ type: string; open: number; failed: number }>('connected', 300_000)));
    const connected = opened.reduce((s, o) => s + o.open, 0);
    const failed = opened.reduce((s, o) => s + o.failed, 0);
    log(`${kind}: ${connected} connected, ${failed} failed, in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // Settle: every connection through at least two keepalive rounds before measuring.
    await new Promise((resolve) => setTimeout(resolve, 2 * INTERVAL + 500));
    const before = await Promise.all(clients.map((c) => (c.send({ type: 'stats' }), c.next<ClientStats>('stats'))));
    server.send({ type: 'measure', seconds, window });
    const windows: LiveWindow[] = [];
    for (let elapsed = 0; elapsed < seconds; elapsed += window) {
      const w = await server.next<LiveWindow>('window', (window + 30) * 1000);
      log(`${kind}: cpu ${w.cpuPercent.toFixed(1)}%, rss ${w.rssMiB.toFixed(0)} MiB, loop delay p99 ${w.loopDelayP99Ms.toFixed(1)} ms, ${w.connections} connections, ${w.deaths} deaths`);
      windows.push(w);
    }
    await server.next('measured');
    const after = await Promise.all(clients.map((c) => (c.send({ type: 'stats' }), c.next<ClientStats>('stats'))));
    const pings = after.reduce((s, a, i) => s + a.pingsReceived - before[i]!.pingsReceived, 0);
    const measuredSeconds = windows.reduce((s, w) => s + w.seconds, 0);
    const closeReasons: Record<string, number> = {};
    for (const a of after) for (const [reason, n] of Object.entries(a.closeReasons)) closeReasons[reason] = (closeReasons[reason] ?? 0) + n;
    for (const c of clients) c.send({ type: 'stop' });
    server.send({ type: 'stop' });
    await Promise.all(children.map((c) => c.exited(30_000)));
    return {
      windows,
      connected,
      deaths: windows.at(-1)?.deaths ?? 0,
      unexpectedCloses: after.reduce((s, a) => s + a.unexpectedCloses, 0) + failed,
      pingsPerConnectionPerSecond: pings / connected / measuredSeconds,
      closeReasons,
    };
  } finally {
    for (const child of children) child.kill();
  }
}

const series = (run: LiveRun, key: 'cpuPercent' | 'rssMiB' | 'heapMiB' | 'loopDelayP99Ms' | 'loopDelayMaxMs') => run.windows.map((w) => w[key]);

const figure: Figure = {
  figure: 6,
  name: 'many live sockets',
  async run({ quick, log }) {
    const wanted = quick ? 1_000 : 10_000;
    const seconds = quick ? 10 : 60;
    const window = quick ? 2 : 10;
    // The server holds every socket: it needs that many descriptors plus its own few dozen.
    const limit = (await fdLimit()) ?? Infinity;
    const sockets = Math.min(wanted, limit - 200);
    const notes: string[] = [];
    if (sockets < wanted) notes.push(`Open-file limit ${limit} on this machine: ran ${sockets} sockets instead of ${wanted}.`);
    const runs = {} as Record<Kind, LiveRun>;
    for (const kind of KINDS) runs[kind] = await live(kind, sockets, seconds, window, log);
    const { adapter, 'ws-recipe': recipe } = runs;
    const pair = (name: string, unit: string, key: Parameters<typeof series>[1]): Measurement =>
      measure({ name, unit, samples: series(adapter, key), baselineSamples: series(recipe, key), baselineName: 'raw ws + heartbeat recipe' });
    const falseDeaths = adapter.deaths + adapter.unexpectedCloses + (sockets - adapter.connected);
    const headline = measure({
      name: `false deaths, ${sockets.toLocaleString('en')} sockets for ${seconds} s`,
      unit: 'deaths',
      samples: [falseDeaths],
      baselineSamples: [recipe.deaths + recipe.unexpectedCloses + (sockets - recipe.connected)],
      baselineName: 'raw ws + heartbeat recipe',
      target: '0',
      meets: (value) => value === 0,
    });
    if (Object.keys(adapter.closeReasons).length > 0) notes.push(`Adapter close reasons seen by clients: ${JSON.stringify(adapter.closeReasons)}`);
    return {
      ...headline,
      name: 'many live sockets: false deaths',
      scale: `${sockets.toLocaleString('en')} WebSockets, ${INTERVAL} ms interval, ${seconds} s measured in ${seconds / window} windows of ${window} s (median over windows), clients in ${CLIENT_PROCESSES} processes${quick ? ' (quick mode: 1,000 sockets for 10 s instead of 10,000 for 60 s)' : ''}`,
      parts: [
        headline,
        pair('server CPU', '%', 'cpuPercent'),
        pair('server RSS', 'MiB', 'rssMiB'),
        pair('server heap used', 'MiB', 'heapMiB'),
        pair('server event-loop delay p99', 'ms', 'loopDelayP99Ms'),
        pair('server event-loop delay max', 'ms', 'loopDelayMaxMs'),
        measure({
          name: 'PINGs per connection per second',
          unit: '/s',
          samples: [adapter.pingsPerConnectionPerSecond],
          baselineSamples: [recipe.pingsPerConnectionPerSecond],
          baselineName: 'raw ws + heartbeat recipe',
        }),
      ],
      notes: [
        ...notes,
        'False deaths count server-declared deaths, sockets closed under a client, and sockets that never connected. Our server declares death after 5 unanswered PINGs + 1 interval (6 s); the recipe terminates after one missed pong.',
        'Clients only answer (keepalive:PONG on the adapter, protocol pongs from ws on the recipe), so both servers PING every connection about once per interval. Event-loop delay: perf_hooks.monitorEventLoopDelay at 10 ms resolution.',
      ],
    };
  },
};
export default figure;
