/**
 * Figure 6, many live sockets: 10,000 real loopback WebSockets on the Node adapter with a
 * 1 s keepalive interval for 60 s, clients split over two other processes, beside the
 * same clients on a raw `ws` server running the heartbeat recipe. Every peer answers, so
 * every death is a false death.
 */
import type { Figure, Measurement } from '../lib/result.ts';
import { falseDeaths as deathsOf, live, LIVE_KINDS, type LiveKind, type LiveRun } from '../lib/live.ts';
import { fdLimit } from '../lib/spawn.ts';
import { measure } from '../lib/stats.ts';

const INTERVAL = 1000;
const CLIENT_PROCESSES = 2;

const series = (run: LiveRun, key: 'cpuPercent' | 'rssMiB' | 'heapMiB' | 'loopDelayP99Ms' | 'loopDelayMaxMs') => run.windows.map((w) => w[key]);

const figure: Figure = {
  figure: 6,
  name: 'many live sockets',
  async run({ quick, log }) {
    const wanted = quick ? 500 : 10_000;
    const seconds = quick ? 5 : 60;
    const window = quick ? 1 : 10;
    // The server holds every socket: it needs that many descriptors plus its own few dozen.
    const limit = (await fdLimit()) ?? Infinity;
    const sockets = Math.min(wanted, limit - 200);
    const notes: string[] = [];
    if (sockets < wanted) notes.push(`Open-file limit ${limit} on this machine: ran ${sockets} sockets instead of ${wanted}.`);
    const runs = {} as Record<LiveKind, LiveRun>;
    for (const kind of LIVE_KINDS) runs[kind] = await live({ kind, sockets, interval: INTERVAL, seconds, window, clientProcesses: CLIENT_PROCESSES, log });
    const { adapter, 'ws-recipe': recipe } = runs;
    const pair = (name: string, unit: string, key: Parameters<typeof series>[1]): Measurement =>
      measure({ name, unit, samples: series(adapter, key), baselineSamples: series(recipe, key), baselineName: 'raw ws + heartbeat recipe' });
    const falseDeaths = deathsOf(adapter, sockets);
    const headline = measure({
      name: `false deaths, ${sockets.toLocaleString('en')} sockets for ${seconds} s`,
      unit: 'deaths',
      samples: [falseDeaths],
      baselineSamples: [deathsOf(recipe, sockets)],
      baselineName: 'raw ws + heartbeat recipe',
      target: '0',
      meets: (value) => value === 0,
    });
    if (Object.keys(adapter.closeReasons).length > 0) notes.push(`Adapter close reasons seen by clients: ${JSON.stringify(adapter.closeReasons)}`);
    return {
      ...headline,
      name: 'many live sockets: false deaths',
      scale: `${sockets.toLocaleString('en')} WebSockets, ${INTERVAL} ms interval, ${seconds} s measured in ${seconds / window} windows of ${window} s (median over windows), clients in ${CLIENT_PROCESSES} processes${quick ? ' (quick mode: 500 sockets for 5 s instead of 10,000 for 60 s)' : ''}`,
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
