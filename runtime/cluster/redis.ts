/**
 * The cluster's way to Redis (link.ts): node-redis (`redis`), chosen over ioredis because it
 * runs unchanged on Node and on Deno through node_modules. Two connections to the hub's
 * primary, as Redis requires: one for commands, one subscribed. Commands fail fast while
 * Redis is away (no offline queue): what a process holds is written again whole when Redis
 * is back, so nothing queued stale is replayed over it.
 *
 * Which server is the primary, the topology says (topology.ts). The link never reconnects
 * blindly, since after a failover the old address may be a replica or nothing: after a cut
 * it asks the topology again, 50 ms doubling to 500 ms apart, until one of these works:
 *
 * - the same server, its connections intact (Redis stopped, slow, or refusing for a moment):
 *   back as soon as it answers for the hub's key;
 * - the same server, its connections gone (Redis restarted): new connections to it;
 * - another server (a replica took over, or the hub's slot moved): new connections there,
 *   which must say they are a primary (`ROLE`) and answer for the hub's key before the
 *   channels are subscribed again on them and the link is back. That is a failover.
 */
import { addressText, redactRedisUrl, redisTarget, type RedisAddress } from '../config/index.ts';
import type { RedisHealth, RedisLink, RedisServer } from './link.ts';
import { serverClient, type ServerClient } from './server-client.ts';
import { topologyOf, type Topology } from './topology.ts';

export interface NodeRedisOptions {
  /** `--redis`: one Redis, a Redis Cluster or Sentinel (runtime/config/redis-url.ts). */
  url: string;
  /** Any key of the hub (they share one hash tag): on a Redis Cluster it picks the primary. */
  key: string;
  /** How long a command may take before it counts as failed (a stopped Redis never answers). */
  commandTimeout?: number;
}

/** The two connections to one primary. `lost`: one of them ended, or the server said it no longer serves the hub. */
interface Session {
  readonly address: RedisAddress;
  readonly commands: ServerClient;
  readonly subscriber: ServerClient;
  lost: boolean;
}

/** Errors by which a server says it is not (or no longer) the hub's primary: ask the topology where it is now. */
const NOT_HERE = /^(MOVED|ASK|READONLY)\b|non local key|slot moved/;

/** How long new connections to a server may take, connected and answering. */
const OPEN_TIMEOUT_MS = 2000;

export class NodeRedisLink implements RedisLink {
  readonly url: string;
  readonly #topology: Topology;
  readonly #key: string;
  readonly #timeout: number;
  readonly #health: RedisHealth[] = [];
  /** Every channel listened on, subscribed again on each new session. */
  readonly #channels = new Map<string, (message: string) => void>();
  #session: Session | undefined;
  #finding: Promise<void> | undefined;
  #closed = false;
  #down = false;
  #failovers = 0;
  #failedOverAt: number | undefined;

  private constructor(options: NodeRedisOptions, topology: Topology) {
    this.url = options.url;
    this.#topology = topology;
    this.#key = options.key;
    this.#timeout = options.commandTimeout ?? 1000;
  }

  /** Finds the primary and connects to it; throws, naming the URL, when it cannot. A wrong URL is a usage error: it fails at once. */
  static async connect(options: NodeRedisOptions): Promise<NodeRedisLink> {
    const topology = topologyOf(redisTarget(options.url), options.key);
    const link = new NodeRedisLink(options, topology);
    try {
      link.#session = await link.#open(await topology.primary());
    } catch (error) {
      link.#closed = true;
      throw new Error(`cannot reach Redis at ${redactRedisUrl(options.url)}: ${error instanceof Error ? error.message || error.name : String(error)}`);
    }
    return link;
  }

  /** One command; rejects when Redis is away or does not answer within the command timeout. */
  async command<T = unknown>(args: readonly (string | number)[]): Promise<T> {
    const session = this.#live();
    try {
      return (await this.#timed(session.commands.sendCommand(args.map(String)), String(args[0]))) as T;
    } catch (error) {
      this.#failed(session, error);
      throw error;
    }
  }

  /** On a Redis Cluster the hub's channels are sharded: the message goes to the slot's primary and its replicas only. */
  async publish(channel: string, message: string): Promise<void> {
    await this.command([this.#topology.sharded ? 'SPUBLISH' : 'PUBLISH', channel, message]);
  }

  async subscribe(channel: string, listener: (message: string) => void): Promise<void> {
    this.#channels.set(channel, listener);
    await this.#listen(this.#live().subscriber, channel, listener);
  }

  watch(health: RedisHealth): void {
    this.#health.push(health);
  }

  /** A command answered again after a timeout, without new connections (Redis was stopped, not cut). */
  answered(): void {
    const session = this.#session;
    if (this.#down && session && this.#intact(session)) this.#back();
  }

  server(): RedisServer {
    return {
      topology: this.#topology.kind,
      address: this.#session ? addressText(this.#session.address) : '',
      failovers: this.#failovers,
      ...(this.#failedOverAt !== undefined ? { failedOverAt: this.#failedOverAt } : {}),
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const session = this.#session;
    if (!session) return;
    await Promise.allSettled([session.commands.close(), session.subscriber.close()]);
    end(session);
  }

  #live(): Session {
    if (this.#closed || !this.#session) throw new Error('redis link closed');
    return this.#session;
  }

  /** New connections to `address`: a primary (where the topology can say otherwise), answering for the hub's key, with every channel subscribed. */
  async #open(address: RedisAddress): Promise<Session> {
    const { target } = this.#topology;
    const session: Session = {
      address,
      commands: serverClient(target, address, { connectTimeout: OPEN_TIMEOUT_MS }),
      subscriber: serverClient(target, address, { connectTimeout: OPEN_TIMEOUT_MS }),
      lost: false,
    };
    for (const client of [session.commands, session.subscriber]) {
      client.on('error', (error: unknown) => this.#lost(session, error instanceof Error ? error.message : String(error)));
      client.on('end', () => this.#lost(session, `connection to ${addressText(address)} closed`));
    }
    // The server unsubscribed a sharded channel: the hub's slot is another primary's now.
    session.subscriber.on('sharded-channel-moved', () => this.#lost(session, "the hub's slot moved to another primary"));
    try {
      await this.#timed(Promise.all([session.commands.connect(), session.subscriber.connect()]), `connecting to ${addressText(address)}`, OPEN_TIMEOUT_MS);
      if (this.#topology.checksRole) {
        const [role] = (await this.#timed(session.commands.sendCommand(['ROLE']), 'ROLE')) as [string];
        if (role !== 'master') throw new Error(`${addressText(address)} is a ${role}, not a primary`);
      }
      await this.#timed(session.commands.sendCommand(['EXISTS', this.#key]), 'EXISTS');
      for (const [channel, listener] of this.#channels) await this.#timed(this.#listen(session.subscriber, channel, listener), 'subscribing');
      return session;
    } catch (error) {
      session.lost = true;
      end(session);
      throw error;
    }
  }

  #listen(subscriber: ServerClient, channel: string, listener: (message: string) => void): Promise<void> {
    return this.#topology.sharded ? subscriber.sSubscribe(channel, (message) => listener(message)) : subscriber.subscribe(channel, (message) => listener(message));
  }

  #intact(session: Session): boolean {
    return !session.lost && session.commands.isReady && session.subscriber.isReady;
  }

  #failed(session: Session, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (NOT_HERE.test(message)) this.#lost(session, message);
    else this.#wentDown(message);
  }

  #lost(session: Session, why: string): void {
    if (session !== this.#session) return;
    session.lost = true;
    this.#wentDown(why);
  }

  #wentDown(why: string): void {
    if (this.#closed || this.#down) return;
    this.#down = true;
    for (const health of this.#health) health.down(why);
    this.#find();
  }

  #back(): void {
    if (this.#closed || !this.#down) return;
    this.#down = false;
    for (const health of this.#health) health.back();
  }

  /** While Redis is away: ask the topology, and reach what it names, until something answers. */
  #find(): void {
    if (this.#finding) return;
    this.#finding = (async () => {
      for (let attempt = 0; this.#down && !this.#closed; attempt++) {
        if (attempt > 0) await sleep(Math.min(50 * 2 ** (attempt - 1), 500));
        await this.#reach().catch(() => {});
      }
    })().finally(() => (this.#finding = undefined));
  }

  async #reach(): Promise<void> {
    const address = await this.#topology.primary();
    const current = this.#session!;
    const same = address.host === current.address.host && address.port === current.address.port;
    if (same && this.#intact(current)) {
      // Stopped or slow, not cut: back when it answers for the hub's key.
      await this.#timed(current.commands.sendCommand(['EXISTS', this.#key]), 'EXISTS').catch((error: unknown) => {
        this.#failed(current, error);
        throw error;
      });
      return this.#back();
    }
    const next = await this.#open(address);
    if (this.#closed || !this.#down) {
      end(next);
      return;
    }
    this.#session = next;
    end(current);
    if (!same) {
      this.#failovers++;
      this.#failedOverAt = Date.now();
    }
    this.#back();
  }

  /** `work`, or a rejection after `ms`; `work` failing later is not left unheard. */
  #timed<T>(work: Promise<T>, what: string, ms = this.#timeout): Promise<T> {
    work.catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`redis did not answer ${what} within ${ms} ms`)), ms);
    });
    return Promise.race([work, late]).finally(() => clearTimeout(timer));
  }
}

function end(session: Session): void {
  session.lost = true;
  session.commands.destroy();
  session.subscriber.destroy();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
