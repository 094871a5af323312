/**
 * The Deno entry: `serve` (the default) runs the Deno server, `connect URL` runs one
 * client and prints every keepalive message until the connection ends. Same flags,
 * environment and exit codes as the Node CLI, plus `--kv` for serverless mode.
 *
 *   deno task start [-- options]            (npm run start:deno -- [options])
 *   deno task connect ws://127.0.0.1:8787/connect
 *
 * Exit codes: 0 after SIGINT/SIGTERM or a clean close by the server, 1 on a usage error
 * or a connection that failed or was cut, 2 when the client declared the server dead.
 */
import { parseArgs } from 'node:util';
import { connect } from './client.ts';
import { QueueTimer } from './queue-timer.ts';
import { startServer } from './server.ts';
import { CONNECT_FLAGS, connectOptions, followClient, logSink, SERVE_FLAGS, SERVE_FLAGS_HELP, serveOptions, serverBanner, type Env } from '../../runtime/server/index.ts';
import { DEFAULTS } from '../../runtime/protocol/index.ts';
import { UsageError } from '../../runtime/config/index.ts';

const SERVE_HELP = `Usage: main.ts [serve] [options]   (deno task start [options], npm run start:deno -- [options])

Serves keepalive peers on Deno: WebSocket at /connect (text dialect; libvirt frames with
?codec=libvirt), TCP (libvirt frames).

Options:
${SERVE_FLAGS_HELP}
  --no-tcp                no TCP listener, same as --tcp-port off (Deno Deploy has none)
  --kv PATH               serverless mode: snapshots in the Deno KV database at PATH and wake-ups
                          through its queue; "default" opens the platform's own (Deno Deploy)
                          (env KEEPALIVE_KV; without it: local mode, one process timer)
  --kv-prefix P           key prefix for this server's snapshots (env KEEPALIVE_KV_PREFIX, default keepalive)
`;

const CONNECT_HELP = `Usage: main.ts connect URL [options]   (deno task connect URL [options])

Connects to a keepalive server and prints each ADVERTISE/PING/PONG with its direction
and time. URL is ws://host:port/connect or tcp://host:port.

Options:
  --interval MS   keepalive interval in ms     (default ${DEFAULTS.interval})
  --count N       unanswered PINGs before dead (default ${DEFAULTS.count})
  --no-ping       never send PINGs (still answer the server's)
  --resume        ws:// only: when the socket drops (server killed or restarting), keep
                  timing the server and reconnect with our session secret
  --quiet         print only the verdict
  -h, --help      show this help

Exit status: 0 closed cleanly (or by SIGINT/SIGTERM), 1 connection failed or cut,
2 server declared dead.
`;

/** How long an ending client waits for its socket's goodbye before the process exits. */
const EXIT_GRACE_MS = 500;

const env: Env = (name) => Deno.env.get(name);

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { ...SERVE_FLAGS, 'no-tcp': { type: 'boolean' }, kv: { type: 'string' }, 'kv-prefix': { type: 'string' } },
  });
  if (values.help) return void console.log(SERVE_HELP);
  const options = serveOptions(values['no-tcp'] ? { ...values, 'tcp-port': 'off' } : values, env);
  const kvPath = values.kv ?? env('KEEPALIVE_KV');
  const kvPrefix = values['kv-prefix'] ?? env('KEEPALIVE_KV_PREFIX') ?? 'keepalive';
  const { log, say } = logSink(options.logFormat, values.quiet ?? false);
  const kv = kvPath ? await Deno.openKv(kvPath === 'default' ? undefined : kvPath) : undefined;
  const server = await startServer({
    ...options,
    ...(kv ? { kv, kvPrefix: [kvPrefix, 'connections'] } : {}),
    ...(log ? { log } : {}),
  });
  const state = server.cluster
    ? `${server.durable} (${server.restored.length} restored)`
    : kv
      ? `Deno KV ${kvPath} under "${kvPrefix}" (${server.restored.length} restored)`
      : 'in memory';
  for (const line of serverBanner(server, options, 'keepalive server on Deno', state, `timers: ${kv ? 'kv' : 'local'}`)) say(line);
  // Printed last: tests wait for this line as the end of the banner.
  say(kv ? '  timers     Deno KV queue' : '  timers     one process timer');
  for (const id of server.restored) log?.(`${id} restored`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const keep = server.durable !== null;
    say(server.cluster ? `${signal}: handing ${server.host.size} connection(s) to the hub's other processes` : kv ? `${signal}: saving every connection to Deno KV` : `${signal}: closing every connection`);
    server.close(undefined, { signal }).then(
      () => {
        if (server.timer instanceof QueueTimer) {
          const { enqueued, delivered, stale } = server.timer.stats;
          say(`queue: ${enqueued} wake-up(s) enqueued, ${delivered} delivered, ${stale} stale ignored`);
        }
        kv?.close();
        Deno.exit(0);
      },
      (error: unknown) => {
        console.error(`shutdown failed: ${String(error)}`);
        Deno.exit(1);
      },
    );
  };
  onSignals(stop);
}

/** Deno Deploy has no signals to listen to; there a kv-mode server's state is as of each step. */
function onSignals(handler: (signal: 'SIGINT' | 'SIGTERM') => void): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    try {
      Deno.addSignalListener(signal, () => handler(signal));
    } catch {
      // Not supported on this platform.
    }
  }
}

async function connectCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: CONNECT_FLAGS,
  });
  if (values.help) return void console.log(CONNECT_HELP);
  const url = positionals[0];
  if (!url || positionals.length > 1) throw new UsageError('connect needs exactly one URL (ws://host:port/connect or tcp://host:port)');
  const quiet = values.quiet ?? false;
  const client = connect(url, connectOptions(values, url));
  // The close frame gets a moment to leave; a frozen server never finishes the handshake.
  const stop = followClient(client, { url, quiet, requireKeepalive: false, exit: (code) => void setTimeout(() => Deno.exit(code), EXIT_GRACE_MS) });
  onSignals(stop);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  try {
    if (command === 'connect') return await connectCommand(rest);
    if (command === 'serve') return await serve(rest);
    if (command === 'help') return void console.log(`${SERVE_HELP}\n${CONNECT_HELP}`);
    if (command === undefined || command.startsWith('-')) return await serve(argv);
    throw new UsageError(`unknown command "${command}": use serve or connect (--help)`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`keepalive: ${message}`);
    Deno.exit(1);
  }
}

await main(Deno.args);
