/**
 * Real Deno processes for the cross-runtime tests: the `deno` binary from the `deno`
 * devDependency, run directly (not through a wrapper), so SIGSTOP freezes the process
 * that holds the sockets.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { spawnProcess, withUrls, type Spawned } from '../node/helpers.ts';

export const DENO_MAIN = fileURLToPath(new URL('../../adapters/deno/main.ts', import.meta.url));

/**
 * The real binary. npm 11 runs no install scripts, so in a fresh `npm ci` the `deno` bin
 * is a Node wrapper that copies the binary in on first use; the package's own installer
 * does that copy (or finds it done) and returns the binary's path.
 */
export const DENO: string = (() => {
  const require = createRequire(import.meta.url);
  const installer = require('deno/install_api.cjs') as { runInstall(): string };
  return installer.runInstall();
})();

const PERMISSIONS = ['--allow-net', '--allow-env', '--allow-read', '--allow-write', '--unstable-kv'];

/** `main.ts` with its arguments (`serve ...` or `connect URL ...`). */
export function spawnDeno(args: string[], env: Record<string, string> = {}): Spawned {
  return spawnProcess(DENO, ['run', ...PERMISSIONS, DENO_MAIN, ...args], { NO_COLOR: '1', ...env });
}

/** A Deno server on ephemeral ports, with the URLs it printed, once its whole banner is out. */
export async function spawnDenoServer(args: string[] = [], env: Record<string, string> = {}) {
  const server = await withUrls(spawnDeno(['serve', '--port', '0', '--tcp-port', '0', ...args], env));
  await server.line(/^\s+timers\s/);
  return server;
}

export const STREAM_SERVER = fileURLToPath(new URL('./stream-server.ts', import.meta.url));

/** test/deno/stream-server.ts (the stream app on the Deno server), once it listens; `base` is its http://host:port. */
export async function spawnDenoStreamServer(env: Record<string, string> = {}) {
  const server = spawnProcess(DENO, ['run', ...PERMISSIONS, STREAM_SERVER], { NO_COLOR: '1', ...env });
  const base = (await server.line(/^listening http:\/\//, 30_000)).match(/http:\/\/\S+/)![0];
  return { ...server, base, port: Number(new URL(base).port) };
}
