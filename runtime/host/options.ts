/**
 * `HostOptions` resolved once: the defaults filled in and every setting checked, so the
 * host's parts read plain values and no part restates a default.
 */
import type { KeepaliveOptions } from '../../actors/keepalive.ts';
import { DEFAULTS } from '../protocol/index.ts';
import type { HostOptions, PingWindow } from './types.ts';

const DEFAULT_KEEPALIVE: KeepaliveOptions = { interval: DEFAULTS.interval, count: DEFAULTS.count, sendPings: DEFAULTS.sendPings };

export interface HostSettings {
  readonly keepalive: KeepaliveOptions;
  /** Step every frame (`eager`, or an inspector attached): no folding. */
  readonly eager: boolean;
  readonly maxFrameBytes: number;
  /** PINGs a peer may send per interval of ours; 0: no limit. */
  readonly maxPings: number;
  readonly maxConnections: number;
  /** PINGs may leave this early or late (`HostOptions.pingWindow`); both 0: no window. */
  readonly pingWindow: PingWindow;
}

export function settingsOf(options: HostOptions): HostSettings {
  const window = options.pingWindow ?? 0;
  const pingWindow = typeof window === 'number' ? { early: window, late: window } : { early: window.early, late: window.late };
  for (const ms of [pingWindow.early, pingWindow.late]) {
    if (!(ms >= 0 && ms < Infinity)) throw new RangeError(`pingWindow must be ms >= 0 (a number, or { early, late }), got ${JSON.stringify(window)}`);
  }
  const keepalive = { ...DEFAULT_KEEPALIVE, ...options.defaults };
  validateKeepalive(keepalive);
  return {
    keepalive,
    eager: options.eager ?? options.inspect !== undefined,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULTS.maxFrameBytes,
    maxPings: options.maxPingsPerInterval ?? DEFAULTS.maxPingsPerInterval,
    maxConnections: options.maxConnections ?? Infinity,
    pingWindow,
  };
}

export function validateKeepalive(options: KeepaliveOptions): void {
  if (!Number.isFinite(options.interval) || options.interval <= 0) {
    throw new RangeError(`keepalive interval must be a positive number of ms, got ${options.interval}`);
  }
  if (!Number.isInteger(options.count) || options.count < 0) {
    throw new RangeError(`keepalive count must be a whole number >= 0, got ${options.count}`);
  }
  const timeout = options.advertiseTimeout;
  if (timeout !== undefined && timeout !== null && (!Number.isFinite(timeout) || timeout < 0)) {
    throw new RangeError(`advertiseTimeout must be a number of ms >= 0 (0 or null: none), got ${timeout}`);
  }
}
