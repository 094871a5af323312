/**
 * Runs one figure module in its own process (started by `bench/run.ts`) and reports its
 * result: `node --expose-gc bench/lib/figure-child.ts bench/figures/N-name.ts [--quick] [--runs N]`.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { Figure } from './result.ts';
import { runChild } from './spawn.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { quick: { type: 'boolean', default: false }, runs: { type: 'string', default: '5' } },
});

// The runner's timeout ends a figure with SIGTERM: exit through process.exit, so the 'exit'
// handlers SIGKILL what the figure started (bench/lib/spawn.ts: its workers;
// test/support/redis.ts: its redis-servers) instead of leaving them running.
process.once('SIGTERM', () => process.exit(143));

runChild(async () => {
  const file = positionals[0];
  if (!file) throw new Error('usage: figure-child.ts FIGURE_FILE [--quick] [--runs N]');
  const figure = ((await import(pathToFileURL(resolve(file)).href)) as { default: Figure }).default;
  const result = await figure.run({
    quick: values.quick,
    runs: Math.max(5, Number(values.runs)),
    log: (line) => process.stderr.write(`  [${figure.figure}] ${line}\n`),
  });
  return { type: 'result', result };
});
