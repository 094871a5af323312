/**
 * Figure 9, what a Node user pays per live connection: 10,000 loopback WebSocket peers
 * answering PINGs at a 1 s interval for 60 s, on our Node server (`startServer`, the
 * default server: no hooks, no webhook, snapshots in memory) and on a `ws` server running
 * the README's heartbeat recipe, each in its own process, with the same client processes.
 * Measured by each server on itself: CPU-seconds per connection per interval
 * (`process.cpuUsage`, user + system, all threads) and RSS per connection above the
 * empty process; false deaths on either side. At full size, also the recipe speaking our
 * text frames and the Deno adapter's server (under `deno`, the same peers).
 */
import { falseDeaths, live, LIVE_KINDS, type LiveKind, type LiveRun } from '../lib/live.ts';
import type { Figure } from '../lib/result.ts';
import { fdLimit } from '../lib/spawn.ts';
import { measure } from '../lib/stats.ts';
import type { LiveWindow } from '../workers/live-server.ts';

const INTERVAL = 1000;
const CLIENT_PROCESSES = 2;
const BASELINE = 'ws + heartbeat recipe (README)';

/** CPU microseconds per connection per interval, one value per window. */
const cpuPerConnection = (run: LiveRun) => run.windows.map((w: LiveWindow) => (w.cpuSeconds * 1e6) / w.connections / ((w.seconds * 1000) / INTERVAL));
/** KiB of RSS per connection above the empty process, one value per window. */
const rssPerConnection = (run: LiveRun) => run.windows.map((w: LiveWindow) => ((w.rssMiB - run.emptyRssMiB) * 1024) / w.connections);

const figure: Figure = {
  figure: 9,
  name: 'server cost per live connection',
  async run({ quick, log }) {
    const wanted = quick ? 500 : 10_000;
    const seconds = quick ? 5 : 60;
    const window = quick ? 1 : 10;
    const limit = (await fdLimit()) ?? Infinity;
    const sockets = Math.min(wanted, limit - 200);
    const notes: string[] = [];
    if (sockets < wanted) notes.push(`Open-file limit ${limit} on this machine: ran ${sockets} sockets instead of ${wanted}.`);
    const runs = {} as Record<LiveKind, LiveRun>;
    for (const kind of LIVE_KINDS) runs[kind] = await live({ kind, sockets, interval: INTERVAL, seconds, window, clientProcesses: CLIENT_PROCESSES, log });
    const { adapter, 'ws-recipe': recipe } = runs;
    // Full size only: the recipe speaking our text dialect, to tell the frames' cost from the runtime's.
    const text = quick ? undefined : await live({ kind: 'ws-text', sockets, interval: INTERVAL, seconds, window, clientProcesses: CLIENT_PROCESSES, log });
    // Full size only: the Deno adapter's server under the real deno binary, the same peers.
    const deno = quick ? undefined : await live({ kind: 'deno', sockets, interval: INTERVAL, seconds, window, clientProcesses: CLIENT_PROCESSES, log });
    const deaths = { adapter: falseDeaths(adapter, sockets), recipe: falseDeaths(recipe, sockets) };
    const cpu = measure({
      name: 'server CPU per connection per interval',
      unit: 'CPU-us/conn/interval',
      samples: cpuPerConnection(adapter),
      baselineSamples: cpuPerConnection(recipe),
      baselineName: BASELINE,
      target: 'ratio <= 1.5, 0 false deaths on either side',
      meets: (_value, ratio) => ratio !== null && ratio <= 1.5 && deaths.adapter === 0 && deaths.recipe === 0,
    });
    const rss = measure({
      name: 'server RSS per connection (above the empty process)',
      unit: 'KiB/conn',
      samples: rssPerConnection(adapter),
      baselineSamples: rssPerConnection(recipe),
      baselineName: BASELINE,
    });
    const died = measure({
      name: 'false deaths (server-declared, closed under a client, never connected)',
      unit: 'deaths',
      samples: [deaths.adapter],
      baselineSamples: [deaths.recipe],
      baselineName: BASELINE,
      target: '0 on either side',
      meets: () => deaths.adapter === 0 && deaths.recipe === 0,
    });
    const pings = measure({
      name: 'PINGs per connection per second',
      unit: '/s',
      samples: [adapter.pingsPerConnectionPerSecond],
      baselineSamples: [recipe.pingsPerConnectionPerSecond],
      baselineName: BASELINE,
    });
    if (Object.keys(adapter.closeReasons).length > 0) notes.push(`Our server's close reasons seen by clients: ${JSON.stringify(adapter.closeReasons)}`);
    if (Object.keys(recipe.closeReasons).length > 0) notes.push(`Recipe's close reasons seen by clients: ${JSON.stringify(recipe.closeReasons)}`);
    return {
      ...cpu,
      name: `server CPU per connection per interval, ${sockets.toLocaleString('en')} live WebSockets`,
      scale: `${sockets.toLocaleString('en')} WebSockets, ${INTERVAL} ms interval, ${seconds} s measured in ${seconds / window} windows of ${window} s (median over windows), clients in ${CLIENT_PROCESSES} processes${quick ? ' (quick mode: 500 sockets for 5 s instead of 10,000 for 60 s)' : ''}`,
      parts: [
        cpu,
        rss,
        died,
        pings,
        ...(text
          ? [
              measure({
                name: 'the recipe speaking our text dialect (keepalive:PING / PONG text frames), CPU per connection per interval',
                unit: 'CPU-us/conn/interval',
                samples: cpuPerConnection(text),
                baselineSamples: cpuPerConnection(recipe),
                baselineName: BASELINE,
              }),
              measure({
                name: 'our server against the recipe speaking our text dialect, CPU per connection per interval',
                unit: 'CPU-us/conn/interval',
                samples: cpuPerConnection(adapter),
                baselineSamples: cpuPerConnection(text),
                baselineName: 'ws + heartbeat recipe, text dialect',
              }),
              measure({ name: 'false deaths, the recipe speaking our text dialect', unit: 'deaths', samples: [falseDeaths(text, sockets)], target: '0', meets: (v) => v === 0 }),
            ]
          : []),
        ...(deno
          ? [
              measure({
                name: 'the Deno adapter, CPU per connection per interval',
                unit: 'CPU-us/conn/interval',
                samples: cpuPerConnection(deno),
                baselineSamples: cpuPerConnection(recipe),
                baselineName: BASELINE,
              }),
              measure({
                name: 'the Deno adapter, RSS per connection (above the empty process)',
                unit: 'KiB/conn',
                samples: rssPerConnection(deno),
                baselineSamples: rssPerConnection(recipe),
                baselineName: BASELINE,
              }),
              measure({ name: 'false deaths, the Deno adapter', unit: 'deaths', samples: [falseDeaths(deno, sockets)], target: '0', meets: (v) => v === 0 }),
            ]
          : []),
      ],
      notes: [
        ...notes,
        `Our server is startServer() with its defaults (no hooks, no webhook, in-memory snapshots; its application layer and log listener are attached as always), interval ${INTERVAL} ms, count 5; peers send ADVERTISE and answer each keepalive:PING with keepalive:PONG. The recipe pings at the protocol level every interval and terminates a client whose pong has not come since the previous ping; ws answers pings by itself.`,
        `Empty-process RSS: ours ${adapter.emptyRssMiB.toFixed(0)} MiB, recipe ${recipe.emptyRssMiB.toFixed(0)} MiB${deno ? `, Deno ${deno.emptyRssMiB.toFixed(0)} MiB` : ''}; RSS at the last window: ours ${adapter.windows.at(-1)?.rssMiB.toFixed(0)} MiB, recipe ${recipe.windows.at(-1)?.rssMiB.toFixed(0)} MiB${deno ? `, Deno ${deno.windows.at(-1)?.rssMiB.toFixed(0)} MiB` : ''}.`,
        `CPU share of one core (median window): ours ${measure({ name: '', unit: '', samples: adapter.windows.map((w) => w.cpuPercent) }).value?.toFixed(1)}%, recipe ${measure({ name: '', unit: '', samples: recipe.windows.map((w) => w.cpuPercent) }).value?.toFixed(1)}%.`,
      ],
    };
  },
};
export default figure;
