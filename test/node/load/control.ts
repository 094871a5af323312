/**
 * Drives one load-test process: spawned through bash with its open-file limit raised (a
 * WebSocket is a file descriptor; a default soft limit of 1024 would cap the test), JSON
 * commands in on stdin, JSON lines out on stdout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { NODE, ROOT } from '../helpers.ts';
import type { LoadCommand } from './protocol.ts';

// Up to `want` descriptors, or the hard limit if lower ("unlimited" means the kernel's cap).
const RAISE_LIMIT = 'h=$(ulimit -Hn); [ "$h" = unlimited ] && h=1048576; w=$1; shift; [ "$w" -gt "$h" ] && w=$h; ulimit -n "$w" && exec "$@"';

const running = new Set<LoadProcess>();

export class LoadProcess {
  readonly proc: ChildProcess;
  readonly lines: Record<string, unknown>[] = [];
  readonly stderr: string[] = [];
  #waiters = new Set<() => void>();
  #exited = false;

  constructor(script: string, args: string[], fds: number) {
    this.proc = spawn('bash', ['-c', RAISE_LIMIT, 'bash', String(fds), NODE, script, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    running.add(this);
    let rest = '';
    this.proc.stdout!.on('data', (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split('\n');
      rest = parts.pop() ?? '';
      for (const part of parts) if (part.trim()) this.lines.push(JSON.parse(part) as Record<string, unknown>);
      this.#wake();
    });
    this.proc.stderr!.on('data', (chunk: Buffer) => this.stderr.push(chunk.toString()));
    this.proc.once('exit', () => {
      this.#exited = true;
      running.delete(this);
      this.#wake();
    });
  }

  /** The first line of `type` (and matching `where`) after line `from`, within `timeout` ms. */
  next<T>(type: string, timeout = 30_000, from = 0, where: (line: Record<string, unknown>) => boolean = () => true): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.lines.slice(from).find((line) => line.type === type && where(line));
        if (found) return done(() => resolve(found as T));
        if (this.#exited) return done(() => reject(new Error(`exited before a "${type}" line:\n${this.stderr.join('')}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no "${type}" line within ${timeout} ms:\n${this.stderr.join('')}`))), timeout);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        settle();
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Sends `command` and waits for the answer of `type` that follows it. */
  request<T>(command: LoadCommand, type: string, timeout = 60_000): Promise<T> {
    const from = this.lines.length;
    this.send(command);
    return this.next<T>(type, timeout, from);
  }

  /** Sends commands in one write: the process reads them in the same turn of its event loop. */
  send(...commands: LoadCommand[]): void {
    this.proc.stdin!.write(commands.map((command) => `${JSON.stringify(command)}\n`).join(''));
  }

  kill(): void {
    this.proc.kill('SIGKILL');
  }

  #wake(): void {
    for (const wake of this.#waiters) wake();
  }
}

/** Every load process still running. */
export function killLoadProcesses(): void {
  for (const process of running) process.kill();
  running.clear();
}
