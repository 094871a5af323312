/**
 * The Deno server for the late-timer test, in its own `deno` process: local mode (one
 * process timer, the platform's timers unless `sync`), the stall scenario's event hook,
 * then one JSON line with the outcome for A.
 *
 *   deno run --allow-net --allow-read test/deno/late-server.ts MARKER_FILE [platform|sync]
 */
import { startServer } from '../../adapters/deno/server.ts';
import type { TimerApi } from '../../runtime/host/wake-timer.ts';
import { lateTimerScenario } from '../support/late-timer-scenario.ts';
import { poll } from '../support/wait.ts';

export const INTERVAL = 300;
const [marker = '', mode = 'platform'] = Deno.args;

// What WakeTimer would do without `afterIo`: tick inside the timer callback.
const syncTimers: TimerApi = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};

const scenario = lateTimerScenario(INTERVAL, marker);
const server = await startServer({
  port: 0,
  tcpPort: null,
  interval: INTERVAL,
  count: 1,
  onEvent: scenario.onEvent,
  ...(mode === 'sync' ? { timers: syncTimers } : {}),
});
console.log(`listening ${server.wsUrl}`);

const view = (id: string) => server.host.view(id);
await poll(() => scenario.outcome(view), 20_000).catch(() => undefined);
// Long enough after the verdict for a wrong one to show.
await new Promise((resolve) => setTimeout(resolve, INTERVAL));
console.log(`outcome ${JSON.stringify(scenario.outcome(view) ?? null)}`);
await server.close();
Deno.exit(0);
