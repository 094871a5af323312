/**
 * What each package entry (package.json `exports`) exports, counted by the TypeScript
 * checker as a user's compiler sees it, so an `export *` cannot slip a name past: every
 * name is listed for its entry in docs/runtime-api.md, and the package root stays small (at
 * most 30 names, and the values a user can import are exactly the ones it declares as values).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as root from '../../runtime/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const page = readFileSync(join(ROOT, 'docs/runtime-api.md'), 'utf8');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, string | { default: string }> };

/** Each entry and the source its JavaScript is built from (`./dist/adapters/node/index.js` <- `adapters/node/index.ts`). */
const entries = Object.entries(pkg.exports).flatMap(([subpath, target]) =>
  typeof target === 'string' ? [] : [{ entry: subpath === '.' ? 'keepalive-actors' : `keepalive-actors/${subpath.slice(2)}`, source: target.default.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts') }],
);

const { options } = ts.convertCompilerOptionsFromJson((ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile).config as { compilerOptions: object }).compilerOptions, ROOT);
const program = ts.createProgram(
  entries.map(({ source }) => join(ROOT, source)),
  { ...options, noEmit: true, types: [] },
);
const checker = program.getTypeChecker();

/** A re-export that is type-only anywhere along its chain (`export type { X }`) exports no value. */
function isValue(symbol: ts.Symbol): boolean {
  let at = symbol;
  while (at.flags & ts.SymbolFlags.Alias) {
    if (at.declarations?.some((declaration) => ts.isTypeOnlyImportOrExportDeclaration(declaration))) return false;
    const next = checker.getImmediateAliasedSymbol(at);
    if (next === undefined) break;
    at = next;
  }
  return (at.flags & ts.SymbolFlags.Value) !== 0;
}

/** The names an entry exports, types included, and which of them are values. */
function exportsOf(source: string): { names: string[]; values: string[] } {
  const file = program.getSourceFile(join(ROOT, source));
  const module = file && checker.getSymbolAtLocation(file);
  if (module === undefined) throw new Error(`${source}: not a module the checker knows`);
  const symbols = checker.getExportsOfModule(module);
  return { names: symbols.map((s) => s.name), values: symbols.filter(isValue).map((s) => s.name) };
}

/** The part of docs/runtime-api.md that lists an entry's names. */
function listed(entry: string): string {
  if (entry === 'keepalive-actors') return page.slice(page.indexOf('`keepalive-actors` ('), page.indexOf('`keepalive-actors/node`:'));
  const start = page.indexOf(`\`${entry}\`:`);
  if (start < 0) throw new Error(`docs/runtime-api.md lists no names for ${entry}`);
  return page.slice(start, page.indexOf('\n\n', start));
}

describe('the package entries', () => {
  it('are the six package.json exports, each built from a source file', () => {
    expect(entries.map(({ entry }) => entry).sort()).toEqual(['keepalive-actors', 'keepalive-actors/client', 'keepalive-actors/cloudflare', 'keepalive-actors/deno', 'keepalive-actors/inspector', 'keepalive-actors/node']);
  });

  for (const { entry, source } of entries) {
    it(`${entry} (${source}) exports only names docs/runtime-api.md lists for it`, () => {
      const { names } = exportsOf(source);
      expect(names.length).toBeGreaterThan(0);
      const section = listed(entry);
      const missing = names.filter((name) => (name === 'default' ? !section.includes('default export') : !section.includes(`\`${name}\``)));
      expect(missing, `exported by ${entry} but not listed for it in docs/runtime-api.md`).toEqual([]);
    });
  }
});

describe('the package root', () => {
  const { names, values } = exportsOf('runtime/index.ts');

  it('exports at most 30 names, types included', () => {
    expect(names.length).toBeGreaterThan(0);
    expect(names.length).toBeLessThanOrEqual(30);
  });

  it('exports as values exactly what it declares as values', () => {
    expect(values.length).toBeGreaterThan(0);
    expect(Object.keys(root).sort()).toEqual([...values].sort());
  });
});
