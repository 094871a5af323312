/**
 * `wrangler dev` as a user runs it (local workerd, offline: no login, no telemetry), in
 * its own process group so `stop()` ends wrangler, esbuild and workerd together. Vars are
 * passed with `--var`; secrets through an env file, as a user's `.dev.vars` would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopGroup } from './process-group.ts';
import { GiveUp, until as waitUntil } from './wait.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = join(ROOT, 'node_modules/node/bin/node');
const WRANGLER = join(ROOT, 'node_modules/wrangler/bin/wrangler.js');

export interface WranglerDev {
  /** http://127.0.0.1:PORT */
  base: string;
  port: number;
  output: string[];
  /** Resolves with what `check` returns once it is defined; fails if wrangler exited. */
  until<T>(check: () => T | undefined | Promise<T | undefined>, what: string, timeout?: number): Promise<T>;
  stop(): Promise<void>;
}

export async function startWranglerDev(vars: Record<string, string>, secrets: Record<string, string> = {}): Promise<WranglerDev> {
  const state = mkdtempSync(join(tmpdir(), 'keepalive-wrangler-'));
  const secretsFile = join(state, 'secrets.env');
  writeFileSync(secretsFile, Object.entries(secrets).map(([key, value]) => `${key}=${value}\n`).join(''));
  const wrangler: ChildProcess = spawn(
    NODE,
    [
      WRANGLER,
      'dev',
      ...['--ip', '127.0.0.1', '--port', '0', '--inspector-port', '0'],
      ...['--persist-to', state, '--show-interactive-dev-session=false', '--log-level', 'info'],
      ...Object.entries(vars).flatMap(([key, value]) => ['--var', `${key}:${value}`]),
      ...['--env-file', secretsFile],
    ],
    {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' },
    },
  );
  const output: string[] = [];
  wrangler.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  wrangler.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const until = <T>(check: () => T | undefined | Promise<T | undefined>, what: string, timeout = 20_000): Promise<T> =>
    waitUntil(
      async () => {
        const value = await check();
        if (value === undefined && (wrangler.exitCode !== null || wrangler.signalCode !== null)) throw new GiveUp(`wrangler dev exited before ${what}\n${output.join('')}`);
        return value;
      },
      what,
      timeout,
      25,
    ).catch((error: unknown) => {
      throw error instanceof GiveUp ? error : new Error(`${String(error instanceof Error ? error.message : error)}\n${output.join('')}`);
    });
  const stop = async () => {
    await stopGroup(wrangler);
    rmSync(state, { recursive: true, force: true });
  };
  try {
    const port = Number(await until(() => /Ready on http:\/\/127\.0\.0\.1:(\d+)/.exec(output.join(''))?.[1], '"Ready on" from wrangler dev', 90_000));
    const base = `http://127.0.0.1:${port}`;
    await until(async () => ((await fetch(`${base}/healthz`).catch(() => null))?.ok ? true : undefined), '/healthz');
    return { base, port, output, until, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
