/**
 * The cluster's way to one Redis primary (link.ts): node-redis (`redis`), chosen over
 * ioredis because it runs unchanged on Node and on Deno through node_modules, reconnects by
 * itself and resubscribes its channels after a reconnect. Two connections, as Redis
 * requires: one for commands, one subscribed. Commands fail fast while Redis is away (no
 * offline queue): what a process holds is re-registered whole when Redis is back, so
 * nothing queued stale is replayed over it.
 */
import { createClient } from 'redis';
import { redactUrl, type RedisHealth, type RedisLink } from './link.ts';

export interface NodeRedisOptions {
  url: string;
  /** How long a command may take before it counts as failed (a stopped Redis never answers). */
  commandTimeout?: number;
}

type Client = ReturnType<typeof createClient>;

export class NodeRedisLink implements RedisLink {
  readonly url: string;
  readonly #commands: Client;
  readonly #subscriber: Client;
  readonly #timeout: number;
  readonly #health: RedisHealth[] = [];
  #connected = false;
  #closed = false;
  #down = false;

  private constructor(options: NodeRedisOptions) {
    this.url = options.url;
    this.#timeout = options.commandTimeout ?? 1000;
    const make = (): Client =>
      createClient({
        url: options.url,
        disableOfflineQueue: true,
        socket: {
          connectTimeout: 2000,
          // The first connect fails at once (a wrong URL is a usage error); later cuts are ridden out.
          reconnectStrategy: (retries) => (this.#connected ? Math.min(50 * 2 ** retries, 500) : false),
        },
      });
    this.#commands = make();
    this.#subscriber = make();
    for (const client of [this.#commands, this.#subscriber]) {
      client.on('error', (error: unknown) => this.#wentDown(error instanceof Error ? error.message : String(error)));
    }
    // Ready again after a cut: both connections, whichever comes back last.
    this.#commands.on('ready', () => this.#ready());
    this.#subscriber.on('ready', () => this.#ready());
  }

  /** Connects both connections; throws, naming the URL, when Redis cannot be reached. */
  static async connect(options: NodeRedisOptions): Promise<NodeRedisLink> {
    const link = new NodeRedisLink(options);
    try {
      await Promise.all([link.#commands.connect(), link.#subscriber.connect()]);
      await link.#commands.ping();
    } catch (error) {
      link.#closed = true;
      await Promise.allSettled([link.#commands.destroy(), link.#subscriber.destroy()]);
      throw new Error(`cannot reach Redis at ${redactUrl(options.url)}: ${error instanceof Error ? error.message || error.name : String(error)}`);
    }
    link.#connected = true;
    return link;
  }

  /** Whether both connections are up and the last command answered. */
  get up(): boolean {
    return !this.#down && this.#commands.isReady && this.#subscriber.isReady;
  }

  /** One command; rejects when Redis is away or does not answer within the command timeout. */
  async command<T = unknown>(args: readonly (string | number)[]): Promise<T> {
    if (this.#closed) throw new Error('redis link closed');
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`redis did not answer ${String(args[0])} within ${this.#timeout} ms`)), this.#timeout);
    });
    try {
      return (await Promise.race([this.#commands.sendCommand(args.map(String)), late])) as T;
    } catch (error) {
      this.#wentDown(error instanceof Error ? error.message : String(error));
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.command(['PUBLISH', channel, message]);
  }

  async subscribe(channel: string, listener: (message: string) => void): Promise<void> {
    await this.#subscriber.subscribe(channel, (message) => listener(message));
  }

  watch(health: RedisHealth): void {
    this.#health.push(health);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([this.#commands.close(), this.#subscriber.close()]);
    await Promise.allSettled([this.#commands.destroy(), this.#subscriber.destroy()]);
  }

  #wentDown(error: string): void {
    if (this.#closed || !this.#connected || this.#down) return;
    this.#down = true;
    for (const health of this.#health) health.down(error);
  }

  #ready(): void {
    if (this.#closed || !this.#connected) return;
    if (!this.#commands.isReady || !this.#subscriber.isReady) return;
    // A command that timed out (a stopped Redis) also marked us down without a reconnect.
    this.#down = false;
    for (const health of this.#health) health.back();
  }

  /** A command answered again after a timeout, without a reconnect (Redis was stopped, not cut). */
  answered(): void {
    if (this.#down && this.#commands.isReady && this.#subscriber.isReady) this.#ready();
  }
}
