/**
 * A real Redis Cluster for a test file: six redis-server processes on free loopback ports,
 * three primaries with a replica each (`redis-cli --cluster create --cluster-replicas 1`),
 * nothing saved, config files in a temporary directory. Its tests SIGKILL a primary and
 * wait for its replica to take over, and start the killed server again (it rejoins as a
 * replica).
 *
 * `--cluster-node-timeout 1000`: a dead primary is flagged within about a second, and its
 * replica elected about a second later (2.7 s measured here from the SIGKILL). Found here:
 * with a node timeout that short, a replica refuses to fail over ("data too old") unless
 * `--cluster-replica-validity-factor 0` is also given.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hubPrefix, keys } from '../../runtime/cluster/keys.ts';
import { exited, freePort, launchRedis, ready, redisCommand } from './redis.ts';

export const REDIS_CLI = process.env.REDIS_CLI ?? (existsSync('/usr/bin/redis-cli') ? '/usr/bin/redis-cli' : 'redis-cli');

export interface Failover {
  /** The primary killed, and when. */
  killed: number;
  killedAt: number;
  /** The replica that took over, and when it first answered as a primary. */
  promoted: number;
  answeredAt: number;
}

export interface RedisCluster {
  /** `redis+cluster://` with the three first nodes as seeds. */
  readonly url: string;
  readonly ports: readonly number[];
  /** The slot of a hub's keys (their hash tag `{hub}`), as the cluster computes it. */
  slotOf(hub: string): Promise<number>;
  /** The port of the primary serving a hub's slot now, as a live node says. */
  primaryOf(hub: string): Promise<number>;
  /** The ports of the primaries now. */
  primaries(): Promise<number[]>;
  /** SIGKILLs the primary serving a hub's slot; resolves once its replica answers as a primary. */
  failover(hub: string): Promise<Failover>;
  /** Starts a killed server again; resolves once it is a replica in sync with its primary. */
  restart(port: number): Promise<void>;
  /** One command to one node, on a connection of its own. */
  command(port: number, args: string[]): Promise<unknown>;
  stop(): Promise<void>;
}

const NODE_ARGS = ['--cluster-enabled', 'yes', '--cluster-node-timeout', '1000', '--cluster-replica-validity-factor', '0'];

/** `extra`: more arguments for every node (`--cluster-require-full-coverage no`). */
export async function startRedisCluster(extra: readonly string[] = []): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'keepalive-redis-cluster-'));
  const ports: number[] = [];
  for (let i = 0; i < 6; i++) {
    let port = await freePort();
    // A node also listens on port + 10000 (the cluster bus): both must be free.
    while (port > 55_535 || ports.includes(port)) port = await freePort();
    ports.push(port);
  }
  const procs = new Map<number, ChildProcess>();
  const launch = async (port: number) => {
    const proc = launchRedis(port, [...NODE_ARGS, ...extra, '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--dir', dir]);
    procs.set(port, proc);
    await ready(port, proc);
  };
  const dead = new Set<number>();
  const command = redisCommand;
  const live = () => ports.filter((port) => !dead.has(port));
  /** From the first live node that answers. */
  const anyNode = async (args: string[]): Promise<unknown> => {
    let last: unknown;
    for (const port of live()) {
      try {
        return await command(port, args);
      } catch (error) {
        last = error;
      }
    }
    throw last;
  };
  const slotOf = async (hub: string) => Number(await anyNode(['CLUSTER', 'KEYSLOT', keys.nodes(hubPrefix(hub))]));
  const slots = async () => (await anyNode(['CLUSTER', 'SLOTS'])) as [number, number, [string, number], ...[string, number][]][];
  const primaryOf = async (hub: string) => {
    const slot = await slotOf(hub);
    const range = (await slots()).find(([from, to]) => from <= slot && slot <= to);
    if (!range) throw new Error(`no primary serves slot ${slot}`);
    return Number(range[2][1]);
  };
  const replicasOf = async (port: number) => {
    const [, , replicas] = (await command(port, ['ROLE'])) as [string, number, [string, string, string][]];
    return replicas.map(([, replica]) => Number(replica));
  };
  const role = (port: number) => command(port, ['ROLE']).then((reply) => String((reply as unknown[])[0]), () => 'away');
  const inSync = async (port: number) => /master_link_status:up/.test(String(await command(port, ['INFO', 'replication']).catch(() => '')));
  const waitFor = async (what: string, check: () => Promise<boolean>, timeout = 20_000) => {
    const deadline = Date.now() + timeout;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`Redis Cluster: ${what} not within ${timeout} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  try {
    await Promise.all(ports.map(launch));
    const create = spawn(REDIS_CLI, ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '1', '--cluster-yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    create.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    create.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => create.once('exit', (status) => resolve(status)));
    if (code !== 0) throw new Error(`redis-cli --cluster create failed (${code}):\n${output}`);
    await waitFor('every node saying the cluster is ok', async () => {
      const states = await Promise.all(ports.map((port) => command(port, ['CLUSTER', 'INFO']).then(String, () => '')));
      return states.every((info) => /cluster_state:ok/.test(info));
    });
    const primaries = new Set((await slots()).map((range) => Number(range[2][1])));
    await waitFor('every replica in sync', async () => (await Promise.all(ports.filter((port) => !primaries.has(port)).map(inSync))).every(Boolean));
  } catch (error) {
    for (const proc of procs.values()) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    url: `redis+cluster://${ports
      .slice(0, 3)
      .map((port) => `127.0.0.1:${port}`)
      .join(',')}`,
    ports,
    slotOf,
    primaryOf,
    primaries: async () => [...new Set((await slots()).map((range) => Number(range[2][1])))],
    async failover(hub) {
      const killed = await primaryOf(hub);
      const replicas = await replicasOf(killed);
      if (replicas.length === 0) throw new Error(`the primary on ${killed} has no replica to take over`);
      const proc = procs.get(killed)!;
      const killedAt = Date.now();
      proc.kill('SIGKILL');
      dead.add(killed);
      await exited(proc);
      let promoted = 0;
      await waitFor(`a replica of ${killed} taking over`, async () => {
        for (const replica of replicas) if ((await role(replica)) === 'master') promoted = replica;
        return promoted !== 0;
      });
      return { killed, killedAt, promoted, answeredAt: Date.now() };
    },
    async restart(port) {
      await launch(port);
      dead.delete(port);
      await waitFor(`${port} back as a replica in sync`, async () => (await role(port)) === 'slave' && (await inSync(port)));
    },
    command,
    async stop() {
      for (const proc of procs.values()) proc.kill('SIGKILL');
      await Promise.all([...procs.values()].map(exited));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
