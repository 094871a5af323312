/**
 * `npm run bench` runs every figure of issue 11, each in its own process, prints a table
 * and merges what it measured into bench/results.json (every other figure keeps its last
 * result). Every figure is measured beside its baseline in the same run; values are
 * medians of at least 5 runs.
 *
 *   npm run bench                      full sizes (about 15 minutes on 2 cores)
 *   npm run bench -- --quick           CI smoke: smaller sizes, 1-2 minutes
 *   npm run bench -- --only 3,5        some figures only
 *   npm run bench -- --out FILE        merge into another JSON file (tests use a fresh one)
 *   npm run bench -- --markdown        also print the table as Markdown (for BENCHMARKS.md)
 *   npm run bench -- --cpu-prof        every process writes a .cpuprofile to bench/profiles/
 *                                      (summarise one with bench/tools/profile-top.ts)
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus, freemem, loadavg, platform, release, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { FIGURES } from './figures/index.ts';
import { benchFile } from './lib/paths.ts';
import { type FigureResult, type MachineInfo, mergeResults, type Results } from './lib/result.ts';
import { fdLimit, spawnNode } from './lib/spawn.ts';
import { markdownTable, notes, textTable } from './lib/table.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: benchFile('results.json') },
    runs: { type: 'string', default: '5' },
    markdown: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
  },
});

if (values['cpu-prof']) process.env.BENCH_CPU_PROF = benchFile('profiles');
const only = values.only ? new Set(values.only.split(',').map(Number)) : null;
const quick = values.quick;
const started = new Date();
const loads: number[] = [];

async function version(pkg: string): Promise<string> {
  const json = JSON.parse(await readFile(benchFile(`../node_modules/${pkg}/package.json`), 'utf8')) as { version: string };
  return json.version;
}

async function runFigure(entry: (typeof FIGURES)[number]): Promise<FigureResult> {
  const t0 = performance.now();
  const ranAt = new Date().toISOString();
  loads.push(loadavg()[0]!);
  process.stderr.write(`figure ${entry.figure}: ${entry.name}${quick ? ' (quick)' : ''}\n`);
  const child = spawnNode(benchFile('lib/figure-child.ts'), [benchFile(`figures/${entry.file}`), ...(quick ? ['--quick'] : []), '--runs', values.runs], {
    nodeFlags: entry.nodeFlags ?? [],
  });
  const timeout = (quick ? entry.timeout.quick : entry.timeout.full) * 1000;
  try {
    const { result } = await child.next<{ type: string; result: Omit<FigureResult, 'seconds' | 'figure' | 'ranAt'> }>('result', timeout);
    await child.exited();
    return { figure: entry.figure, ...result, ranAt, seconds: (performance.now() - t0) / 1000 };
  } catch (error) {
    child.kill();
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`figure ${entry.figure} failed: ${message}\n`);
    return {
      figure: entry.figure,
      name: entry.name,
      value: null,
      unit: '',
      baseline: null,
      baselineName: null,
      ratio: null,
      target: null,
      met: false,
      scale: quick ? 'quick mode' : 'full',
      parts: [],
      notes: [],
      error: message,
      ranAt,
      seconds: (performance.now() - t0) / 1000,
    };
  }
}

const figures: FigureResult[] = [];
for (const entry of FIGURES) if (!only || only.has(entry.figure)) figures.push(await runFigure(entry));

const machine: MachineInfo = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  platform: `${platform()} ${release()}`,
  node: process.version,
  xstate: await version('xstate'),
  ws: await version('ws'),
  fdLimit: await fdLimit(),
  loadAverage: loads,
};
const results: Results = { mode: quick ? 'quick' : 'full', startedAt: started.toISOString(), finishedAt: new Date().toISOString(), machine, figures };

const previous = await readFile(values.out, 'utf8').then(
  (text) => JSON.parse(text) as Results,
  (error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  },
);
const merged = mergeResults(previous, results);
await mkdir(dirname(values.out), { recursive: true });
await writeFile(`${values.out}.tmp`, `${JSON.stringify(merged, null, 2)}\n`);
await rename(`${values.out}.tmp`, values.out);

const total = figures.reduce((s, f) => s + (f.seconds ?? 0), 0);
const kept = merged.figures.filter((f) => !figures.includes(f));
console.log(`\n${quick ? 'QUICK MODE (smaller sizes, see "scale")' : 'Full run'}: ${machine.cpus} x ${machine.cpuModel}, Node ${machine.node}, xstate ${machine.xstate}, free memory ${Math.round(freemem() / 2 ** 30)} GiB`);
console.log(`1-minute load average at each figure's start: ${loads.map((l) => l.toFixed(2)).join(', ')}\n`);
console.log(textTable(results));
console.log(`\nScale and notes:\n${notes(figures)}`);
if (values.markdown) console.log(`\n${markdownTable(results)}`);
console.log(`\n${figures.length} figure(s) in ${total.toFixed(0)} s; wrote ${values.out}${kept.length > 0 ? `, keeping the last result of figure(s) ${kept.map((f) => `${f.figure} (${f.ranAt})`).join(', ')}` : ''}`);
process.exitCode = figures.some((f) => f.error) ? 1 : 0;
