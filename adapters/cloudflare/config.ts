/**
 * The Worker's settings: `[vars]` in wrangler.toml, `KEEPALIVE_TOKEN` as a secret. The
 * hub's settings are read by the same model as every runtime's (runtime/config/settings.ts), with
 * the same names and defaults; only what a Durable Object alone has is added here. Vars
 * are strings; a bad one fails loudly at the object's first use, naming the var.
 */
import { envSource, hubSettings, parseFlag, parseNumber, type HubSettings } from '../../runtime/config/index.ts';
import type { KeepaliveHub } from './hub.ts';
import { MAX_SHARDS } from './shards.ts';

export interface Env {
  KEEPALIVE_HUB: DurableObjectNamespace<KeepaliveHub>;
  KEEPALIVE_INTERVAL?: string;
  KEEPALIVE_COUNT?: string;
  KEEPALIVE_SEND_PINGS?: string;
  KEEPALIVE_ADVERTISE_TIMEOUT?: string;
  KEEPALIVE_MAX_CONNECTIONS?: string;
  KEEPALIVE_MAX_PINGS?: string;
  KEEPALIVE_MAX_FRAME_BYTES?: string;
  /** ms a PING may leave before or after its due time (stamped at it: deaths exact). Default interval/4 here. */
  KEEPALIVE_PING_WINDOW?: string;
  KEEPALIVE_TOKEN?: string;
  /** Presence for peers (docs/hooks.md): `true` lets a connection subscribe to who is online. Default off. */
  KEEPALIVE_PRESENCE?: string;
  /** Largest presence state a peer may set, its JSON in UTF-8 bytes. Default 1024. */
  KEEPALIVE_PRESENCE_STATE_BYTES?: string;
  /** POST each open, dead and closed event here (docs/hooks.md). */
  KEEPALIVE_WEBHOOK?: string;
  /** A secret (`wrangler secret put`): signs each webhook body. */
  KEEPALIVE_WEBHOOK_SECRET?: string;
  /** First retry delay in ms after a failed webhook try (doubling up to 60 s). Default 1000. */
  KEEPALIVE_WEBHOOK_RETRY_MS?: string;
  /** Durable Objects only: ms added to each alarm so nearby deadlines share one wake-up. */
  KEEPALIVE_ALARM_SLACK?: string;
  /** Durable Objects only: keep wake-up counters in storage (one row write per wake-up). */
  KEEPALIVE_COUNT_WAKES?: string;
  /** Durable Objects only: how many objects each hub is spread over (1 to 32, default 1; docs/cloudflare.md). */
  KEEPALIVE_SHARDS?: string;
}

export interface HubConfig {
  settings: HubSettings;
  /** ms a PING may leave before or after its due time: the settings' or, by default, a quarter of the interval (one alarm per interval for peers that PING us: figure 7). */
  pingWindow: number;
  /** ms added to each alarm so nearby deadlines share one wake-up (deaths up to this late). */
  alarmSlack: number;
  /** Keep wake-up counters in storage (one row write per wake-up). */
  durableWakeCounts: boolean;
  /** How many Durable Objects each hub is spread over (1: the hub is one object). */
  shards: number;
}

export function hubConfig(env: Partial<Env>): HubConfig {
  const vars = env as Record<string, unknown>;
  const read = (name: string) => (typeof vars[name] === 'string' ? (vars[name] as string) : undefined);
  const settings = hubSettings(envSource(read));
  const slack = read('KEEPALIVE_ALARM_SLACK')?.trim();
  const wakes = read('KEEPALIVE_COUNT_WAKES')?.trim();
  const shards = read('KEEPALIVE_SHARDS')?.trim();
  return {
    settings,
    pingWindow: settings.pingWindow ?? settings.interval / 4,
    alarmSlack: slack ? parseNumber('KEEPALIVE_ALARM_SLACK', slack, 0, false) : 0,
    durableWakeCounts: wakes ? parseFlag('KEEPALIVE_COUNT_WAKES', wakes) : false,
    shards: shards ? parseShards(shards) : 1,
  };
}

function parseShards(value: string): number {
  const shards = parseNumber('KEEPALIVE_SHARDS', value, 1, true);
  if (shards > MAX_SHARDS) {
    throw new RangeError(`KEEPALIVE_SHARDS must be a whole number from 1 to ${MAX_SHARDS}, got "${value}"`);
  }
  return shards;
}
