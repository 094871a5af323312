/**
 * The command line, written once for Node and Deno: `serve` and `connect URL`, their help,
 * their flags (the one settings table, runtime/config/settings.ts, says which command line
 * offers which of its own), and what SIGINT and SIGTERM do. An entry (adapters/node/cli.ts,
 * adapters/deno/main.ts) calls `runCommandLine` with its platform: argv and environment,
 * how to start its server and a client, how to hear signals and end the process.
 *
 * Exit status: 0 after SIGINT/SIGTERM or a clean close by the server, 1 on a usage error or
 * a connection that failed or was cut, 2 when the client declared the server dead, 3 when
 * a libvirt daemon has no keepalive and --require-keepalive was given.
 */
import type { ConnectOptions, KeepaliveClient } from '../client/index.ts';
import { argsSource, commandSettings, type CommandLineName, DEFAULTS, type SettingName, settingFlags, settingsHelp, settingValue, UsageError } from '../config/index.ts';
import { LIBVIRT_TCP_PORT } from '../protocol/index.ts';
import { CONNECT_FLAGS, connectOptions, type Env, followClient, logSink, SERVE_FLAGS, serveFlagsHelp, serveOptions, serverBanner } from './cli.ts';
import type { RunningServer } from './server.ts';

/** `parseArgs` of `node:util` (Node, and Deno's Node compatibility): passed in, so this room imports no `node:` module. */
export type ParseArgs = (config: {
  args: string[];
  options: Record<string, { type: 'string' | 'boolean'; short?: string }>;
  allowPositionals?: boolean;
}) => { values: Record<string, string | boolean | undefined>; positionals: string[] };

export type Signal = 'SIGINT' | 'SIGTERM';

/** What `serve` gives a platform to start its server with: the options from flags, environment and defaults, and where lines go. */
export interface ServeRequest {
  options: ReturnType<typeof serveOptions> & { log?: (line: string) => void };
  /** One of this platform's own settings (`--state`, `--kv`): the flag, else the variable. */
  own(name: SettingName): string | boolean | undefined;
  /** The server's lines (none with --quiet). */
  log: ((line: string) => void) | undefined;
  /** The command line's own lines. */
  say: (line: string) => void;
}

/** A platform's started server, and what the command line says about it. */
export interface Serving {
  server: RunningServer;
  /** The banner's `state` line: where connections are kept. */
  state: string;
  /** Said in the banner's first line after the settings (Deno: which timers). */
  note?: string;
  /** After the banner. */
  started?(): void;
  /** What a signal says happens to kept connections (a server with a durable store, not a cluster). */
  keeping(): string;
  /** Once the server closed on a signal, before the process ends. */
  stopped?(): void | Promise<void>;
}

export interface CommandLinePlatform {
  /** Which command line: picks its own flags from the settings table. */
  name: CommandLineName;
  argv: readonly string[];
  env: Env;
  parseArgs: ParseArgs;
  /** How the help names the program and runs its commands from this repository. */
  usage: { program: string; serve: string; connect: string };
  /** Where the server runs, when not on Node ("Deno"): said in the banner and the help. */
  runsOn?: string;
  /**
   * With no command, or a flag first: serve (an entry a platform runs as is: `deno task
   * start`, Deno Deploy), or print the help (an installed `keepalive`).
   */
  bare: 'serve' | 'help';
  serve(request: ServeRequest): Promise<Serving>;
  connect(url: string, options: ConnectOptions): KeepaliveClient;
  /** Calls `listener` on SIGINT and SIGTERM, where the platform has signals. */
  onSignal(listener: (signal: Signal) => void): void;
  /** Ends the process now. */
  exit(code: number): void;
  /** A client is closed for good: end with `code` once its socket has said goodbye. */
  clientExit(code: number): void;
}

export async function runCommandLine(platform: CommandLinePlatform): Promise<void> {
  const [command, ...rest] = platform.argv;
  try {
    if (command === 'serve') return await serve(platform, rest);
    if (command === 'connect') return await connect(platform, rest);
    if (command === 'help' || (platform.bare === 'help' && (command === undefined || command === '--help' || command === '-h'))) {
      return console.log(`Usage: ${synopsis(platform, 'serve')} | ${synopsis(platform, 'connect')}\n\n${serveHelp(platform)}\n\n${connectHelp(platform)}`);
    }
    if (platform.bare === 'serve' && (command === undefined || command.startsWith('-'))) return await serve(platform, [...platform.argv]);
    throw new UsageError(`unknown command "${command}": use serve or connect (--help)`);
  } catch (error) {
    console.error(`keepalive: ${error instanceof Error ? error.message : String(error)}`);
    platform.exit(1);
  }
}

async function serve(platform: CommandLinePlatform, args: string[]): Promise<void> {
  const { values } = platform.parseArgs({ args, options: { ...SERVE_FLAGS, ...settingFlags(commandSettings('serve', platform.name)) } });
  if (values.help) return console.log(serveHelp(platform));
  const options = serveOptions(values, platform.env);
  const source = argsSource(values, platform.env);
  const { log, say } = logSink(options.logFormat, values.quiet === true);
  const serving = await platform.serve({ options: { ...options, ...(log ? { log } : {}) }, own: (name) => settingValue(source, name), log, say });
  const { server } = serving;
  const title = `keepalive server${platform.runsOn ? ` on ${platform.runsOn}` : ''}`;
  for (const line of serverBanner(server, options, title, serving.state, serving.note)) say(line);
  serving.started?.();

  let stopping = false;
  platform.onSignal((signal) => {
    if (stopping) return;
    stopping = true;
    if (server.cluster) say(`${signal}: handing ${server.host.size} connection(s) to the hub's other processes`);
    else say(`${signal}: ${server.durable !== null ? serving.keeping() : 'closing every connection'}`);
    server.close(undefined, { signal }).then(
      async () => {
        await serving.stopped?.();
        platform.exit(0);
      },
      (error: unknown) => {
        console.error(`shutdown failed: ${String(error)}`);
        platform.exit(1);
      },
    );
  });
}

async function connect(platform: CommandLinePlatform, args: string[]): Promise<void> {
  const libvirtOffered = commandSettings('connect', platform.name).includes('dialect');
  const { values, positionals } = platform.parseArgs({ args, allowPositionals: true, options: { ...CONNECT_FLAGS, ...settingFlags(commandSettings('connect', platform.name)) } });
  if (values.help) return console.log(connectHelp(platform));
  const url = positionals[0];
  const urls = libvirtOffered ? 'ws://host:port/connect, tcp://host:port, or with --dialect libvirt a libvirt socket path' : 'ws://host:port/connect or tcp://host:port';
  if (!url || positionals.length > 1) throw new UsageError(`connect needs exactly one URL (${urls})`);
  const dialect = values.dialect ?? 'keepalive';
  if (dialect !== 'keepalive' && dialect !== 'libvirt') throw new UsageError(`--dialect must be keepalive or libvirt, got "${dialect}"`);
  const libvirt = dialect === 'libvirt';
  const requireKeepalive = values['require-keepalive'] === true;
  if (requireKeepalive && !libvirt) throw new UsageError('--require-keepalive needs --dialect libvirt');
  if (values.resume && libvirt) throw new UsageError('--resume needs a ws:// URL (TCP has nowhere to carry a session)');
  const client = platform.connect(url, { ...connectOptions(values as Parameters<typeof connectOptions>[0], url), ...(libvirtOffered ? { dialect, requireKeepalive } : {}) });
  const stop = followClient(client, { url, quiet: values.quiet === true, requireKeepalive, exit: (code) => platform.clientExit(code) });
  platform.onSignal(stop);
}

function synopsis({ usage, bare }: CommandLinePlatform, command: 'serve' | 'connect'): string {
  return command === 'serve' ? `${usage.program} ${bare === 'serve' ? '[serve]' : 'serve'} [options]` : `${usage.program} connect URL [options]`;
}

function serveHelp(platform: CommandLinePlatform): string {
  return `Usage: ${synopsis(platform, 'serve')}   (${platform.usage.serve})

Serves keepalive peers${platform.runsOn ? ` on ${platform.runsOn}` : ''}: WebSocket at /connect (text dialect; libvirt frames with
?codec=libvirt), TCP (libvirt frames).

Options:
${serveFlagsHelp(commandSettings('serve', platform.name))}`;
}

/** `--resume`, naming `--state` where the platform's server has it. */
const RESUME_HELP = {
  state: `  --resume        ws:// only: when the socket drops (server killed or restarting),
                  keep timing the server and reconnect with our session secret, so a
                  server with --state resumes this same connection`,
  plain: `  --resume        ws:// only: when the socket drops (server killed or restarting), keep
                  timing the server and reconnect with our session secret`,
};

function connectHelp(platform: CommandLinePlatform): string {
  const own = commandSettings('connect', platform.name);
  const libvirt = own.includes('dialect');
  return `Usage: ${synopsis(platform, 'connect')}   (${platform.usage.connect})

Connects to a keepalive server and prints each ADVERTISE/PING/PONG with its direction
and time. URL is ws://host:port/connect or tcp://host:port.
${
  libvirt
    ? `
With --dialect libvirt, URL is a libvirt daemon: tcp://host[:${LIBVIRT_TCP_PORT}] (TCP without TLS),
unix:///path/to/libvirt-sock or just /path/to/libvirt-sock. Keepalive is negotiated
with CONNECT_SUPPORTS_FEATURE first (printed as CALL/REPLY); our ADVERTISE is never sent.
`
    : ''
}
Options:
  --interval MS   keepalive interval in ms     (default ${DEFAULTS.interval})
  --count N       unanswered PINGs before dead (default ${DEFAULTS.count})
  --no-ping       never send PINGs (still answer the server's)
${RESUME_HELP[commandSettings('serve', platform.name).includes('statePath') ? 'state' : 'plain']}${own.length > 0 ? `\n${settingsHelp(own, 18)}` : ''}
  --quiet         print only the verdict
  -h, --help      show this help

Exit status: 0 closed cleanly (or by SIGINT/SIGTERM), 1 connection failed or cut,
2 server declared dead${own.includes('requireKeepalive') ? ', 3 libvirt daemon without keepalive (--require-keepalive)' : ''}.`;
}
