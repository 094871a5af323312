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
import {
  clock,
  DEFAULT_MAX_PINGS_PER_INTERVAL,
  DEFAULT_SERVER,
  describeKeepalive,
  describeLimits,
  number,
  SERVER_FLAGS,
  serverSettings,
  UsageError,
  type Env,
} from '../../runtime/index.ts';

const SERVE_HELP = `Usage: main.ts [serve] [options]   (deno task start [options], npm run start:deno -- [options])

Serves keepalive peers on Deno: WebSocket at /connect (text dialect), TCP (libvirt frames).

Options:
  --host H        interface to bind            (env HOST, default ${DEFAULT_SERVER.host})
  --port P        HTTP/WebSocket port, 0: any  (env PORT, default ${DEFAULT_SERVER.port})
  --tcp-port T    libvirt TCP port, 0: any     (env TCP_PORT, default ${DEFAULT_SERVER.tcpPort})
  --no-tcp        no TCP listener, same as --tcp-port off (Deno Deploy has none)
  --interval MS   keepalive interval in ms     (env KEEPALIVE_INTERVAL, default ${DEFAULT_SERVER.interval})
  --count N       unanswered PINGs before dead (env KEEPALIVE_COUNT, default ${DEFAULT_SERVER.count})
  --no-ping       never send PINGs (still answer them)  (env KEEPALIVE_SEND_PINGS=false)
  --advertise-timeout MS  close a peer that has not sent ADVERTISE within MS; 0: never
                  (env KEEPALIVE_ADVERTISE_TIMEOUT, default interval*(count+1))
  --max-connections N  open connections at once; past it WebSocket upgrades get 503
                  and TCP sockets are closed  (env KEEPALIVE_MAX_CONNECTIONS, default no cap)
  --max-pings N   PINGs a peer may send per interval before it is closed as a
                  flood; 0: no limit  (env KEEPALIVE_MAX_PINGS, default ${DEFAULT_MAX_PINGS_PER_INTERVAL})
  --token TOKEN   require "Authorization: Bearer TOKEN" (or ?token=) on /actors, /presence and
                  /inspect; without one they answer 403 off loopback  (env KEEPALIVE_TOKEN)
  --webhook URL   POST each open, dead and closed event here as JSON, at least once
                  (env KEEPALIVE_WEBHOOK; first retry after KEEPALIVE_WEBHOOK_RETRY_MS, default 1000)
  --webhook-secret S  sign each body: x-keepalive-signature: sha256=<HMAC>  (env KEEPALIVE_WEBHOOK_SECRET)
  --kv PATH       serverless mode: snapshots in the Deno KV database at PATH and wake-ups
                  through its queue; "default" opens the platform's own (Deno Deploy)
                  (env KEEPALIVE_KV; without it: local mode, one process timer)
  --kv-prefix P   key prefix for this server's snapshots (env KEEPALIVE_KV_PREFIX, default keepalive)
  --quiet         do not log connections
  -h, --help      show this help
`;

const CONNECT_HELP = `Usage: main.ts connect URL [options]   (deno task connect URL [options])

Connects to a keepalive server and prints each ADVERTISE/PING/PONG with its direction
and time. URL is ws://host:port/connect or tcp://host:port.

Options:
  --interval MS   keepalive interval in ms     (default ${DEFAULT_SERVER.interval})
  --count N       unanswered PINGs before dead (default ${DEFAULT_SERVER.count})
  --no-ping       never send PINGs (still answer the server's)
  --quiet         print only the verdict
  -h, --help      show this help

Exit status: 0 closed cleanly (or by SIGINT/SIGTERM), 1 connection failed or cut,
2 server declared dead.
`;

/** How long an ending client waits for its socket's goodbye before the process exits. */
const EXIT_GRACE_MS = 500;

/** A port number, or `off` for no TCP listener (Deno Deploy has none). */
function tcpPort(value: string | undefined): number | null {
  return value === 'off' ? null : number('--tcp-port', value, DEFAULT_SERVER.tcpPort, 0);
}

const env: Env = (name) => Deno.env.get(name);

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { ...SERVER_FLAGS, 'no-tcp': { type: 'boolean' }, kv: { type: 'string' }, 'kv-prefix': { type: 'string' } },
  });
  if (values.help) return void console.log(SERVE_HELP);
  const settings = serverSettings(values, env);
  const { token } = settings;
  const kvPath = values.kv ?? env('KEEPALIVE_KV');
  const kvPrefix = values['kv-prefix'] ?? env('KEEPALIVE_KV_PREFIX') ?? 'keepalive';
  const log = values.quiet ? undefined : (line: string) => console.log(`${clock(Date.now())} ${line}`);
  const kv = kvPath ? await Deno.openKv(kvPath === 'default' ? undefined : kvPath) : undefined;
  const server = await startServer({
    ...settings,
    tcpPort: tcpPort(values['no-tcp'] ? 'off' : (values['tcp-port'] ?? env('TCP_PORT'))),
    ...(kv ? { kv, kvPrefix: [kvPrefix, 'connections'] } : {}),
    ...(log ? { log } : {}),
  });
  console.log(`keepalive server on Deno (${describeKeepalive(settings)}, timers: ${server.mode})`);
  console.log(`  WebSocket  ${server.wsUrl}`);
  if (server.tcpUrl) console.log(`  TCP        ${server.tcpUrl}  (libvirt frames)`);
  console.log(`  actors     ${server.url}/actors${token ? '  (token required)' : ''}`);
  console.log(`  presence   ${server.url}/presence${token ? '  (token required)' : ''}`);
  if (settings.webhook) console.log(`  webhook    ${settings.webhook.url}${settings.webhook.secret ? '  (signed)' : '  (unsigned: set --webhook-secret)'}`);
  console.log(`  health     ${server.url}/healthz`);
  console.log(`  limits     ${describeLimits(server.host, settings)}`);
  if (server.app.routes.some((route) => route.path === '/inspect')) console.log(`  inspector  ${server.url}/inspect${token ? '?token=TOKEN' : ''}`);
  if (server.mode === 'kv') {
    console.log(`  timers     Deno KV queue; snapshots in Deno KV ${kvPath} under "${kvPrefix}" (${server.restored.length} restored)`);
  } else console.log('  timers     one process timer; snapshots in memory');
  for (const id of server.restored) log?.(`${id} restored`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(server.mode === 'kv' ? `${signal}: saving every connection to Deno KV` : `${signal}: closing every connection`);
    server.close(`server shutting down (${signal})`).then(
      () => {
        if (server.timer instanceof QueueTimer) {
          const { enqueued, delivered, stale } = server.timer.stats;
          console.log(`queue: ${enqueued} wake-up(s) enqueued, ${delivered} delivered, ${stale} stale ignored`);
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
    options: {
      interval: { type: 'string' },
      count: { type: 'string' },
      'no-ping': { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(CONNECT_HELP);
  const url = positionals[0];
  if (!url || positionals.length > 1) throw new UsageError('connect needs exactly one URL (ws://host:port/connect or tcp://host:port)');
  const quiet = values.quiet ?? false;
  const client = connect(url, {
    interval: number('--interval', values.interval, DEFAULT_SERVER.interval, 1),
    count: number('--count', values.count, DEFAULT_SERVER.count, 0),
    sendPings: !values['no-ping'],
  });
  const line = (text: string) => console.log(`${clock(Date.now())} ${text}`);
  let interrupted = false;
  client.on('open', () => line(`connected to ${url}`));
  client.on('sent', (message, at) => quiet || console.log(`${clock(at)} -> ${message}`));
  client.on('received', (message, at) => quiet || console.log(`${clock(at)} <- ${message}`));
  client.on('error', (error) => console.error(`${clock(Date.now())} error: ${error.message}`));
  client.on('dead', (reason) => console.error(`${clock(Date.now())} server declared dead: ${reason}`));
  client.on('closed', (reason, by) => {
    let code: number;
    if (client.deadReason !== null) code = 2;
    else if (interrupted) {
      line(`closed: ${reason}`);
      code = 0;
    } else {
      const clean = by === 'peer' && /\((1000|1001|1012)\)/.test(reason);
      (clean ? console.log : console.error)(`${clock(Date.now())} connection closed: ${reason}`);
      code = clean ? 0 : 1;
    }
    // A frozen server never finishes the close handshake; Deno's WebSocket would wait.
    const grace = new Promise((resolve) => setTimeout(resolve, EXIT_GRACE_MS));
    void Promise.race([client.settled, grace]).then(() => Deno.exit(code));
  });
  const stop = () => {
    interrupted = true;
    client.close('client interrupted');
    // Still connecting: the socket never opened, so nothing will report `closed`.
    if (client.id === null) Deno.exit(0);
  };
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
