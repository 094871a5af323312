/**
 * The real `deno` binary from the `deno` devDependency (./node_modules/.bin/deno links to
 * it). npm 11 runs no install scripts, so in a fresh `npm ci` that bin may still be the
 * package's Node wrapper, which copies the binary in on first use; the package's own
 * installer does that copy (or finds it done) and returns the binary's path, as
 * test/deno/helpers.ts does.
 */
import { createRequire } from 'node:module';
import { benchFile } from './paths.ts';
import { spawnCommand, type NodeChild } from './spawn.ts';

let binary: string | undefined;

export function denoBinary(): string {
  if (binary === undefined) {
    const require = createRequire(import.meta.url);
    binary = (require('deno/install_api.cjs') as { runInstall(): string }).runInstall();
  }
  return binary;
}

/** What the Deno side of figure 8 needs: loopback servers and clients, nothing else. */
export const DENO_PERMISSIONS = ['--allow-net=127.0.0.1'];

/** Runs a Deno script from bench/deno (inside the repo, so deno.json and node_modules resolve its bare imports). */
export function spawnDeno(script: string, args: string[]): NodeChild {
  return spawnCommand([denoBinary(), 'run', ...DENO_PERMISSIONS, benchFile(script), ...args], script, { cwd: benchFile('..') });
}
