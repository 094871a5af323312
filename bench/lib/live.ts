/**
 * One run of live loopback WebSockets against one server process (figures 6 and 9): the
 * server (`bench/workers/live-server.ts`, our Node adapter or the `ws` heartbeat recipe)
 * in its own process, clients split over other processes, every peer answering. The
 * server measures itself in windows; the clients count every socket closed under them.
 */
import { benchFile } from './paths.ts';
import { spawnNode, spawnCommand, type NodeChild } from './spawn.ts';
import { denoBinary } from './deno.ts';
import type { LiveWindow } from '../workers/live-server.ts';

export const LIVE_KINDS = ['adapter', 'ws-recipe'] as const;
/** `ws-text`: the recipe speaking our text dialect; `deno`: the Deno adapter's server, under Deno. */
export type LiveKind = (typeof LIVE_KINDS)[number] | 'ws-text' | 'deno';

interface ClientStats {
  type: string;
  open: number;
  unexpectedCloses: number;
  pingsReceived: number;
  closeReasons: Record<string, number>;
}

export interface LiveRun {
  windows: LiveWindow[];
  connected: number;
  /** The server's RSS before any peer connected. */
  emptyRssMiB: number;
  deaths: number;
  unexpectedCloses: number;
  pingsPerConnectionPerSecond: number;
  closeReasons: Record<string, number>;
}

export interface LiveOptions {
  kind: LiveKind;
  sockets: number;
  /** Keepalive interval of both servers, ms. */
  interval: number;
  seconds: number;
  window: number;
  clientProcesses: number;
  log: (line: string) => void;
}

export async function live({ kind, sockets, interval, seconds, window, clientProcesses, log }: LiveOptions): Promise<LiveRun> {
  const children: NodeChild[] = [];
  try {
    const server = kind === 'deno' ? spawnDenoLiveServer(interval) : spawnNode(benchFile('workers/live-server.ts'), [kind, String(interval)]);
    children.push(server);
    const { url, rssMiB: emptyRssMiB } = await server.next<{ type: string; url: string; rssMiB: number }>('ready', 30_000);
    const t0 = performance.now();
    const clients = Array.from({ length: clientProcesses }, (_, i) => {
      const share = Math.floor(sockets / clientProcesses) + (i < sockets % clientProcesses ? 1 : 0);
      return spawnNode(benchFile('workers/live-clients.ts'), [url, String(share), kind === 'ws-recipe' ? 'ws-ping' : 'keepalive']);
    });
    children.push(...clients);
    const opened = await Promise.all(clients.map((c) => c.next<{ type: string; open: number; failed: number }>('connected', 300_000)));
    const connected = opened.reduce((s, o) => s + o.open, 0);
    const failed = opened.reduce((s, o) => s + o.failed, 0);
    log(`${kind}: ${connected} connected, ${failed} failed, in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // Settle: every connection through at least two keepalive rounds before measuring.
    await new Promise((resolve) => setTimeout(resolve, 2 * interval + 500));
    const before = await Promise.all(clients.map((c) => (c.send({ type: 'stats' }), c.next<ClientStats>('stats'))));
    server.send({ type: 'measure', seconds, window });
    const windows: LiveWindow[] = [];
    for (let elapsed = 0; elapsed < seconds; elapsed += window) {
      const w = await server.next<LiveWindow>('window', (window + 30) * 1000);
      log(
        `${kind}: cpu ${w.cpuPercent.toFixed(1)}%, rss ${w.rssMiB.toFixed(0)} MiB, loop delay p99 ${w.loopDelayP99Ms.toFixed(1)} ms, ${w.connections} connections, ${w.deaths} deaths`,
      );
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
      emptyRssMiB,
      deaths: windows.at(-1)?.deaths ?? 0,
      unexpectedCloses: after.reduce((s, a) => s + a.unexpectedCloses, 0) + failed,
      pingsPerConnectionPerSecond: pings / connected / measuredSeconds,
      closeReasons,
    };
  } finally {
    for (const child of children) child.kill();
  }
}

/** Every death a run saw: declared by the server, closed under a client, or never connected. */
export function falseDeaths(run: LiveRun, sockets: number): number {
  return run.deaths + run.unexpectedCloses + (sockets - run.connected);
}

/**
 * The same server script under Deno, with what it needs: loopback, its environment
 * (BENCH_* switches), the repo to read and heap snapshots to write, and `gc()`.
 */
function spawnDenoLiveServer(interval: number): NodeChild {
  const permissions = ['--allow-net=127.0.0.1', '--allow-env', '--allow-read', '--allow-write', '--allow-sys', '--v8-flags=--expose-gc'];
  return spawnCommand([denoBinary(), 'run', ...permissions, benchFile('workers/live-server.ts'), 'deno', String(interval)], 'live-server.ts (deno)', { cwd: benchFile('..') });
}
