/**
 * Figures 6 and 9 server process: the Node adapter (or the ws-recipe baseline, or the Deno
 * adapter under Deno) holding many real loopback WebSockets, measuring itself in windows:
 * CPU, RSS, heap, event-loop delay.
 *
 *   node bench/workers/live-server.ts adapter|ws-recipe|ws-text INTERVAL_MS
 *   deno run ... bench/workers/live-server.ts deno INTERVAL_MS     (see bench/lib/live.ts)
 *
 * Commands on stdin: `status`, `measure {seconds, window}`, `gc` (live heap after a full GC),
 * `snapshot {path}` (a heap snapshot after a full GC, and the process's memory then),
 * `allocations {seconds, promotedOnly}` (sampled allocation sites; with `promotedOnly`,
 * of the objects that outlive a scavenge: what fills the old generation), `stop`.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { allocationSites } from '../lib/allocation-sites.ts';
import { onCommand, report } from '../lib/spawn.ts';
import { serveAdapter, type Served } from '../lib/served.ts';

export interface LiveWindow {
  type: 'window';
  seconds: number;
  /** Server CPU time in the window, user + system, all threads (process.cpuUsage). */
  cpuSeconds: number;
  cpuPercent: number;
  rssMiB: number;
  heapMiB: number;
  /** V8's heap as reserved (heapTotal): the used part and the room garbage takes between collections. */
  heapTotalMiB: number;
  /** Memory outside the V8 heap that JS objects hold (buffers). */
  externalMiB: number;
  /** Physical size of each V8 heap space (new_space: the young generation's semi-spaces). */
  spacesMiB: Record<string, number>;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  connections: number;
  deaths: number;
  /** Timers armed in the window (our server's one process timer; 0 for the recipe, which has its setInterval). */
  timersArmed: number;
  /** Statechart steps in the window (our server only). */
  steps: number;
}


// Imported by kind, so a Deno process never loads the Node adapter (nor Node the Deno one).
const DENO_SERVER = '../deno/live-server.ts';

async function serve(kind: string | undefined, interval: number): Promise<Served> {
  if (kind === 'adapter') return serveAdapter((await import('../../adapters/node/server.ts')).startServer, interval);
  if (kind === 'deno') return ((await import(DENO_SERVER)) as { serveDeno(interval: number): Promise<Served> }).serveDeno(interval);
  if (kind === 'ws-recipe' || kind === 'ws-text') {
    const { startRecipeServer } = await import('../baselines/ws-recipe-server.ts');
    const server = await startRecipeServer(interval, kind === 'ws-text' ? 'text' : 'ws-ping');
    return { url: server.url, size: () => server.size, deaths: () => server.terminated, timersArmed: () => 0, steps: () => 0, stop: () => server.close() };
  }
  throw new Error('usage: live-server.ts adapter|ws-recipe|ws-text|deno INTERVAL_MS');
}

const served = await serve(process.argv[2], Number(process.argv[3] ?? 1000));
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();

/**
 * `BENCH_WINDOW_PROF=DIR`: a CPU profile of the measured windows only (`--cpu-prof` also
 * holds the 10,000 handshakes before them), written to DIR as live-server-KIND.cpuprofile.
 */
async function profileWhile<T>(run: () => Promise<T>): Promise<T> {
  const dir = process.env.BENCH_WINDOW_PROF;
  if (!dir) return run();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await run();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(join(dir, `live-server-${process.argv[2]}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

async function measureWindows(seconds: number, window: number): Promise<void> {
  await profileWhile(() => windows(seconds, window));
  report({ type: 'measured' });
}

async function windows(seconds: number, window: number): Promise<void> {
  for (let elapsed = 0; elapsed < seconds; elapsed += window) {
    delay.reset();
    const cpu0 = process.cpuUsage();
    const armed0 = served.timersArmed();
    const steps0 = served.steps();
    const t0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, window * 1000));
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const memory = process.memoryUsage();
    const result: LiveWindow = {
      type: 'window',
      seconds: wall,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      cpuPercent: ((cpu.user + cpu.system) / 1e6 / wall) * 100,
      rssMiB: memory.rss / 2 ** 20,
      heapMiB: memory.heapUsed / 2 ** 20,
      heapTotalMiB: memory.heapTotal / 2 ** 20,
      externalMiB: memory.external / 2 ** 20,
      spacesMiB: Object.fromEntries(getHeapSpaceStatistics().map((space) => [space.space_name, space.physical_space_size / 2 ** 20])),
      loopDelayP99Ms: delay.percentile(99) / 1e6,
      loopDelayMaxMs: delay.max / 1e6,
      connections: served.size(),
      deaths: served.deaths(),
      timersArmed: served.timersArmed() - armed0,
      steps: served.steps() - steps0,
    };
    report(result);
  }
}

onCommand((command) => {
  if (command.type === 'status') report({ type: 'status', connections: served.size(), deaths: served.deaths() });
  else if (command.type === 'measure') void measureWindows(Number(command.seconds), Number(command.window));
  else if (command.type === 'gc') {
    // Live heap (after a full collection), for leak checks between windows; never inside one.
    (globalThis as { gc?: () => void }).gc?.();
    report({ type: 'heap', liveMiB: process.memoryUsage().heapUsed / 2 ** 20, connections: served.size() });
  } else if (command.type === 'snapshot') {
    (globalThis as { gc?: () => void }).gc?.();
    const memory = process.memoryUsage();
    writeHeapSnapshot(String(command.path));
    report({ type: 'snapshot', connections: served.size(), memory });
  } else if (command.type === 'allocations') {
    const seconds = Number(command.seconds);
    (globalThis as { gc?: () => void }).gc?.();
    void allocationSites(() => new Promise((resolve) => setTimeout(resolve, seconds * 1000)), { promotedOnly: command.promotedOnly === true }).then((sites) =>
      report({ type: 'allocations', connections: served.size(), sites: sites.slice(0, 25).map(({ site, bytes }) => ({ site, bytes: bytes / seconds })) }),
    );
  } else if (command.type === 'stop') void served.stop().then(() => process.exit(0));
});
// RSS before any peer connects: figure 9 counts RSS per connection above it.
report({ type: 'ready', url: served.url, rssMiB: process.memoryUsage().rss / 2 ** 20 });
