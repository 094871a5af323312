/**
 * What the Node and Deno command lines share: the server's options from flags and
 * environment (runtime/config/settings.ts), the help text of those flags, and the banner.
 * Platform-free: the command-line program (program.ts) gets each platform's argv, its
 * `parseArgs` (`node:util`) and its environment, and hands them here.
 */
import type { ConnectOptions, KeepaliveClient } from '../client/index.ts';
import type { Host } from '../host/index.ts';
import type { RunningServer, ServerOptions } from './server.ts';
import { argsSource, clusterSettings, commandSettings, DEFAULTS, hubSettings, type HubSettings, listenSettings, type LogFormat, logFormat, messageRecord, parseNumber, SETTING_FLAGS, type SettingName, settingsHelp, UsageError } from '../config/index.ts';

/** Reads one environment variable (`process.env`, `Deno.env.get`). */
export type Env = (name: string) => string | undefined;

/** The `parseArgs` options every `serve` command takes (an adapter adds its own). */
export const SERVE_FLAGS = {
  ...SETTING_FLAGS,
  'no-inspector': { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The `parseArgs` options every `connect` command takes (Node adds the libvirt dialect's). */
export const CONNECT_FLAGS = {
  interval: { type: 'string' },
  count: { type: 'string' },
  'no-ping': { type: 'boolean' },
  resume: { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The help lines of the flags in `SERVE_FLAGS`, and of a command line's own settings (`SETTINGS` rows for its platform). */
export const serveFlagsHelp = (own: readonly SettingName[] = []): string => `${settingsHelp([...commandSettings('serve', 'every'), ...own])}
  --no-inspector          do not serve the inspector page at /inspect (served by default on
                          localhost, or anywhere with a token)
  --quiet                 do not log connections
  -h, --help              show this help`;

/** A server's options from parsed flags, then the environment, then the defaults. `--no-tcp` (Deno's) is `--tcp-port off`. */
export function serveOptions(values: Record<string, string | boolean | undefined>, env: Env): ServerOptions & HubSettings & { logFormat: LogFormat } {
  const source = argsSource(values['no-tcp'] ? { ...values, 'tcp-port': 'off' } : values, env);
  const settings = hubSettings(source);
  const listen = listenSettings(source);
  const inspector = values['no-inspector'] ? { inspector: false } : {};
  const cluster = clusterSettings(source);
  return { ...settings, ...listen, ...inspector, ...(cluster ? { cluster } : {}), logFormat: logFormat(source) };
}

/**
 * Where a CLI's lines go: `log` for the server's (none with --quiet), `say` for the CLI's
 * own (banner, signals). With `--log json` every line is one JSON object: event lines as
 * the hub wrote them, anything else as a `message` record.
 */
export function logSink(format: LogFormat, quiet: boolean, print: (line: string) => void = console.log): { log: ((line: string) => void) | undefined; say: (line: string) => void } {
  if (format === 'json') {
    const json = (line: string) => print(line.startsWith('{') ? line : JSON.stringify(messageRecord(line.trim())));
    return { log: quiet ? undefined : json, say: json };
  }
  return { log: quiet ? undefined : (line) => print(`${clock(Date.now())} ${line}`), say: print };
}

/** hh:mm:ss.mmm, as every log and protocol line starts. */
export const clock = (at: number): string => new Date(at).toISOString().slice(11, 23);

/** "5000 ms, count 5, pings on" */
export function describeKeepalive(settings: Pick<HubSettings, 'interval' | 'count' | 'sendPings'>): string {
  return `${settings.interval} ms, count ${settings.count}, ${settings.sendPings ? 'pings on' : 'pings off'}`;
}

/** The banner's limits line, from what the host really applies. */
export function describeLimits(host: Host, settings: Pick<HubSettings, 'maxConnections' | 'maxPingsPerInterval'>): string {
  const advertiseTimeout = host.defaults.advertiseTimeout;
  const advertise = advertiseTimeout ? `ADVERTISE within ${advertiseTimeout} ms` : 'no ADVERTISE deadline';
  const cap = settings.maxConnections ? `at most ${settings.maxConnections} connections` : 'no connection cap';
  const pings = settings.maxPingsPerInterval;
  return `${advertise}, ${cap}, ${pings ? `${pings} PINGs per interval` : 'no PING limit'}`;
}

/** What a started server prints, the same on every runtime; `title` names it (`note` after its settings), `state` says where connections are kept. */
export function serverBanner(server: RunningServer, settings: HubSettings, title: string, state: string, note?: string): string[] {
  const token = settings.token !== undefined;
  const lines = [
    `${title} (${describeKeepalive(settings)}${note ? `, ${note}` : ''})`,
    `  WebSocket  ${server.wsUrl}`,
    ...(server.tcpUrl ? [`  TCP        ${server.tcpUrl}  (libvirt frames)`] : []),
    `  actors     ${server.url}/actors${token ? '  (token required)' : ''}`,
    `  presence   ${server.url}/presence${token ? '  (token required)' : ''}`,
  ];
  if (settings.webhook) lines.push(`  webhook    ${settings.webhook.url}${settings.webhook.secret ? '  (signed)' : '  (unsigned: set --webhook-secret)'}`);
  lines.push(`  health     ${server.url}/healthz`, `  limits     ${describeLimits(server.host, settings)}`);
  if (server.app.routes.some((route) => route.path === '/inspect')) lines.push(`  inspector  ${server.url}/inspect${token ? '?token=TOKEN' : ''}`);
  else lines.push('  inspector  off: bind to localhost or set --token to serve /inspect');
  lines.push(`  state      ${state}`);
  return lines;
}

/** The client's options from `connect`'s flags: `--resume` turns reconnect on (ws:// only). */
export function connectOptions(values: { interval?: string | undefined; count?: string | undefined; 'no-ping'?: boolean | undefined; resume?: boolean | undefined }, url: string): ConnectOptions {
  if (values.resume && !/^wss?:/i.test(url)) throw new UsageError('--resume needs a ws:// URL (TCP has nowhere to carry a session)');
  return {
    interval: values.interval === undefined ? DEFAULTS.interval : parseNumber('--interval', values.interval, 1, false),
    count: values.count === undefined ? DEFAULTS.count : parseNumber('--count', values.count, 0, true),
    sendPings: !values['no-ping'],
    // --resume: ride out drops and restarts on the same server connection; else one socket, then done.
    reconnect: values.resume ? { minDelay: 100 } : false,
  };
}

export interface FollowOptions {
  /** The URL as the user gave it, for the `connected to` line. */
  url: string;
  /** Print only the verdict, not every message. */
  quiet: boolean;
  /** libvirt: a daemon without keepalive ends the client (exit 3). */
  requireKeepalive: boolean;
  /** Sets or forces the exit status once the client is closed for good. */
  exit: (code: number) => void;
}

/**
 * What `connect` prints and how it exits, the same on every runtime: each message with its
 * direction and time, the verdict, then exit status 0 for a clean close (or an interrupt),
 * 1 for a failed or cut connection, 2 when we declared the server dead, 3 when a libvirt
 * daemon has no keepalive and it was required. Returns the interrupt (SIGINT, SIGTERM).
 */
export function followClient(client: KeepaliveClient, options: FollowOptions): () => void {
  const { url, quiet } = options;
  const libvirt = client.dialect === 'libvirt';
  const peer = libvirt ? 'libvirt daemon' : 'server';
  const line = (text: string, at = Date.now()) => console.log(`${clock(at)} ${text}`);
  const warn = (text: string, at = Date.now()) => console.error(`${clock(at)} ${text}`);
  let interrupted = false;
  let unsupported = false;
  client.addEventListener('open', ({ attempt, resumed }) => {
    if (resumed) line(`resumed on a new socket (attempt ${attempt})`);
    else line(`connected to ${url}${libvirt ? ' (libvirt dialect)' : ''}`);
  });
  client.addEventListener('negotiating', ({ serial, at }) => {
    if (!quiet) line(`-> CALL CONNECT_SUPPORTS_FEATURE(VIR_DRV_FEATURE_PROGRAM_KEEPALIVE) serial ${serial}`, at);
  });
  client.addEventListener('negotiated', ({ support, at }) => {
    if (support?.supported) {
      const view = client.view();
      return line(`<- REPLY supported=1: keepalive negotiated (interval ${view?.interval} ms, count ${view?.count})`, at);
    }
    unsupported = true;
    const then = options.requireKeepalive ? 'closing (--require-keepalive)' : 'staying connected without keepalive: no PING/PONG sent, liveness not checked';
    warn(`<- REPLY: the libvirt daemon does not support keepalive (${support?.supported === false ? support.reason : 'no answer'}); ${then}`, at);
  });
  client.addEventListener('sent', ({ message, at }) => quiet || line(`-> ${message}${client.readyState === 1 ? '' : ' (no connection)'}`, at));
  client.addEventListener('received', ({ message, at }) => {
    // libvirt: the REPLY line above already stands for the negotiation's ADVERTISE/MESSAGE.
    if (quiet || (libvirt && message !== 'PING' && message !== 'PONG')) return;
    line(`<- ${message}`, at);
  });
  client.addEventListener('reconnecting', ({ attempt, delay, reason }) => warn(`${reason}; reconnecting in ${delay} ms (attempt ${attempt})`));
  client.addEventListener('error', ({ error }) => warn(`error: ${error.message}`));
  client.addEventListener('dead', ({ reason }) => {
    warn(`${peer} declared dead: ${reason}`);
    // --resume rides out drops, not a verdict: a server silent past our bound is gone.
    client.close(1000, reason);
  });
  client.addEventListener('close', ({ code, reason, wasClean }) => {
    if (client.declaredDead) return options.exit(2);
    if (unsupported && options.requireKeepalive) {
      warn(`connection closed: ${reason}`);
      return options.exit(3);
    }
    if (interrupted) {
      line(`closed: ${reason}`);
      return options.exit(0);
    }
    const clean = !wasClean && (code === 1000 || code === 1001 || code === 1012);
    (clean ? line : warn)(`connection closed: ${reason}`);
    options.exit(clean ? 0 : 1);
  });
  return () => {
    interrupted = true;
    client.close(1000, 'client interrupted');
  };
}
