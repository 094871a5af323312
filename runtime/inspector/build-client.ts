/**
 * Dev tool, never imported by the runtime: compiles the page script `client.ts` (typed
 * browser code) into `client.generated.ts`, a module exporting it as a string, so the
 * page ships inside the package and bundles into a Worker with no file access.
 *
 *   npm run build:inspector
 *
 * A test compiles again and fails if the committed file is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SOURCE = fileURLToPath(new URL('./client.ts', import.meta.url));
export const GENERATED = fileURLToPath(new URL('./client.generated.ts', import.meta.url));

/** The text `client.generated.ts` must have for the current `client.ts`. */
export function compileClient(): string {
  const { outputText, diagnostics } = ts.transpileModule(readFileSync(SOURCE, 'utf8'), {
    fileName: 'client.ts',
    reportDiagnostics: true,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ES2022,
      verbatimModuleSyntax: true,
      removeComments: false,
    },
  });
  if (diagnostics?.length) throw new Error(ts.formatDiagnostics(diagnostics, ts.createCompilerHost({})));
  return [
    '// Generated from client.ts by build-client.ts (npm run build:inspector). Do not edit.',
    `export const CLIENT_SCRIPT = ${JSON.stringify(outputText)};`,
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(GENERATED, compileClient());
  console.log(`wrote ${GENERATED}`);
}
