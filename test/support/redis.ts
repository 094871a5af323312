/**
 * A real `redis-server` per test file, on a free loopback port, with nothing saved to disk
 * (`--save "" --appendonly no`): a restart starts empty. The clustered hub's tests kill,
 * freeze and restart it. Debian's redis-server, installed by `npm test`'s pretest
 * (scripts/system-deps.ts); REDIS_SERVER overrides the binary.
 */
import { createClient } from 'redis';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { hubPrefix, keys } from '../../runtime/cluster/keys.ts';
import { DEFAULTS } from '../../runtime/protocol/defaults.ts';
import { GiveUp, until } from './wait.ts';

export const REDIS_SERVER = process.env.REDIS_SERVER ?? (existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : 'redis-server');

export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  readonly proc: ChildProcess;
  /** SIGKILL, then the same port again, empty. */
  restart(): Promise<void>;
  kill(): Promise<void>;
  /** SIGSTOP: the socket stays open, nothing answers. */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

/** A clustered hub's keys and channels (the default hub's unless named), as runtime/cluster/keys.ts names them. */
export function hubKeys(hub: string = DEFAULTS.hub) {
  const prefix = hubPrefix(hub);
  return {
    nodes: keys.nodes(prefix),
    conns: (node: string) => keys.conns(prefix, node),
    events: (node: string) => keys.events(prefix, node),
    sessions: keys.sessions(prefix),
    hubChannel: keys.hubChannel(prefix),
    nodeChannel: (node: string) => keys.nodeChannel(prefix, node),
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Every redis-server this process started and that still runs: none outlives it. */
const launched = new Set<ChildProcess>();
process.once('exit', () => {
  for (const proc of launched) proc.kill('SIGKILL');
});

/**
 * A redis-server on `port`, nothing saved, plus `extra` arguments (a cluster node's, a config
 * file for a Sentinel). SIGKILLed when this process exits, so a test or bench figure stopped
 * half-way (a figure's timeout, a SIGTERM) leaves no server behind: an orphan would hold the
 * stderr it inherited, and a parent reading it, open.
 */
export function launchRedis(port: number, extra: readonly string[] = []): ChildProcess {
  const proc = spawn(REDIS_SERVER, [...extra, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'warning'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  launched.add(proc);
  proc.once('exit', () => launched.delete(proc));
  proc.on('error', (error) => console.error(`redis-server: ${error.message}`));
  return proc;
}

/** Resolves once `port` accepts connections; rejects if `proc` exits first or 10 s pass. */
export async function ready(port: number, proc: ChildProcess): Promise<void> {
  await until(
    async () => {
      if (proc.exitCode !== null) throw new GiveUp(`redis-server exited (${proc.exitCode}) on port ${port}`);
      return accepting(port);
    },
    `redis-server listening on ${port}`,
    10_000,
  );
}

export function exited(proc: ChildProcess): Promise<void> {
  return proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((resolve) => proc.once('exit', () => resolve()));
}

export async function startRedis(): Promise<RedisProcess> {
  const port = await freePort();
  let proc = launchRedis(port);
  await ready(port, proc);
  const handle: RedisProcess = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get proc() {
      return proc;
    },
    async kill() {
      proc.kill('SIGCONT');
      proc.kill('SIGKILL');
      await exited(proc);
    },
    async restart() {
      await handle.kill();
      proc = launchRedis(port);
      await ready(port, proc);
    },
    freeze: () => void proc.kill('SIGSTOP'),
    thaw: () => void proc.kill('SIGCONT'),
    stop: () => handle.kill(),
  };
  return handle;
}

/** One command to the redis-server (or Sentinel) on `port`, over a connection of its own that gives up at once. */
export async function redisCommand(port: number, args: string[], connectTimeout = 1000): Promise<unknown> {
  const client = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false, connectTimeout } });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}
