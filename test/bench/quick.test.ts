/**
 * CI hook for the benchmarks: `npm run bench -- --quick` must finish and write a
 * well-formed results.json. Speed targets are not asserted (CI machines are noisy);
 * what is deterministic is: figure 4's steps per interval, counted on a virtual clock, no
 * false deaths (figures 6, 7, 9, 11 and 12), no wake from a peer's PING (figure 7), no
 * broadcast frame lost across Durable Object shards (figure 12), and no message lost or
 * repeated by delivery mode under cuts (figure 13).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { FIGURES } from '../../bench/figures/index.ts';
import type { Measurement, Results } from '../../bench/lib/result.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let dir: string | undefined;
/** The run's process group, while it runs. */
let running: number | undefined;
afterAll(async () => {
  // Timed out: the whole run goes (npm, the runner, the figure and what it started), not only npm.
  if (running !== undefined) {
    try {
      process.kill(-running, 'SIGTERM');
    } catch {
      // Gone meanwhile.
    }
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

function runQuick(out: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', 'bench', '--', '--quick', '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    running = child.pid;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => {
      running = undefined;
      resolve({ code, stdout, stderr });
    });
  });
}

function expectMeasurement(m: Measurement, where: string): void {
  expect(typeof m.name, where).toBe('string');
  expect(typeof m.unit, where).toBe('string');
  expect(Number.isFinite(m.value), `${where}: value`).toBe(true);
  expect(m.baseline === null || Number.isFinite(m.baseline), `${where}: baseline`).toBe(true);
  expect(m.target === null || typeof m.target === 'string', `${where}: target`).toBe(true);
  expect(m.met === null || typeof m.met === 'boolean', `${where}: met`).toBe(true);
  if (m.baseline !== null && m.baseline !== 0) expect(m.ratio, `${where}: ratio`).toBeCloseTo(m.value! / m.baseline, 6);
  else expect(m.ratio, `${where}: ratio`).toBeNull();
  if (m.target !== null) expect(typeof m.met, `${where}: a target is met or not`).toBe('boolean');
}

describe('npm run bench -- --quick', () => {
  it('finishes in under four minutes and writes one well-formed entry per figure', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-'));
    const out = join(dir, 'results.json');
    // A figure from an earlier run, which no figure of this run replaces: the run merges into the file.
    const earlier = { figure: 99, name: 'an earlier run', value: 1, unit: '', baseline: null, baselineName: null, ratio: null, target: null, met: null, scale: 'full', parts: [], notes: [], ranAt: '2026-12-01', seconds: 1 };
    await writeFile(out, JSON.stringify({ figures: [earlier] }));
    const started = Date.now();
    const run = await runQuick(out);
    const seconds = (Date.now() - started) / 1000;
    expect(run.code, run.stderr.slice(-4000)).toBe(0);
    // About a minute on 25 November, 107 s on 2 December: this VM's speed moves 2x between
    // days, and most of the run is wall-clock (sockets settling, wrangler dev, processes
    // starting). Figure 11's three Redis topologies added about 50 s on 7 December (a Redis
    // Cluster and Sentinels to start, two failovers to wait for). The bound catches a run
    // that hangs or grows, not a slow machine.
    expect(seconds).toBeLessThan(240);
    expect(run.stdout).toMatch(/QUICK MODE/);

    const results = JSON.parse(await readFile(out, 'utf8')) as Results;
    expect(results.mode).toBe('quick');
    expect(results.machine.cpus).toBeGreaterThan(0);
    expect(results.figures.map((f) => f.figure)).toEqual([...FIGURES.map((f) => f.figure), 99]);
    expect(results.figures.at(-1)).toEqual(earlier);
    results.figures.pop();
    for (const figure of results.figures) {
      expect(Date.parse(figure.ranAt), `figure ${figure.figure}`).toBeGreaterThanOrEqual(started - 1000);
      expect(figure.error, `figure ${figure.figure}`).toBeUndefined();
      expect(figure.scale, `figure ${figure.figure}`).toMatch(/quick mode/);
      expectMeasurement(figure, `figure ${figure.figure}`);
      expect(figure.parts.length, `figure ${figure.figure}`).toBeGreaterThan(0);
      for (const part of figure.parts) expectMeasurement(part, `figure ${figure.figure} / ${part.name}`);
      // Every printed row is in the table.
      expect(run.stdout).toContain(figure.name);
    }

    // Deterministic: counted steps per connection per interval, whatever the frame rate.
    const steps = results.figures.find((f) => f.figure === 4)!;
    const rates = steps.parts.filter((p) => p.unit === 'steps/conn/interval');
    expect(rates.length).toBe(5);
    for (const part of rates) expect(part.value, part.name).toBeLessThanOrEqual(2.01);
    // A peer that only answers our PINGs: its PONG rides in the step that sends the next PING.
    expect(rates.find((p) => p.name.includes('only answers'))!.value).toBe(1);
    expect(rates.find((p) => p.name.startsWith('1000 '))!.baseline).toBeGreaterThanOrEqual(1000); // the eager host steps every frame

    // Every socket of figure 6 stayed up: no peer that answers is ever declared dead.
    expect(results.figures.find((f) => f.figure === 6)!.value).toBe(0);

    // Figure 9: every peer on both servers (ours and the ws recipe) stayed up, and the CPU ratio is a number.
    const cost = results.figures.find((f) => f.figure === 9)!;
    const died = cost.parts.find((p) => p.name.startsWith('false deaths'))!;
    expect(died.value).toBe(0);
    expect(died.baseline).toBe(0);
    expect(cost.ratio).toBeGreaterThan(0);

    // Figure 7, in real workerd: the platform answers every text PING, so none wakes the
    // object, while the peers did PING; and no peer was closed.
    const wakes = results.figures.find((f) => f.figure === 7)!;
    const pingWakes = wakes.parts.find((p) => p.name.startsWith('wakes caused by peer PINGs'))!;
    expect(pingWakes.value).toBe(0);
    expect(pingWakes.baseline).toBeGreaterThan(0);
    expect(wakes.parts.find((p) => p.name.startsWith('peers the server closed'))!.value).toBe(0);

    // Figure 11: the clustered hub lost no peer, and Redis commands do not grow per connection.
    const cluster = results.figures.find((f) => f.figure === 11)!;
    expect(cluster.parts.find((p) => p.name.startsWith('false deaths'))!.value).toBe(0);
    expect(cluster.parts.find((p) => p.name.startsWith('Redis commands per connection'))!.value).toBeLessThanOrEqual(1);
    // And through a primary's failover on one Redis, a Redis Cluster and Sentinel: no peer lost, each topology measured.
    expect(cluster.parts.find((p) => p.name === 'false deaths through the three failovers')!.value).toBe(0);
    for (const topology of ['one Redis', 'Redis Cluster', 'Sentinel']) {
      expect(cluster.parts.filter((p) => p.name.endsWith(`(${topology})`)).map((p) => p.unit)).toEqual(['commands/s', 'commands/s', 'ms', 'ms']);
    }

    // Figure 12: a sharded hub loses no peer and no broadcast frame, 1 shard and 4 alike.
    const shards = results.figures.find((f) => f.figure === 12)!;
    expect(shards.parts.find((p) => p.name.startsWith('false deaths'))!.value).toBe(0);
    expect(shards.parts.find((p) => p.name === 'broadcast frames lost')!.value).toBe(0);

    // Figure 13: delivery mode lost and repeated nothing, either way, through the cuts.
    const delivery = results.figures.find((f) => f.figure === 13)!;
    const cuts = delivery.parts.filter((p) => p.name.includes('under cuts'));
    expect(cuts.length).toBe(4);
    for (const part of cuts) expect(part.value, part.name).toBe(0);

    // Figure 8 ran both runtimes: rows for each, from their own processes.
    const runtimes = results.figures.find((f) => f.figure === 8)!;
    expect(runtimes.parts.some((p) => p.name.startsWith('Node, '))).toBe(true);
    expect(runtimes.parts.some((p) => p.name.startsWith('Deno, '))).toBe(true);
    expect(runtimes.parts.some((p) => p.name.includes('through the Deno adapter'))).toBe(true);
  });
});
