/**
 * All the cluster asks of Redis: commands (its scripts included), publishing, listening on
 * channels, and word of Redis going away and coming back. `redis.ts` is the one way
 * (node-redis), whichever the topology: one Redis, a Redis Cluster (the primary serving the
 * hub's slot, with sharded pub/sub) or a primary under Sentinel (topology.ts). The rest of
 * runtime/cluster/ never knows which.
 */
import type { RedisTopology } from '../config/index.ts';

export interface RedisLink {
  /** The URL as given: redact it (`redactRedisUrl`) before showing it. */
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
  /** Which Redis server answers now, and its failovers seen, for `/healthz` and `/metrics`. */
  server(): RedisServer;
  close(): Promise<void>;
}

export interface RedisHealth {
  /** Redis went away, or a command failed: once per cut. */
  down(error: string): void;
  /** Redis answered again after a cut (not at the first connect). */
  back(): void;
}

export interface RedisServer {
  topology: RedisTopology;
  /** `host:port` of the primary this process sends its hub's commands to. */
  address: string;
  /** Times the primary changed under this process (a replica took over). */
  failovers: number;
  /** ms since the epoch this process last found a new primary. */
  failedOverAt?: number;
}
