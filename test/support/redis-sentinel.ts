/**
 * A real primary under Sentinel for a test file: a redis-server primary, one replica of it,
 * and three Sentinels (`redis-server CONFIG --sentinel`, quorum 2) on free loopback ports,
 * nothing saved. Its tests SIGKILL the primary and wait for the Sentinels to promote the
 * replica: `down-after-milliseconds 1000` notices in a second, the failover takes about
 * 2.4 s in all from the SIGKILL (measured here).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Failover } from './redis-cluster.ts';
import { exited, freePort, launchRedis, ready, redisCommand } from './redis.ts';

/** The name the Sentinels know the primary by. */
export const MASTER = 'keepalive';

export interface RedisSentinel {
  /** `redis+sentinel://` with the three Sentinels and the primary's name. */
  readonly url: string;
  /** The two Redis servers (primary and replica, whichever is which now). */
  readonly servers: readonly number[];
  readonly sentinels: readonly number[];
  /** The primary's port, as the first Sentinel says. */
  primary(): Promise<number>;
  /** SIGKILLs the primary; resolves once the replica answers as a primary. */
  failover(): Promise<Failover>;
  /** Starts a killed server again, as a replica of the primary now; resolves once it is in sync. */
  restart(port: number): Promise<void>;
  command(port: number, args: string[]): Promise<unknown>;
  stop(): Promise<void>;
}

export async function startRedisSentinel(): Promise<RedisSentinel> {
  const dir = mkdtempSync(join(tmpdir(), 'keepalive-redis-sentinel-'));
  const servers = [await freePort(), await freePort()];
  const sentinels = [await freePort(), await freePort(), await freePort()];
  const procs = new Map<number, ChildProcess>();
  const command = redisCommand;
  const role = (port: number) => command(port, ['ROLE']).then((reply) => String((reply as unknown[])[0]), () => 'away');
  const inSync = async (port: number) => /master_link_status:up/.test(String(await command(port, ['INFO', 'replication']).catch(() => '')));
  const waitFor = async (what: string, check: () => Promise<boolean>, timeout = 40_000) => {
    const deadline = Date.now() + timeout;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`Sentinel: ${what} not within ${timeout} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const server = async (port: number, primary?: number) => {
    const proc = launchRedis(port, ['--dir', dir, ...(primary !== undefined ? ['--replicaof', '127.0.0.1', String(primary)] : [])]);
    procs.set(port, proc);
    await ready(port, proc);
  };
  const primary = async () => Number(((await command(sentinels[0]!, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER])) as [string, string])[1]);

  try {
    await server(servers[0]!);
    await server(servers[1]!, servers[0]);
    await waitFor('the replica in sync', () => inSync(servers[1]!));
    for (const port of sentinels) {
      const config = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        config,
        [
          `sentinel monitor ${MASTER} 127.0.0.1 ${servers[0]} 2`,
          `sentinel down-after-milliseconds ${MASTER} 1000`,
          `sentinel failover-timeout ${MASTER} 5000`,
          `sentinel parallel-syncs ${MASTER} 1`,
          '',
        ].join('\n'),
      );
      const proc = launchRedis(port, [config, '--sentinel', '--dir', dir]);
      procs.set(port, proc);
      await ready(port, proc);
    }
    // A Sentinel that knows neither the others nor the replica cannot fail over.
    await waitFor('every Sentinel knowing the other two and the replica', async () => {
      for (const port of sentinels) {
        const others = (await command(port, ['SENTINEL', 'SENTINELS', MASTER]).catch(() => [])) as unknown[];
        const replicas = (await command(port, ['SENTINEL', 'REPLICAS', MASTER]).catch(() => [])) as unknown[];
        if (others.length !== 2 || replicas.length !== 1) return false;
      }
      return true;
    });
  } catch (error) {
    for (const proc of procs.values()) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    url: `redis+sentinel://${sentinels.map((port) => `127.0.0.1:${port}`).join(',')}/${MASTER}`,
    servers,
    sentinels,
    primary,
    async failover() {
      const killed = await primary();
      const replica = servers.find((port) => port !== killed)!;
      const proc = procs.get(killed)!;
      const killedAt = Date.now();
      proc.kill('SIGKILL');
      await exited(proc);
      await waitFor(`the replica ${replica} taking over`, async () => (await role(replica)) === 'master');
      return { killed, killedAt, promoted: replica, answeredAt: Date.now() };
    },
    async restart(port) {
      // The Sentinels know the new primary only after the failover ends: start it as their replica once they do.
      await waitFor('the Sentinels naming the new primary', async () => (await primary()) !== port);
      await server(port, await primary());
      await waitFor(`${port} back as a replica in sync`, async () => (await role(port)) === 'slave' && (await inSync(port)));
      await waitFor('every Sentinel knowing the replica again', async () => {
        for (const sentinel of sentinels) {
          const replicas = (await command(sentinel, ['SENTINEL', 'REPLICAS', MASTER]).catch(() => [])) as unknown[];
          if (!replicas.some((fields) => field(fields, 'flags') === 'slave')) return false;
        }
        return true;
      });
    },
    command,
    async stop() {
      for (const proc of procs.values()) proc.kill('SIGKILL');
      await Promise.all([...procs.values()].map(exited));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A field of a Sentinel's description of a server: a flat list (RESP2) or a map (RESP3). */
function field(fields: unknown, name: string): string | undefined {
  if (Array.isArray(fields)) {
    const at = fields.indexOf(name);
    return at < 0 ? undefined : String(fields[at + 1]);
  }
  if (fields instanceof Map) return fields.has(name) ? String(fields.get(name)) : undefined;
  const value = (fields as Record<string, unknown> | null)?.[name];
  return value === undefined ? undefined : String(value);
}
