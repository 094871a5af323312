/**
 * runtime/'s rooms import values only as docs/runtime-api.md draws them ("runtime/'s
 * rooms"): each room from those below it, the client from no server room. Read with the
 * TypeScript checker's parser: a type-only import (`import type`, or every name `type`)
 * leaves nothing in a bundle and is allowed anywhere; a dynamic `import()` counts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../node/helpers.ts';

const MAY_IMPORT: Record<string, readonly string[]> = {
  codec: [],
  protocol: ['codec'],
  host: ['codec', 'protocol'],
  delivery: [],
  application: ['codec', 'protocol'],
  metrics: ['codec', 'protocol'],
  config: ['codec', 'protocol', 'application'],
  presence: ['codec', 'protocol', 'application'],
  hub: ['codec', 'protocol', 'host', 'delivery', 'application', 'metrics', 'config', 'presence'],
  inspector: ['codec', 'protocol', 'host', 'delivery', 'application', 'metrics', 'config', 'presence', 'hub'],
  cluster: ['codec', 'protocol', 'host', 'delivery', 'application', 'metrics', 'config', 'presence', 'hub'],
  server: ['codec', 'protocol', 'host', 'delivery', 'application', 'metrics', 'config', 'presence', 'hub', 'inspector', 'cluster'],
  client: ['codec', 'protocol', 'host', 'delivery'],
};

/** The modules a file imports for their values: static imports and re-exports that are not type-only, and dynamic imports. */
function valueImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly || (!clause.name && clause.namedBindings !== undefined && ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) out.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.exportClause;
      const typeOnly = node.isTypeOnly || (clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) out.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      out.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

function filesOf(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesOf(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

describe("runtime/'s rooms", () => {
  const runtime = join(ROOT, 'runtime');
  const rooms = readdirSync(runtime, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name);

  it('are the rooms docs/runtime-api.md draws, and the root keeps only index.ts', () => {
    expect(rooms.sort()).toEqual(Object.keys(MAY_IMPORT).sort());
    expect(readdirSync(runtime).filter((name) => name.endsWith('.ts'))).toEqual(['index.ts']);
  });

  it.each(Object.keys(MAY_IMPORT))('%s imports values only from the rooms below it', (room) => {
    const allowed = new Set([room, ...MAY_IMPORT[room]!]);
    const strays: string[] = [];
    for (const file of filesOf(join(runtime, room))) {
      for (const specifier of valueImports(file)) {
        const match = /^\.\.\/([a-z]+)\//.exec(specifier);
        if (match && !allowed.has(match[1]!)) strays.push(`${file.slice(runtime.length + 1)} -> ${specifier}`);
      }
    }
    expect(strays).toEqual([]);
  });
});
