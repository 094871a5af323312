/**
 * The Deno entry: `serve` (the default) runs the Deno server, `connect URL` runs one
 * client and prints every keepalive message until the connection ends. The program
 * (commands, help, flags, signals, exit codes) is runtime/server/program.ts, the same as
 * Node's; Deno adds `--kv` for serverless mode.
 *
 *   deno task start [-- options]            (npm run start:deno -- [options])
 *   deno task connect ws://127.0.0.1:8787/connect
 */
import { parseArgs } from 'node:util';
import { connect } from './client.ts';
import { QueueTimer } from './queue-timer.ts';
import { startServer } from './server.ts';
import { runCommandLine, type ParseArgs } from '../../runtime/server/index.ts';

/** How long an ending client waits for its socket's goodbye before the process exits. */
const EXIT_GRACE_MS = 500;

await runCommandLine({
  name: 'deno',
  argv: Deno.args,
  env: (name) => Deno.env.get(name),
  parseArgs: parseArgs as ParseArgs,
  usage: { program: 'main.ts', serve: 'deno task start [options], npm run start:deno -- [options]', connect: 'deno task connect URL [options]' },
  runsOn: 'Deno',
  bare: 'serve',
  async serve({ options, own, log, say }) {
    const kvPath = own('kv');
    const kvPrefix = String(own('kvPrefix') ?? 'keepalive');
    const kv = typeof kvPath === 'string' ? await Deno.openKv(kvPath === 'default' ? undefined : kvPath) : undefined;
    const server = await startServer({ ...options, ...(kv ? { kv, kvPrefix: [kvPrefix, 'connections'] } : {}) });
    const restored = `(${server.restored.length} restored)`;
    return {
      server,
      state: server.cluster ? `${server.durable} ${restored}` : kv ? `Deno KV ${kvPath} under "${kvPrefix}" ${restored}` : 'in memory',
      note: `timers: ${kv ? 'kv' : 'local'}`,
      started() {
        // Said last: tests wait for this line as the end of the banner.
        say(kv ? '  timers     Deno KV queue' : '  timers     one process timer');
        for (const id of server.restored) log?.(`${id} restored`);
      },
      keeping: () => 'saving every connection to Deno KV',
      stopped() {
        if (server.timer instanceof QueueTimer) {
          const { enqueued, delivered, stale } = server.timer.stats;
          say(`queue: ${enqueued} wake-up(s) enqueued, ${delivered} delivered, ${stale} stale ignored`);
        }
        kv?.close();
      },
    };
  },
  connect,
  // Deno Deploy has no signals to listen to; there a kv-mode server's state is as of each step.
  onSignal(listener) {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      try {
        Deno.addSignalListener(signal, () => listener(signal));
      } catch {
        // Not supported on this platform.
      }
    }
  },
  exit: (code) => Deno.exit(code),
  // The close frame gets a moment to leave; a frozen server never finishes the handshake.
  clientExit: (code) => void setTimeout(() => Deno.exit(code), EXIT_GRACE_MS),
});
