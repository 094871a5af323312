/**
 * The README's TypeScript examples compile against this checkout, each with the types its
 * runtime has: the Node and browser ones with Node's, the Cloudflare one with workers-types,
 * the Deno one with `deno check`. Package imports are pointed at the entry files the
 * package builds from, so an API change that breaks an example fails here.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DENO } from '../deno/helpers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const ENTRIES: Record<string, string> = {
  'keepalive-actors/node': 'adapters/node/index.ts',
  'npm:keepalive-actors/deno': 'adapters/deno/index.ts',
  'keepalive-actors/cloudflare': 'adapters/cloudflare/index.ts',
  'keepalive-actors/client': 'adapters/browser/index.ts',
};

const blocks = [...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const dir = mkdtempSync(join(tmpdir(), 'readme-examples-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The block importing `entry`, written out with its package import pointed at our source. */
function example(entry: string): string {
  const block = blocks.find((b) => b.includes(`'${entry}'`));
  if (block === undefined) throw new Error(`README.md has no example importing ${entry}`);
  let source = block;
  for (const [name, path] of Object.entries(ENTRIES)) source = source.replaceAll(`'${name}'`, `'${join(ROOT, path)}'`);
  const file = join(dir, `${entry.replace(/\W+/g, '-')}.ts`);
  writeFileSync(file, `${source}\nexport {};\n`);
  return file;
}

function tsc(files: string[], compilerOptions: Record<string, unknown>): void {
  const config = join(dir, `tsconfig.${files.length}.${Object.keys(compilerOptions).length}.json`);
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(config, JSON.stringify({ extends: join(ROOT, 'tsconfig.json'), compilerOptions: { noEmit: true, typeRoots: [join(ROOT, 'node_modules/@types'), join(ROOT, 'node_modules')], ...compilerOptions }, files, include: [] }));
  execFileSync(process.execPath, [TSC, '-p', config], { cwd: dir, encoding: 'utf8' });
}

describe('README examples', () => {
  it('the Node hub and the browser client type-check', () => {
    expect(() => tsc([example('keepalive-actors/node'), example('keepalive-actors/client')], { types: ['node'] })).not.toThrow();
  });

  it('the Cloudflare hub type-checks with workers-types', () => {
    expect(() => tsc([example('keepalive-actors/cloudflare')], { lib: ['ES2023'], types: ['@cloudflare/workers-types'] })).not.toThrow();
  });

  it('the Deno hub passes deno check', () => {
    const file = example('npm:keepalive-actors/deno');
    expect(() => execFileSync(DENO, ['check', '--config', join(ROOT, 'deno.json'), file], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' })).not.toThrow();
  }, 60_000);
});
