/**
 * Real processes for the Node adapter tests: the CLI spawned with Node 24 directly (not
 * through npx, so SIGSTOP freezes the process that holds the socket), its output
 * collected line by line, and polling instead of fixed sleeps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../adapters/node/cli.ts', import.meta.url));

/** Node 24 from the `node` devDependency: the machine's own node may be too old to strip types. */
export const NODE = (() => {
  const local = fileURLToPath(new URL('../../node_modules/node/bin/node', import.meta.url));
  return existsSync(local) ? local : process.execPath;
})();

export interface Spawned {
  readonly proc: ChildProcess;
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves with the first line (stdout or stderr) matching, waiting up to `timeout` ms. */
  line(pattern: RegExp, timeout?: number): Promise<string>;
  /** Resolves with the exit code (or the signal's name). */
  exited(timeout?: number): Promise<number | string>;
  readonly exitCode: number | string | null;
}

const running = new Set<ChildProcess>();

export function spawnCli(args: string[], env: Record<string, string> = {}): Spawned {
  return spawnProcess(NODE, [CLI, ...args], env);
}

/** Any program (the Deno tests spawn the deno binary), run from the repository root. */
export function spawnProcess(command: string, args: string[], env: Record<string, string> = {}): Spawned {
  const proc = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  let exitCode: number | string | null = null;
  const collect = (into: string[]) => {
    let rest = '';
    return (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      into.push(...lines);
      for (const wake of waiters) wake();
    };
  };
  proc.stdout!.on('data', collect(stdout));
  proc.stderr!.on('data', collect(stderr));
  const exit = new Promise<number | string>((resolve) => {
    proc.once('exit', (code, signal) => {
      running.delete(proc);
      exitCode = code ?? signal ?? -1;
      for (const wake of waiters) wake();
      resolve(exitCode);
    });
  });
  return {
    proc,
    stdout,
    stderr,
    get exitCode() {
      return exitCode;
    },
    line(pattern, timeout = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = [...stdout, ...stderr].find((l) => pattern.test(l));
          if (found !== undefined) return done(() => resolve(found));
          if (exitCode !== null) return done(() => reject(new Error(`exited (${exitCode}) before ${pattern}:\n${dump()}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`no line matching ${pattern} within ${timeout} ms:\n${dump()}`))), timeout);
        const done = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    exited(timeout = 10_000) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`still running after ${timeout} ms:\n${dump()}`)), timeout);
      });
      return Promise.race([exit, late]).finally(() => clearTimeout(timer));
    },
  };
  function dump(): string {
    return `stdout:\n${stdout.join('\n')}\nstderr:\n${stderr.join('\n')}`;
  }
}

/** Every process still running: SIGCONT (a test may have frozen it), then SIGKILL. */
export function killAll(): void {
  for (const proc of running) {
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
  }
  running.clear();
}

/** A running `serve` on ephemeral ports, with the URLs it printed. */
export async function spawnServer(args: string[] = [], env: Record<string, string> = {}) {
  return withUrls(spawnCli(['serve', '--port', '0', '--tcp-port', '0', ...args], env));
}

/** Waits for a server's banner (Node or Deno, same format) and adds the URLs it printed. */
export async function withUrls(server: Spawned) {
  const ws = (await server.line(/WebSocket\s+ws:\/\//)).match(/ws:\/\/\S+/)![0];
  const tcp = (await server.line(/TCP\s+tcp:\/\//)).match(/tcp:\/\/\S+/)![0];
  const http = (await server.line(/health\s+http:\/\//)).match(/http:\/\/\S+?(?=\/healthz)/)![0];
  return { ...server, ws, tcp, http };
}

export interface ActorView {
  id: string;
  state: string;
  role: string;
  codec: string;
  interval: number;
  count: number;
  sendPings: boolean;
  lastSignOfLife: number;
  unanswered: number;
  wakeAt: number | null;
  advertised: boolean;
  messagesReceived: number;
  pingsSent: number;
  pongsSent: number;
  pingsReceived: number;
  pongsReceived: number;
  meta: Record<string, string>;
}

export async function actors(http: string): Promise<ActorView[]> {
  const response = await fetch(`${http}/actors`);
  if (!response.ok) throw new Error(`/actors answered ${response.status}`);
  return (await response.json()) as ActorView[];
}

/** Waiting for a condition: test/support/wait.ts, the one helper. */
export { poll, until } from '../support/wait.ts';
