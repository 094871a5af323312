/**
 * `wrangler dev` for the Durable Object figure, as a user runs it: local workerd, offline
 * (no login, no telemetry), real sockets, real alarms, real auto-response. The token for
 * GET /stats/<hub> comes from an env file, as a `.dev.vars` secret would. wrangler runs in
 * its own process group, so stopping it ends esbuild and workerd with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchFile } from './paths.ts';

/**
 * The part of GET /stats/<hub> (adapters/cloudflare/hub.ts `HubStats`) the figure reads;
 * restated here because that module is typed for workerd, not Node.
 */
export interface HubStats {
  wakes: { constructed: number; alarms: number; messages: number; pings: number; closes: number; fetches: number };
  host: { steps: number; foldedFrames: number; pongsOnFastPath: number; rejected: number };
  connections: number;
  sockets: number;
  alarmAt: number | null;
  alarmsSet: number;
  storage: { writes: number; skipped: number; deletes: number };
}

const WRANGLER = benchFile('../node_modules/wrangler/bin/wrangler.js');
const TOKEN = 'bench-token';

export interface WranglerDev {
  /** http://127.0.0.1:PORT */
  base: string;
  /** ws://127.0.0.1:PORT */
  wsBase: string;
  /** GET /stats/<hub>: itself one fetch delivered to the hub's object. */
  stats(hub: string): Promise<HubStats>;
  /** wrangler's output so far (for errors). */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `wrangler dev` with these `[vars]` overrides (and another wrangler.toml than the project's); resolves once /healthz answers. */
export async function wranglerDev(vars: Record<string, string>, timeoutMs = 120_000, config?: string): Promise<WranglerDev> {
  const state = mkdtempSync(join(tmpdir(), 'bench-wrangler-'));
  const secrets = join(state, 'secrets.env');
  writeFileSync(secrets, `KEEPALIVE_TOKEN=${TOKEN}\n`);
  const chunks: string[] = [];
  const child: ChildProcess = spawn(
    process.execPath,
    [
      WRANGLER,
      'dev',
      ...['--ip', '127.0.0.1', '--port', '0', '--inspector-port', '0'],
      ...['--persist-to', state, '--show-interactive-dev-session=false', '--log-level', 'info'],
      ...['--env-file', secrets],
      ...(config ? ['--config', config] : []),
      ...Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}:${value}`]),
    ],
    {
      cwd: benchFile('..'),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' },
    },
  );
  child.stdout!.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  const output = () => chunks.join('');
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      process.kill(-child.pid, 'SIGTERM');
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    try {
      // Stragglers in the group (workerd) get no second chance.
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // The group is empty.
    }
    rmSync(state, { recursive: true, force: true });
  };
  // If the figure's process ends (or is told to: the runner's timeout), wrangler's group must not outlive it.
  const orphaned = () => {
    try {
      if (!stopped && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  process.once('exit', orphaned);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(128 + (signal === 'SIGTERM' ? 15 : 2)));

  try {
    const deadline = Date.now() + timeoutMs;
    let port: string | undefined;
    while (!(port = /Ready on http:\/\/127\.0\.0\.1:(\d+)/.exec(output())?.[1])) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`wrangler dev exited:\n${output()}`);
      if (Date.now() > deadline) throw new Error(`wrangler dev not ready within ${timeoutMs} ms:\n${output()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const base = `http://127.0.0.1:${port}`;
    while (!(await fetch(`${base}/healthz`).catch(() => null))?.ok) {
      if (Date.now() > deadline) throw new Error(`wrangler dev: no /healthz within ${timeoutMs} ms:\n${output()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return {
      base,
      wsBase: base.replace('http', 'ws'),
      async stats(hub) {
        const response = await fetch(`${base}/stats/${hub}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
        if (!response.ok) throw new Error(`GET /stats/${hub}: ${response.status} ${await response.text()}`);
        return (await response.json()) as HubStats;
      },
      output,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
