/**
 * Child Node processes for the benchmarks: each heavy measurement gets its own heap, and
 * socket-heavy ones a raised open-file limit (`ulimit -n` in a bash wrapper, up to the
 * hard limit). Children talk back in `@bench {json}` lines on stdout; anything else they
 * print is passed to `onLine` as a log line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';

const PREFIX = '@bench ';
/** Asked for first; a container's hard limit may be lower, and then that is used. */
export const WANTED_FD_LIMIT = 65_536;

export interface SpawnOptions {
  /** Extra flags for node, e.g. `--max-old-space-size=8192`. `--expose-gc` is always on. */
  nodeFlags?: string[];
  onLine?: (line: string) => void;
}

export interface BenchMessage {
  type: string;
}

export interface NodeChild {
  readonly proc: ChildProcess;
  /** Resolves with the next message of `type` (including one already received and not yet taken). */
  next<T extends BenchMessage = BenchMessage>(type: string, timeout?: number): Promise<T>;
  send<T extends BenchMessage>(message: T): void;
  exited(timeout?: number): Promise<number | string>;
  kill(): void;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

let spawned = 0;

/** `BENCH_CPU_PROF=DIR` (set by `npm run bench -- --cpu-prof`): every child writes a CPU profile there, named after its script. */
function profileFlags(script: string, args: string[]): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  if (!dir) return [];
  const name = [basename(script, '.ts'), ...args.filter((a) => /^[\w.-]{1,24}$/.test(a))].join('-');
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.${process.pid}-${++spawned}.cpuprofile`];
}

export function spawnNode(script: string, args: string[] = [], options: SpawnOptions = {}): NodeChild {
  const node = [process.execPath, '--expose-gc', ...(options.nodeFlags ?? []), ...profileFlags(script, args), script, ...args];
  return spawnCommand(node, script, options);
}

/**
 * Any program that speaks the same `@bench` lines (the Deno side of figure 8), with the
 * same raised open-file limit. `name` is what errors call it.
 */
export function spawnCommand(command: string[], name: string, options: Pick<SpawnOptions, 'onLine'> & { cwd?: string } = {}): NodeChild {
  const script = name;
  const raise = `ulimit -n ${WANTED_FD_LIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"`;
  const proc = spawn('bash', ['-c', raise, 'bench', ...command], { stdio: ['pipe', 'pipe', 'pipe'], ...(options.cwd ? { cwd: options.cwd } : {}) });
  children.add(proc);
  const inbox: BenchMessage[] = [];
  const waiters = new Set<() => void>();
  let exit: number | string | null = null;
  const onLine = options.onLine ?? ((line: string) => process.stderr.write(`${line}\n`));
  const lines = (stream: NodeJS.ReadableStream) =>
    createInterface({ input: stream }).on('line', (line) => {
      if (!line.startsWith(PREFIX)) return onLine(line);
      inbox.push(JSON.parse(line.slice(PREFIX.length)) as BenchMessage);
      for (const wake of waiters) wake();
    });
  lines(proc.stdout!);
  lines(proc.stderr!);
  const exited = new Promise<number | string>((resolve) =>
    proc.once('exit', (code, signal) => {
      children.delete(proc);
      exit = code ?? signal ?? -1;
      for (const wake of waiters) wake();
      resolve(exit);
    }),
  );
  return {
    proc,
    next<T extends BenchMessage>(type: string, timeout = 600_000): Promise<T> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => settle(() => reject(new Error(`${script}: no "${type}" within ${timeout} ms`))), timeout);
        const check = () => {
          const i = inbox.findIndex((m) => m.type === type || m.type === 'error');
          if (i >= 0) {
            const [message] = inbox.splice(i, 1) as [BenchMessage];
            if (message.type === 'error') return settle(() => reject(new Error(`${script}: ${String((message as { message?: unknown }).message)}`)));
            return settle(() => resolve(message as T));
          }
          if (exit !== null) settle(() => reject(new Error(`${script} exited (${exit}) before "${type}"`)));
        };
        const settle = (done: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          done();
        };
        waiters.add(check);
        check();
      });
    },
    send(message) {
      proc.stdin!.write(`${JSON.stringify(message)}\n`);
    },
    exited(timeout = 60_000) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${script} still running after ${timeout} ms`)), timeout);
      });
      return Promise.race([exited, late]).finally(() => clearTimeout(timer));
    },
    kill() {
      if (exit !== null) return;
      // A chance to clean up first (figure 7's wrangler dev runs in a process group of its own).
      proc.kill('SIGTERM');
      setTimeout(() => exit === null && proc.kill('SIGKILL'), 3000).unref();
    },
  };
}

/** In a child: sends one message to the parent. */
export function report<T extends BenchMessage>(message: T): void {
  process.stdout.write(`${PREFIX}${JSON.stringify(message)}\n`);
}

/** In a child: calls `handle` for each message the parent sends on stdin. */
export function onCommand(handle: (message: BenchMessage & Record<string, unknown>) => void): void {
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() !== '') handle(JSON.parse(line) as BenchMessage & Record<string, unknown>);
  });
}

/** In a child: runs `main`, reports its result (or its error) and exits. */
export function runChild<T extends BenchMessage>(main: () => Promise<T>): void {
  main().then(
    (message) => {
      report(message);
      process.exit(0);
    },
    (error: unknown) => {
      report({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      process.exit(1);
    },
  );
}

/** This process's soft open-file limit, from /proc (Linux), or null elsewhere. */
export async function fdLimit(): Promise<number | null> {
  try {
    const { readFile } = await import('node:fs/promises');
    const line = (await readFile('/proc/self/limits', 'utf8')).split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? null : Number(soft);
  } catch {
    return null;
  }
}
