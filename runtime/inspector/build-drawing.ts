/**
 * Dev tool, never imported by the runtime: lays out the keepalive chart with elkjs and
 * writes it to `drawing.generated.ts`, so the Worker serves the chart without elkjs in
 * its bundle (+1.6 MB) or ~100-300 ms of layout CPU time on a request (measured; the
 * Workers free plan allows 10 ms per request).
 *
 *   npm run build:inspector
 *
 * A test draws again and fails if the committed file is stale; the Worker also refuses
 * to show it for a machine it was not drawn from (`pregenerated`).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { keepaliveMachine } from '../../actors/keepalive.ts';
import { chartSource, type PregeneratedDrawing } from './drawing.ts';
import { drawChart } from './routes.ts';

export const GENERATED_DRAWING = fileURLToPath(new URL('./drawing.generated.ts', import.meta.url));

/** The text `drawing.generated.ts` must have for the current machine and layout code. */
export async function generateDrawing(): Promise<string> {
  const drawing: PregeneratedDrawing = { ...(await drawChart(keepaliveMachine)), source: chartSource(keepaliveMachine) };
  return [
    '// Generated from actors/keepalive.ts by build-drawing.ts (npm run build:inspector). Do not edit.',
    "import type { PregeneratedDrawing } from './drawing.ts';",
    '',
    `export const KEEPALIVE_DRAWING: PregeneratedDrawing = ${JSON.stringify(drawing, null, 2)};`,
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(GENERATED_DRAWING, await generateDrawing());
  console.log(`wrote ${GENERATED_DRAWING}`);
}
