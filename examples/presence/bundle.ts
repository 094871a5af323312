/**
 * Bundles the page's script (app.ts, with the browser client inside) with esbuild.
 * node.ts bundles in memory at start; for the Worker, wrangler.toml's `[build]` runs
 *
 *   node examples/presence/bundle.ts --out examples/presence/.build
 *
 * before each `wrangler dev` and `wrangler deploy`, and serves the directory as static
 * assets. Nothing built is committed (.build is git-ignored).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ENTRY = fileURLToPath(new URL('./app.ts', import.meta.url));

/** The page script, minified ESM for browsers. */
export async function bundlePage(): Promise<string> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--out');
  const out = at > 0 ? process.argv[at + 1] : undefined;
  if (!out) throw new Error('usage: node examples/presence/bundle.ts --out DIR');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'app.js'), await bundlePage());
  console.log(`presence example: wrote ${join(out, 'app.js')}`);
}
