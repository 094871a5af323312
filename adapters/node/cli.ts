#!/usr/bin/env node
/**
 * `keepalive serve` runs the Node server; `keepalive connect URL` runs one client and
 * prints every keepalive message until the connection ends.
 *
 * Exit codes: 0 after SIGINT/SIGTERM or a clean close by the server, 1 on a usage error
 * or a connection that failed or was cut, 2 when the client declared the server dead,
 * 3 when a libvirt daemon has no keepalive and --require-keepalive was given.
 */
import { parseArgs } from 'node:util';
import { connect } from './client.ts';
import { LIBVIRT_TCP_PORT } from './libvirt-client.ts';
import { startServer } from './server.ts';
import { CONNECT_FLAGS, connectOptions, followClient, logSink, SERVE_FLAGS, SERVE_FLAGS_HELP, serveOptions, serverBanner, type Env } from '../../runtime/server/index.ts';
import { DEFAULTS } from '../../runtime/protocol/index.ts';
import { UsageError } from '../../runtime/config/index.ts';

const SERVE_HELP = `Usage: keepalive serve [options]   (npm start -- [options])

Serves keepalive peers: WebSocket at /connect (text dialect; libvirt frames with
?codec=libvirt), TCP (libvirt frames).

Options:
${SERVE_FLAGS_HELP}
  --state PATH            keep snapshots in this SQLite file and resume its connections on
                          start; SIGINT/SIGTERM then keep them too  (env KEEPALIVE_STATE,
                          default: in memory)
`;

const CONNECT_HELP = `Usage: keepalive connect URL [options]   (npm run connect -- URL [options])

Connects to a keepalive server and prints each ADVERTISE/PING/PONG with its direction
and time. URL is ws://host:port/connect or tcp://host:port.

With --dialect libvirt, URL is a libvirt daemon: tcp://host[:${LIBVIRT_TCP_PORT}] (TCP without TLS),
unix:///path/to/libvirt-sock or just /path/to/libvirt-sock. Keepalive is negotiated
with CONNECT_SUPPORTS_FEATURE first (printed as CALL/REPLY); our ADVERTISE is never sent.

Options:
  --dialect D     keepalive (our servers, default) or libvirt (a libvirt daemon)
  --interval MS   keepalive interval in ms     (default ${DEFAULTS.interval})
  --count N       unanswered PINGs before dead (default ${DEFAULTS.count})
  --no-ping       never send PINGs (still answer the server's)
  --require-keepalive  libvirt: exit 3 if the daemon has no keepalive (default: stay
                  connected, send nothing keepalive, check no liveness)
  --resume        ws:// only: when the socket drops (server killed or restarting),
                  keep timing the server and reconnect with our session secret, so a
                  server with --state resumes this same connection
  --quiet         print only the verdict
  -h, --help      show this help

Exit status: 0 closed cleanly (or by SIGINT/SIGTERM), 1 connection failed or cut,
2 server declared dead, 3 libvirt daemon without keepalive (--require-keepalive).
`;

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { ...SERVE_FLAGS, state: { type: 'string' } } });
  if (values.help) return void process.stdout.write(SERVE_HELP);
  const env: Env = (name) => process.env[name];
  const options = serveOptions(values, env);
  const statePath = values.state ?? (env('KEEPALIVE_STATE') || undefined);
  const { log, say } = logSink(options.logFormat, values.quiet ?? false);
  const server = await startServer({ ...options, ...(log ? { log } : {}), ...(statePath ? { statePath } : {}) });
  const state = server.durable ? `${server.durable}  (${server.restored.length} connection(s) restored)` : 'in memory';
  for (const line of serverBanner(server, options, 'keepalive server', state)) say(line);

  const stop = (signal: string) => {
    const keep = server.durable !== null;
    const kept = server.cluster ? `${signal}: handing ${server.host.size} connection(s) to the hub's other processes` : `${signal}: keeping ${server.host.size} connection(s) in ${server.durable} for the next start`;
    say(keep ? kept : `${signal}: closing every connection`);
    server.close(undefined, { signal }).then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`shutdown failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

async function connectCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...CONNECT_FLAGS, dialect: { type: 'string' }, 'require-keepalive': { type: 'boolean' } },
  });
  if (values.help) return void process.stdout.write(CONNECT_HELP);
  const url = positionals[0];
  if (!url || positionals.length > 1) throw new UsageError('connect needs exactly one URL (ws://host:port/connect, tcp://host:port, or with --dialect libvirt a libvirt socket path)');
  const dialect = values.dialect ?? 'keepalive';
  if (dialect !== 'keepalive' && dialect !== 'libvirt') throw new UsageError(`--dialect must be keepalive or libvirt, got "${dialect}"`);
  const libvirt = dialect === 'libvirt';
  if (values['require-keepalive'] && !libvirt) throw new UsageError('--require-keepalive needs --dialect libvirt');
  if (values.resume && libvirt) throw new UsageError('--resume needs a ws:// URL (TCP has nowhere to carry a session)');
  const quiet = values.quiet ?? false;
  const client = connect(url, { ...connectOptions(values, url), dialect, requireKeepalive: values['require-keepalive'] ?? false });
  // Exit codes are set, not forced: the process ends once the socket has said goodbye.
  const stop = followClient(client, { url, quiet, requireKeepalive: values['require-keepalive'] ?? false, exit: (code) => void (process.exitCode = code) });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  try {
    if (command === 'serve') return await serve(rest);
    if (command === 'connect') return await connectCommand(rest);
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(`Usage: keepalive serve [options] | keepalive connect URL [options]\n\n${SERVE_HELP}\n${CONNECT_HELP}`);
      return;
    }
    throw new UsageError(`unknown command "${command}": use serve or connect (--help)`);
  } catch (error) {
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`keepalive: ${error.message}`);
      process.exit(1);
    }
    const message = error instanceof Error ? error.message : String(error);
    console.error(`keepalive: ${message}`);
    process.exit(1);
  }
}

await main(process.argv.slice(2));
