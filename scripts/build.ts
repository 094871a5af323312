/**
 * `npm run build`: the package's JavaScript and .d.ts in dist/, one tsc project per set of
 * platform globals (Node + DOM; workers-types; Deno's), so no entry's declarations drag in
 * another platform's types. Run by `prepack`.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');
const SCRATCH = join(DIST, '.build');
const BIN = join(ROOT, 'node_modules', '.bin');

function run(command: string, args: string[]): string {
  return execFileSync(join(BIN, command), args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
}

function tsc(project: string): void {
  try {
    run('tsc', ['-p', project]);
  } catch (error) {
    const output = (error as { stdout?: string }).stdout ?? '';
    console.error(`${output}tsc -p ${project} failed`);
    process.exit(1);
  }
}

/**
 * Adds a platform project's scratch output to dist/ without overwriting: files both builds
 * emit (the shared runtime) stay as the main build wrote them, under Node's and the DOM's types.
 */
function adopt(from: string): void {
  cpSync(from, DIST, { recursive: true, force: false });
}

/**
 * tsc rewrites `./x.ts` to `./x.js` in JavaScript but not in declarations (TypeScript 5.9),
 * and a user's tsc without `allowImportingTsExtensions`, or Deno, would look for a .ts file
 * that is not shipped.
 */
function rewriteDeclarationImports(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      rewriteDeclarationImports(path);
    } else if (entry.name.endsWith('.d.ts')) {
      const text = readFileSync(path, 'utf8');
      const rewritten = text.replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]*?)\.ts(['"])/g, '$1$2.js$3');
      if (rewritten !== text) writeFileSync(path, rewritten);
    }
  }
}

/** Deno's declarations for the build only (never shipped: Deno users have them built in). */
function denoTypes(): void {
  const types = run('deno', ['types'])
    .split('\n')
    // `lib="deno.net"` and `no-default-lib` mean something to Deno's checker only.
    .filter((line) => !line.startsWith('/// <reference'))
    .join('\n');
  mkdirSync(SCRATCH, { recursive: true });
  writeFileSync(join(SCRATCH, 'deno.d.ts'), types);
}

rmSync(DIST, { recursive: true, force: true });
tsc('tsconfig.build.json');
tsc('adapters/cloudflare/tsconfig.build.json');
adopt(join(SCRATCH, 'cloudflare'));
denoTypes();
tsc('adapters/deno/tsconfig.build.json');
adopt(join(SCRATCH, 'deno'));
if (!process.env.KEEP_SCRATCH) rmSync(SCRATCH, { recursive: true, force: true });
rewriteDeclarationImports(DIST);
chmodSync(join(DIST, 'adapters/node/cli.js'), 0o755);
console.log(`built ${DIST}`);
