/**
 * The Worker's settings: `[vars]` in wrangler.toml, `KEEPALIVE_TOKEN` as a secret.
 * Vars are strings; a bad one fails loudly at the object's first use, not silently.
 */
import { defaultAdvertiseTimeout, retryDelays, type KeepaliveOptions, type WebhookOptions } from '../../runtime/index.ts';
import type { KeepaliveHub } from './hub.ts';

export interface Env {
  KEEPALIVE_HUB: DurableObjectNamespace<KeepaliveHub>;
  KEEPALIVE_INTERVAL?: string;
  KEEPALIVE_COUNT?: string;
  KEEPALIVE_SEND_PINGS?: string;
  KEEPALIVE_ADVERTISE_TIMEOUT?: string;
  KEEPALIVE_ALARM_SLACK?: string;
  /** ms a PING may leave before or after its due time (stamped at it: deaths exact). Default interval/4. */
  KEEPALIVE_PING_WINDOW?: string;
  KEEPALIVE_MAX_CONNECTIONS?: string;
  KEEPALIVE_COUNT_WAKES?: string;
  KEEPALIVE_TOKEN?: string;
  /** POST each open, dead and closed event here (docs/hooks.md). */
  KEEPALIVE_WEBHOOK?: string;
  /** A secret (`wrangler secret put`): signs each webhook body. */
  KEEPALIVE_WEBHOOK_SECRET?: string;
  /** First retry delay in ms after a failed webhook try (doubling up to 60 s). Default 1000. */
  KEEPALIVE_WEBHOOK_RETRY_MS?: string;
}

export interface HubConfig {
  keepalive: KeepaliveOptions;
  /** ms added to each alarm so nearby deadlines share one wake-up (deaths up to this late). */
  alarmSlack: number;
  /**
   * ms a PING may leave before or after its due time, stamped at it, so deaths stay exact
   * (the Host's `pingWindow`): peers that PING us at least every window cost one alarm per
   * interval, and PINGs due close together share one. Default: a quarter of the interval.
   */
  pingWindow: number;
  maxConnections: number | undefined;
  /** Keep wake-up counters in storage (one row write per wake-up). */
  durableWakeCounts: boolean;
  webhook: WebhookOptions | undefined;
}

export const DEFAULT_HUB_CONFIG: HubConfig = {
  keepalive: { interval: 5000, count: 5, sendPings: true, advertiseTimeout: defaultAdvertiseTimeout(5000, 5) },
  alarmSlack: 0,
  pingWindow: 5000 / 4,
  maxConnections: undefined,
  durableWakeCounts: false,
  webhook: undefined,
};

export function hubConfig(env: Partial<Env>): HubConfig {
  const d = DEFAULT_HUB_CONFIG;
  const interval = number('KEEPALIVE_INTERVAL', env.KEEPALIVE_INTERVAL, d.keepalive.interval, 1, false);
  const count = number('KEEPALIVE_COUNT', env.KEEPALIVE_COUNT, d.keepalive.count, 0, true);
  return {
    keepalive: {
      interval,
      count,
      sendPings: flag('KEEPALIVE_SEND_PINGS', env.KEEPALIVE_SEND_PINGS, d.keepalive.sendPings),
      // Unset: as long as a silent advertised peer may live; "0": never.
      advertiseTimeout: number('KEEPALIVE_ADVERTISE_TIMEOUT', env.KEEPALIVE_ADVERTISE_TIMEOUT, defaultAdvertiseTimeout(interval, count), 0, false) || null,
    },
    alarmSlack: number('KEEPALIVE_ALARM_SLACK', env.KEEPALIVE_ALARM_SLACK, d.alarmSlack, 0, false),
    pingWindow: number('KEEPALIVE_PING_WINDOW', env.KEEPALIVE_PING_WINDOW, interval / 4, 0, false),
    maxConnections: blank(env.KEEPALIVE_MAX_CONNECTIONS) ? undefined : number('KEEPALIVE_MAX_CONNECTIONS', env.KEEPALIVE_MAX_CONNECTIONS, 0, 1, true),
    durableWakeCounts: flag('KEEPALIVE_COUNT_WAKES', env.KEEPALIVE_COUNT_WAKES, d.durableWakeCounts),
    webhook: webhook(env),
  };
}

function webhook(env: Partial<Env>): WebhookOptions | undefined {
  const url = env.KEEPALIVE_WEBHOOK;
  if (blank(url)) return undefined;
  if (!/^https?:\/\//i.test(url)) throw new RangeError(`KEEPALIVE_WEBHOOK must be an http(s) URL, got "${url}"`);
  const secret = env.KEEPALIVE_WEBHOOK_SECRET;
  const retry = env.KEEPALIVE_WEBHOOK_RETRY_MS;
  return {
    url,
    ...(blank(secret) ? {} : { secret }),
    ...(blank(retry) ? {} : { retry: retryDelays(number('KEEPALIVE_WEBHOOK_RETRY_MS', retry, 1000, 1, false)) }),
  };
}

const blank = (value: string | undefined): value is undefined | '' => value === undefined || value.trim() === '';

function number(name: string, value: string | undefined, fallback: number, min: number, whole: boolean): number {
  if (blank(value)) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < min || (whole && !Number.isInteger(parsed))) {
    throw new RangeError(`${name} must be a ${whole ? 'whole number' : 'number'} >= ${min}, got "${value}"`);
  }
  return parsed;
}

function flag(name: string, value: string | undefined, fallback: boolean): boolean {
  if (blank(value)) return fallback;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new RangeError(`${name} must be true or false, got "${value}"`);
}
