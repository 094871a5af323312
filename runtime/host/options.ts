/** Checks on the settings a host and its connections take. */
import type { KeepaliveOptions } from '../../actors/keepalive.ts';

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
