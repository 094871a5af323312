/**
 * What the Node and Deno servers and command lines share: the defaults, the settings a
 * server takes from flags and environment, how numbers are checked, and the lines they
 * log. Platform-free: each adapter parses its own argv (`node:util` parseArgs) and reads
 * its own environment, then hands the strings here.
 */
import { retryDelays, type WebhookOptions } from './application/webhook.ts';
import type { Host, HostEvent } from './host.ts';
import { DEFAULT_MAX_PINGS_PER_INTERVAL } from './host.ts';

/** A local server's defaults: loopback, and libvirtd's keepalive settings (5 s, 5). */
export const DEFAULT_SERVER = {
  host: '127.0.0.1',
  port: 8787,
  tcpPort: 8788,
  interval: 5000,
  count: 5,
  sendPings: true,
} as const;

/** A flag or environment value a person got wrong: printed as is, exit status 1. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Reads one environment variable (`process.env`, `Deno.env.get`). */
export type Env = (name: string) => string | undefined;

/** The `parseArgs` options every server command takes (an adapter adds its own). */
export const SERVER_FLAGS = {
  host: { type: 'string' },
  port: { type: 'string' },
  'tcp-port': { type: 'string' },
  interval: { type: 'string' },
  count: { type: 'string' },
  'no-ping': { type: 'boolean' },
  'advertise-timeout': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-pings': { type: 'string' },
  token: { type: 'string' },
  webhook: { type: 'string' },
  'webhook-secret': { type: 'string' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface ServerFlagValues {
  host?: string | undefined;
  port?: string | undefined;
  interval?: string | undefined;
  count?: string | undefined;
  'no-ping'?: boolean | undefined;
  'advertise-timeout'?: string | undefined;
  'max-connections'?: string | undefined;
  'max-pings'?: string | undefined;
  token?: string | undefined;
  webhook?: string | undefined;
  'webhook-secret'?: string | undefined;
}

/** Flags first, then the environment, then `DEFAULT_SERVER`; absent limits keep the server's own defaults. */
export interface ServerSettings {
  host: string;
  port: number;
  interval: number;
  count: number;
  sendPings: boolean;
  token?: string;
  advertiseTimeout?: number;
  maxConnections?: number;
  maxPingsPerInterval?: number;
  webhook?: WebhookOptions;
}

export function serverSettings(values: ServerFlagValues, env: Env): ServerSettings {
  const token = values.token ?? env('KEEPALIVE_TOKEN');
  const advertise = values['advertise-timeout'] ?? env('KEEPALIVE_ADVERTISE_TIMEOUT');
  const connections = values['max-connections'] ?? env('KEEPALIVE_MAX_CONNECTIONS');
  const pings = values['max-pings'] ?? env('KEEPALIVE_MAX_PINGS');
  const webhook = webhookSettings(values, env);
  return {
    host: values.host ?? env('HOST') ?? DEFAULT_SERVER.host,
    port: number('--port', values.port ?? env('PORT'), DEFAULT_SERVER.port, 0),
    interval: number('--interval', values.interval ?? env('KEEPALIVE_INTERVAL'), DEFAULT_SERVER.interval, 1),
    count: number('--count', values.count ?? env('KEEPALIVE_COUNT'), DEFAULT_SERVER.count, 0),
    sendPings: values['no-ping'] ? false : (flag('KEEPALIVE_SEND_PINGS', env('KEEPALIVE_SEND_PINGS')) ?? DEFAULT_SERVER.sendPings),
    ...(token ? { token } : {}),
    ...(advertise ? { advertiseTimeout: number('--advertise-timeout', advertise, 0, 0) } : {}),
    ...(connections ? { maxConnections: number('--max-connections', connections, 0, 1) } : {}),
    ...(pings ? { maxPingsPerInterval: number('--max-pings', pings, 0, 0) } : {}),
    ...(webhook ? { webhook } : {}),
  };
}

/**
 * `--webhook URL` / KEEPALIVE_WEBHOOK, signed with `--webhook-secret` / KEEPALIVE_WEBHOOK_SECRET;
 * KEEPALIVE_WEBHOOK_RETRY_MS sets the first retry delay (default 1000, doubling up to 60 s).
 */
function webhookSettings(values: ServerFlagValues, env: Env): WebhookOptions | undefined {
  const url = values.webhook ?? env('KEEPALIVE_WEBHOOK');
  if (!url) return undefined;
  try {
    const protocol = new URL(url).protocol;
    if (protocol !== 'http:' && protocol !== 'https:') throw new Error();
  } catch {
    throw new UsageError(`--webhook must be an http(s) URL, got "${url}"`);
  }
  const secret = values['webhook-secret'] ?? env('KEEPALIVE_WEBHOOK_SECRET');
  const retry = env('KEEPALIVE_WEBHOOK_RETRY_MS');
  return {
    url,
    ...(secret ? { secret } : {}),
    ...(retry ? { retry: retryDelays(number('KEEPALIVE_WEBHOOK_RETRY_MS', retry, 1000, 1)) } : {}),
  };
}

/** A number flag: `--interval` may be fractional ms, every other one is whole. */
export function number(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  const whole = name !== '--interval';
  if (!Number.isFinite(parsed) || parsed < min || (whole && !Number.isInteger(parsed))) {
    throw new UsageError(`${name} must be a ${whole ? 'whole number' : 'number'} >= ${min}, got "${value}"`);
  }
  return parsed;
}

export function flag(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new UsageError(`${name} must be true or false, got "${value}"`);
}

/** hh:mm:ss.mmm, as every log and protocol line starts. */
export const clock = (at: number): string => new Date(at).toISOString().slice(11, 23);

/** "5000 ms, count 5, pings on" */
export function describeKeepalive(settings: Pick<ServerSettings, 'interval' | 'count' | 'sendPings'>): string {
  return `${settings.interval} ms, count ${settings.count}, ${settings.sendPings ? 'pings on' : 'pings off'}`;
}

/** The banner's limits line, from what the host really applies. */
export function describeLimits(host: Host, settings: Pick<ServerSettings, 'maxConnections' | 'maxPingsPerInterval'>): string {
  const advertiseTimeout = host.defaults.advertiseTimeout;
  const advertise = advertiseTimeout ? `ADVERTISE within ${advertiseTimeout} ms` : 'no ADVERTISE deadline';
  const cap = settings.maxConnections ? `at most ${settings.maxConnections} connections` : 'no connection cap';
  const pings = settings.maxPingsPerInterval ?? DEFAULT_MAX_PINGS_PER_INTERVAL;
  return `${advertise}, ${cap}, ${pings ? `${pings} PINGs per interval` : 'no PING limit'}`;
}

/** One log line per event a server operator cares about (not per frame). */
export function logEvent(event: HostEvent, log: (line: string) => void): void {
  switch (event.type) {
    case 'opened':
      log(`${event.id} opened`);
      return;
    case 'rejected':
    case 'dead':
    case 'closed':
      log(`${event.id} ${event.type}: ${event.reason}`);
      return;
  }
}
