/**
 * All the cluster asks of Redis: commands (its scripts included), publishing, listening on
 * channels, and word of Redis going away and coming back. `redis.ts` is the one way today
 * (one primary, through node-redis); another topology (Redis Cluster, Sentinel) or sharded
 * pub/sub (`SPUBLISH`/`SSUBSCRIBE`) is another implementation of this, and the rest of
 * runtime/cluster/ stays as it is.
 */
export interface RedisLink {
  /** The URL as given: redact it (`redactUrl`) before showing it. */
  readonly url: string;
  /** One command; rejects when Redis is away or does not answer in time. */
  command<T = unknown>(args: readonly (string | number)[]): Promise<T>;
  /** Publishes on a channel of this hub; rejects as `command` does. */
  publish(channel: string, message: string): Promise<void>;
  /** Listens on a channel, again after every reconnect, until `close`. */
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  /** Tells `health` when Redis goes away (once per cut) and answers again after it. */
  watch(health: RedisHealth): void;
  /** A command answered: Redis stopped, not cut, is back without a reconnect. */
  answered(): void;
  close(): Promise<void>;
}

export interface RedisHealth {
  /** Redis went away, or a command failed: once per cut. */
  down(error: string): void;
  /** Redis answered again after a cut (not at the first connect). */
  back(): void;
}

/** The URL as logs may show it: no password. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '(an invalid URL)';
  }
}
