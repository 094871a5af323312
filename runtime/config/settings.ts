/**
 * One settings model for every runtime: each setting has one name, one flag, one
 * environment variable (also the Worker var) and one default, here. The Node and Deno
 * command lines read flags then environment; a Worker reads its vars. A value a person
 * got wrong fails loudly, naming where it came from (`--count`, `KEEPALIVE_COUNT`).
 */
import { retryDelays, type WebhookOptions } from '../application/index.ts';
import { REDIS_URL_FORMS, redactRedisUrl, redisTarget } from './redis-url.ts';

/** A flag or environment value a person got wrong: printed as is, exit status 1 (a Worker: 500 naming it). */
export class UsageError extends RangeError {
  override readonly name = 'UsageError';
}

import { DEFAULTS, defaultAdvertiseTimeout } from '../protocol/index.ts';

export { DEFAULTS, defaultAdvertiseTimeout } from '../protocol/index.ts';

/**
 * The settings every hub takes, resolved. Where a platform's default differs, it says why:
 * `pingWindow` is 0 on a process timer (a window makes bursts: figure 9) and a quarter of
 * the interval on a Durable Object's alarm (each wake costs: figure 7).
 */
export interface HubSettings {
  interval: number;
  count: number;
  sendPings: boolean;
  /** null: no deadline. */
  advertiseTimeout: number | null;
  maxConnections: number | undefined;
  maxPingsPerInterval: number;
  maxFrameBytes: number;
  /** ms a PING may leave early or late; undefined: the platform's default. */
  pingWindow: number | undefined;
  /** Delivery mode: messages, and bytes, one connection may hold sent and not yet acknowledged. */
  deliveryWindow: number;
  deliveryWindowBytes: number;
  /** Presence for peers: a connection may subscribe to who is online and set its own state. */
  presence: boolean;
  presenceStateBytes: number;
  token: string | undefined;
  webhook: WebhookOptions | undefined;
}

/** A server's listeners (Node, Deno). */
export interface ListenSettings {
  host: string;
  port: number;
  /** null: no TCP listener. */
  tcpPort: number | null;
}

/** Where a setting's text comes from: a flag's value, then the environment (or Worker vars). */
export interface SettingSource {
  flag?(name: string): string | boolean | undefined;
  env(name: string): string | undefined;
}

type Kind = { number: { min: number; whole: boolean } } | 'flag' | 'text' | 'url';

/** The command lines: Node's `keepalive` (adapters/node/cli.ts) and Deno's `main.ts`. */
export type CommandLineName = 'node' | 'deno';

export interface Setting {
  flag: string;
  /** The environment variable (a Worker's var) read when the flag is not given; none: a flag only. */
  env?: string;
  kind: Kind;
  help: string;
  /** What the help calls its value. Default `V`. */
  value?: string;
  /** The command lines that offer it; absent: every one (and a Worker, if the hub reads it). */
  platforms?: readonly CommandLineName[];
  /** The command that takes it. Default `serve`. */
  command?: 'serve' | 'connect';
}

/** Every setting, for the parser and the help text alike: the hub's, then what only some command lines offer. */
export const SETTINGS = {
  host: { flag: 'host', env: 'HOST', kind: 'text', help: `interface to bind (default ${DEFAULTS.host})` },
  port: { flag: 'port', env: 'PORT', kind: { number: { min: 0, whole: true } }, help: `HTTP/WebSocket port, 0: any (default ${DEFAULTS.port})` },
  tcpPort: { flag: 'tcp-port', env: 'TCP_PORT', kind: 'text', help: `libvirt TCP port, 0: any, off: none (default ${DEFAULTS.tcpPort})` },
  interval: { flag: 'interval', env: 'KEEPALIVE_INTERVAL', kind: { number: { min: 1, whole: false } }, help: `keepalive interval in ms (default ${DEFAULTS.interval})` },
  count: { flag: 'count', env: 'KEEPALIVE_COUNT', kind: { number: { min: 0, whole: true } }, help: `unanswered PINGs before dead (default ${DEFAULTS.count})` },
  sendPings: { flag: 'no-ping', env: 'KEEPALIVE_SEND_PINGS', kind: 'flag', help: 'never send PINGs, still answer them (env: false)' },
  advertiseTimeout: {
    flag: 'advertise-timeout',
    env: 'KEEPALIVE_ADVERTISE_TIMEOUT',
    kind: { number: { min: 0, whole: true } },
    help: 'close a peer that has not sent ADVERTISE within MS; 0: never (default interval*(count+1))',
  },
  maxConnections: {
    flag: 'max-connections',
    env: 'KEEPALIVE_MAX_CONNECTIONS',
    kind: { number: { min: 1, whole: true } },
    help: 'open connections at once; past it upgrades get 503 and TCP sockets are closed (default no cap)',
  },
  maxPingsPerInterval: {
    flag: 'max-pings',
    env: 'KEEPALIVE_MAX_PINGS',
    kind: { number: { min: 0, whole: true } },
    help: `PINGs a peer may send per interval before it is closed as a flood; 0: no limit (default ${DEFAULTS.maxPingsPerInterval})`,
  },
  maxFrameBytes: {
    flag: 'max-frame-bytes',
    env: 'KEEPALIVE_MAX_FRAME_BYTES',
    kind: { number: { min: 64, whole: true } },
    help: `largest frame accepted, bytes (default ${DEFAULTS.maxFrameBytes})`,
  },
  pingWindow: {
    flag: 'ping-window',
    env: 'KEEPALIVE_PING_WINDOW',
    kind: { number: { min: 0, whole: false } },
    help: 'ms a PING may leave early or late, stamped at its due time (default 0; a Worker: interval/4)',
  },
  deliveryWindow: {
    flag: 'delivery-window',
    env: 'KEEPALIVE_DELIVERY_WINDOW',
    kind: { number: { min: 1, whole: true } },
    help: `delivery mode: messages a connection may hold sent and not yet acknowledged; past it send() is refused (default ${DEFAULTS.deliveryWindow})`,
  },
  deliveryWindowBytes: {
    flag: 'delivery-window-bytes',
    env: 'KEEPALIVE_DELIVERY_WINDOW_BYTES',
    kind: { number: { min: 1, whole: true } },
    help: `delivery mode: the same in bytes (default ${DEFAULTS.deliveryWindowBytes})`,
  },
  presence: {
    flag: 'presence',
    env: 'KEEPALIVE_PRESENCE',
    kind: 'flag',
    help: 'presence for peers: a connection may subscribe to who is online (our client does) and set its own state (default off)',
  },
  presenceStateBytes: {
    flag: 'presence-state-bytes',
    env: 'KEEPALIVE_PRESENCE_STATE_BYTES',
    kind: { number: { min: 2, whole: true } },
    help: `presence: largest state a peer may set, its JSON in UTF-8 bytes (default ${DEFAULTS.presenceStateBytes})`,
  },
  token: { flag: 'token', env: 'KEEPALIVE_TOKEN', kind: 'text', help: 'require "Authorization: Bearer TOKEN" (or ?token=) on private routes; without one they answer 403 off loopback' },
  webhook: { flag: 'webhook', env: 'KEEPALIVE_WEBHOOK', kind: 'url', help: 'POST each open, dead and closed event here as JSON, at least once' },
  webhookSecret: { flag: 'webhook-secret', env: 'KEEPALIVE_WEBHOOK_SECRET', kind: 'text', help: 'sign each body: x-keepalive-signature: sha256=<HMAC>' },
  webhookRetryMs: {
    flag: 'webhook-retry',
    env: 'KEEPALIVE_WEBHOOK_RETRY_MS',
    kind: { number: { min: 1, whole: false } },
    help: `first retry delay after a failed webhook try, doubling up to 60 s (default ${DEFAULTS.webhookRetryMs})`,
  },
  log: {
    flag: 'log',
    env: 'KEEPALIVE_LOG',
    kind: 'text',
    help: 'Node, Deno: text (default) or json: one JSON object per line (docs/operations.md)',
  },
  redis: {
    flag: 'redis',
    env: 'KEEPALIVE_REDIS',
    kind: 'text',
    help: 'Node, Deno: one hub over every process given this Redis: redis://HOST:PORT, redis+cluster://HOST:PORT,... (Redis Cluster) or redis+sentinel://HOST:PORT,.../MASTER; connections and events live there',
  },
  node: {
    flag: 'node',
    env: 'KEEPALIVE_NODE',
    kind: 'text',
    help: 'with --redis: this process\'s name in the hub; a restart under the same name takes its connections back (default random)',
  },
  statePath: {
    flag: 'state',
    env: 'KEEPALIVE_STATE',
    kind: 'text',
    value: 'PATH',
    platforms: ['node'],
    help: 'keep snapshots in this SQLite file and resume its connections on start; SIGINT/SIGTERM then keep them too (default: in memory)',
  },
  noTcp: { flag: 'no-tcp', kind: 'flag', platforms: ['deno'], help: 'no TCP listener, same as --tcp-port off (Deno Deploy has none)' },
  kv: {
    flag: 'kv',
    env: 'KEEPALIVE_KV',
    kind: 'text',
    value: 'PATH',
    platforms: ['deno'],
    help: 'serverless mode: snapshots in the Deno KV database at PATH and wake-ups through its queue; "default" opens the platform\'s own (Deno Deploy) (without it: local mode, one process timer)',
  },
  kvPrefix: { flag: 'kv-prefix', env: 'KEEPALIVE_KV_PREFIX', kind: 'text', value: 'P', platforms: ['deno'], help: 'key prefix for this server\'s snapshots (default keepalive)' },
  dialect: { flag: 'dialect', kind: 'text', value: 'D', platforms: ['node'], command: 'connect', help: 'keepalive (our servers, default) or libvirt (a libvirt daemon)' },
  requireKeepalive: {
    flag: 'require-keepalive',
    kind: 'flag',
    platforms: ['node'],
    command: 'connect',
    help: 'libvirt: exit 3 if the daemon has no keepalive (default: stay connected, send nothing keepalive, check no liveness)',
  },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

/** The settings `command` takes on a command line: every platform's, or only `platform`'s own. */
export function commandSettings(command: 'serve' | 'connect', platform: CommandLineName | 'every'): SettingName[] {
  return (Object.keys(SETTINGS) as SettingName[]).filter((name) => {
    const s: Setting = SETTINGS[name];
    return (s.command ?? 'serve') === command && (platform === 'every' ? s.platforms === undefined : s.platforms?.includes(platform) === true);
  });
}

/** `parseArgs` options for these settings. */
export function settingFlags(names: readonly SettingName[]): Record<string, { type: 'string' | 'boolean' }> {
  return Object.fromEntries(names.map((name) => [SETTINGS[name].flag, { type: SETTINGS[name].kind === 'flag' ? 'boolean' : 'string' }]));
}

/** `parseArgs` options for what every command line's `serve` takes. */
export const SETTING_FLAGS: Record<string, { type: 'string' | 'boolean' }> = settingFlags(commandSettings('serve', 'every'));

/** Help lines for settings (default: what every command line's `serve` takes), the help from `column` on. */
export function settingsHelp(names: readonly SettingName[] = commandSettings('serve', 'every'), column = 24): string {
  return names
    .map((name) => {
      const s: Setting = SETTINGS[name];
      const left = `  --${s.flag}${s.kind === 'flag' ? '' : ` ${s.value ?? 'V'}`}`;
      const line = `${left.length < column ? left.padEnd(column) : `${left}  `}${s.help}`;
      return s.env === undefined ? line : `${line}\n${''.padEnd(column)}(env ${s.env})`;
    })
    .join('\n');
}

/** Reads one setting's text: the flag if given, else the environment; with the name to blame. */
function raw(source: SettingSource, name: SettingName): { value: string | boolean; from: string } | undefined {
  const s: Setting = SETTINGS[name];
  const flagged = source.flag?.(s.flag);
  if (flagged !== undefined && flagged !== '') return { value: flagged, from: `--${s.flag}` };
  const env = s.env === undefined ? undefined : source.env(s.env);
  if (env !== undefined && env.trim() !== '') return { value: env.trim(), from: s.env! };
  return undefined;
}

/** A setting's value as given, the flag's else the variable's (a platform's own: `--state`, `--kv`). */
export function settingValue(source: SettingSource, name: SettingName): string | boolean | undefined {
  return raw(source, name)?.value;
}

function numberOf(source: SettingSource, name: SettingName): number | undefined {
  const found = raw(source, name);
  if (found === undefined) return undefined;
  const { min, whole } = (SETTINGS[name].kind as { number: { min: number; whole: boolean } }).number;
  return parseNumber(found.from, String(found.value), min, whole);
}

/** A number setting's text, checked: `from` names where it came from in the error. */
export function parseNumber(from: string, value: string, min: number, whole: boolean): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed < min || (whole && !Number.isInteger(parsed))) {
    throw new UsageError(`${from} must be a ${whole ? 'whole number' : 'number'} >= ${min}, got "${value}"`);
  }
  return parsed;
}

/** A yes/no setting: `--flag` says yes; the variable says which. */
function flagOf(source: SettingSource, name: SettingName): boolean | undefined {
  const found = raw(source, name);
  if (found === undefined) return undefined;
  return typeof found.value === 'boolean' ? found.value : parseFlag(found.from, found.value);
}

function textOf(source: SettingSource, name: SettingName): string | undefined {
  const found = raw(source, name);
  return found === undefined ? undefined : String(found.value);
}

/** Parses a yes/no the way every setting does. */
export function parseFlag(from: string, value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new UsageError(`${from} must be true or false, got "${value}"`);
}

/** The hub's settings from flags and environment (or Worker vars), every default applied. */
export function hubSettings(source: SettingSource): HubSettings {
  const interval = numberOf(source, 'interval') ?? DEFAULTS.interval;
  const count = numberOf(source, 'count') ?? DEFAULTS.count;
  const pings = raw(source, 'sendPings');
  // The flag is --no-ping (true means off); the variable says whether to send (false means off).
  const sendPings = pings === undefined ? DEFAULTS.sendPings : typeof pings.value === 'boolean' ? !pings.value : parseFlag(pings.from, pings.value);
  const advertise = numberOf(source, 'advertiseTimeout');
  return {
    interval,
    count,
    sendPings,
    advertiseTimeout: advertise === undefined ? defaultAdvertiseTimeout(interval, count) : advertise || null,
    maxConnections: numberOf(source, 'maxConnections'),
    maxPingsPerInterval: numberOf(source, 'maxPingsPerInterval') ?? DEFAULTS.maxPingsPerInterval,
    maxFrameBytes: numberOf(source, 'maxFrameBytes') ?? DEFAULTS.maxFrameBytes,
    pingWindow: numberOf(source, 'pingWindow'),
    deliveryWindow: numberOf(source, 'deliveryWindow') ?? DEFAULTS.deliveryWindow,
    deliveryWindowBytes: numberOf(source, 'deliveryWindowBytes') ?? DEFAULTS.deliveryWindowBytes,
    presence: flagOf(source, 'presence') ?? DEFAULTS.presence,
    presenceStateBytes: numberOf(source, 'presenceStateBytes') ?? DEFAULTS.presenceStateBytes,
    token: textOf(source, 'token'),
    webhook: webhookOf(source),
  };
}

/** Where a server listens, from flags and environment. */
export function listenSettings(source: SettingSource): ListenSettings {
  const tcp = textOf(source, 'tcpPort');
  let tcpPort: number | null = DEFAULTS.tcpPort;
  if (tcp === 'off') tcpPort = null;
  else if (tcp !== undefined) {
    const parsed = Number(tcp);
    if (!Number.isInteger(parsed) || parsed < 0) throw new UsageError(`${raw(source, 'tcpPort')!.from} must be a whole number >= 0 or off, got "${tcp}"`);
    tcpPort = parsed;
  }
  return {
    host: textOf(source, 'host') ?? DEFAULTS.host,
    port: numberOf(source, 'port') ?? DEFAULTS.port,
    tcpPort,
  };
}

/** The log's format (Node, Deno). */
export function logFormat(source: SettingSource): 'text' | 'json' {
  const found = raw(source, 'log');
  if (found === undefined) return 'text';
  const value = String(found.value);
  if (value !== 'text' && value !== 'json') throw new UsageError(`${found.from} must be text or json, got "${value}"`);
  return value;
}

/**
 * What a process may be called in a hub (`--node`): it becomes part of Redis keys and
 * channels (runtime/cluster/keys.ts). Here rather than in the cluster's room so that
 * reading settings (a Worker does) never reaches the Redis client.
 */
export const NODE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
export const NODE_NAME_RULE = '1 to 64 characters of A-Z a-z 0-9 _ . -';

/** A hub over many processes (Node, Deno), from flags and environment; undefined without a Redis URL. */
export function clusterSettings(source: SettingSource): { redis: string; node?: string } | undefined {
  const found = raw(source, 'redis');
  const node = textOf(source, 'node');
  if (found === undefined) {
    if (node !== undefined) throw new UsageError(`${raw(source, 'node')!.from} names this process in a hub over Redis: give --redis (KEEPALIVE_REDIS) too`);
    return undefined;
  }
  const url = String(found.value);
  try {
    redisTarget(url);
  } catch (error) {
    throw new UsageError(`${found.from} must be ${REDIS_URL_FORMS}: ${(error as Error).message}, got "${redactRedisUrl(url)}"`);
  }
  if (node !== undefined && !NODE_NAME.test(node)) throw new UsageError(`${raw(source, 'node')!.from} must be ${NODE_NAME_RULE}, got "${node}"`);
  return { redis: url, ...(node !== undefined ? { node } : {}) };
}

/** A URL setting's text, checked: one of `protocols`, else an error naming where it came from. */
function urlOf(found: { value: string | boolean; from: string }, protocols: readonly string[], what: string): string {
  const url = String(found.value);
  let protocol = '';
  try {
    protocol = new URL(url).protocol;
  } catch {
    // Reported below.
  }
  if (!protocols.includes(protocol)) throw new UsageError(`${found.from} must be ${what}, got "${url}"`);
  return url;
}

function webhookOf(source: SettingSource): WebhookOptions | undefined {
  const found = raw(source, 'webhook');
  if (found === undefined) return undefined;
  const url = urlOf(found, ['http:', 'https:'], 'an http(s) URL');
  const secret = textOf(source, 'webhookSecret');
  const retry = numberOf(source, 'webhookRetryMs');
  return { url, ...(secret ? { secret } : {}), ...(retry !== undefined ? { retry: retryDelays(retry) } : {}) };
}

/** Settings from a plain environment only (a Worker's vars, `process.env`, `Deno.env`). */
export function envSource(env: (name: string) => string | undefined): SettingSource {
  return { env };
}

/** Settings from `parseArgs` values first, then the environment. */
export function argsSource(values: Record<string, string | boolean | undefined>, env: (name: string) => string | undefined): SettingSource {
  return { flag: (name) => values[name], env };
}
