/**
 * What an entry reaches through its imports, as a bundler resolves them, and the chain of
 * imports that brings in something it must not. A bundler resolves every module in the
 * graph before it shakes out unused code, so a module that never runs can still fail a
 * build (wrangler without `nodejs_compat`: `Could not resolve "net"`); the graph, not the
 * output, is what a runtime's bundle must keep clean. Type-only imports are erased before
 * the bundler reads a file, so they never count.
 *
 * Reads esbuild's metafile: the one from `importGraph` below, or the one wrangler writes
 * (`wrangler deploy --dry-run --metafile`), which has the same shape.
 */
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type Inputs = Metafile['inputs'];

/**
 * The modules `entry` (a path from the repository's root) reaches, resolved as wrangler
 * resolves a Worker's (esbuild, the `workerd`/`worker`/`browser` conditions) or as a web
 * app's bundler does (`platform: 'browser'`). Node's built-in modules and `cloudflare:`
 * ones are left unresolved and show as imports of their own name, so a chain can name them.
 */
export async function importGraph(entry: string, platform: 'worker' | 'browser'): Promise<Inputs> {
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: ROOT,
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    logLevel: 'silent',
    ...(platform === 'worker' ? { platform: 'neutral', conditions: ['workerd', 'worker', 'browser'], mainFields: ['browser', 'module', 'main'] } : { platform: 'browser' }),
    external: ['cloudflare:*', 'node:*', ...builtinModules],
  });
  return result.metafile.inputs;
}

/** A Node built-in module, however it is named (`node:net`, `net`, wrangler's `node-built-in-modules:node:net`). */
export function isNodeBuiltin(path: string): boolean {
  const name = path.replace(/^node-built-in-modules:/, '');
  return name.startsWith('node:') || builtinModules.includes(name);
}

/**
 * What a Worker (`keepalive-actors/cloudflare`) must never reach: a Node built-in, the Redis
 * client, `ws`, Hono's Node server, the long-running server's room (runtime/server/), the
 * Redis cluster's (runtime/cluster/), another runtime's adapter. Matches source paths and
 * the packed package's (`node_modules/keepalive-actors/dist/runtime/server/server.js`) alike.
 */
export function notInAWorker(path: string): boolean {
  return isNodeBuiltin(path) || /(^|\/)(runtime\/(server|cluster)|adapters\/(node|deno|browser))\//.test(path) || NODE_PACKAGES.test(path);
}

/**
 * What the browser client (`keepalive-actors/client`) must never reach: what a Worker must
 * not, and the rest of a hub too (its routes, settings, metrics, inspector, application,
 * Hono, the Durable Object). The client's own room, the host and the codecs are what it runs.
 */
export function notInABrowser(path: string): boolean {
  return (
    isNodeBuiltin(path) ||
    path.startsWith('cloudflare:') ||
    /(^|\/)(runtime\/(server|cluster|hub|config|metrics|inspector|application)|adapters\/(node|deno|cloudflare))\//.test(path) ||
    NODE_PACKAGES.test(path) ||
    /(^|\/)node_modules\/hono\//.test(path)
  );
}

/** Packages that run on Node only: the Redis client, `ws`, Hono's Node server. */
const NODE_PACKAGES = /(^|\/)node_modules\/(redis|@redis\/[^/]+|ws|@hono\/node-server)\//;

/**
 * For each forbidden module `entry` reaches, the shortest chain of imports to it
 * (`entry`, ..., the module), stopping at the first forbidden module on a path: the chain
 * names the import that crossed the line, not what the forbidden module pulls in after it.
 * Imports of any kind count: static, dynamic (`import()`), `require`.
 */
export function forbiddenChains(inputs: Inputs, entry: string, forbidden: (path: string) => boolean): string[][] {
  const cameFrom = new Map<string, string | undefined>([[entry, undefined]]);
  const queue = [entry];
  const found: string[] = [];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const { path } of inputs[next]?.imports ?? []) {
      if (cameFrom.has(path)) continue;
      cameFrom.set(path, next);
      if (forbidden(path)) found.push(path);
      else queue.push(path);
    }
  }
  return found.map((path) => {
    const chain = [path];
    for (let at = cameFrom.get(path); at !== undefined; at = cameFrom.get(at)) chain.unshift(at);
    return chain;
  });
}

/** Chains as a person reads them in a failed assertion: one per line, `a -> b -> c`. */
export function describeChains(chains: string[][]): string {
  return chains.map((chain) => chain.join(' -> ')).join('\n');
}
