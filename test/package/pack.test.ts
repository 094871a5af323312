/**
 * The package as a user gets it: `npm pack` (its prepack builds dist/), the tarball installed
 * into a fresh project outside this repo, then each entry used the way its runtime's users
 * would: plain Node JavaScript, a user's tsc under both module resolutions, a Worker bundled
 * by wrangler (a 2024 compatibility date, no `nodejs_compat`), and Deno through `npm:`.
 * Nothing here sees our tsconfig or our sources.
 *
 * Runs in its own vitest project, in a group of its own (vitest.config.ts): the build and
 * the installs take both cores for a while, which timing-sensitive tests must not share.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeChains, forbiddenChains, type Inputs, notInAWorker } from '../support/import-graph.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'node_modules', '.bin');
const CONSUMER = fileURLToPath(new URL('./consumer', import.meta.url));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; never throws, so a failure's output reaches the assertion. */
function run(command: string, args: string[], cwd: string, timeout = 180_000): Promise<Result> {
  // Our Node 24 and binaries first, as `npm test` has them; the machine's own Node may be older.
  const env = { ...process.env, PATH: `${BIN}${delimiter}${process.env.PATH ?? ''}`, NO_COLOR: '1', FORCE_COLOR: '0', DENO_NO_UPDATE_CHECK: '1', WRANGLER_SEND_METRICS: 'false' };
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, timeout, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

const output = (result: Result): string => `exit ${result.code}\n${result.stdout}\n${result.stderr}`;

/** The same versions this repo installed, so npm finds them in its cache. */
const installed = (name: string): string =>
  `${name}@${(JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version}`;

/**
 * hono's own WebSocket helper declarations use the DOM lib's `MessageEvent<T>` and
 * `BinaryType`, so without the DOM lib they fail for anyone who imports hono with
 * skipLibCheck off (hono's templates turn it on). Every other error, ours first, counts.
 */
const HONO_WITHOUT_DOM = /^node_modules\/hono\/dist\/types\/helper\/websocket\/index\.d\.ts\(/;
const tscErrors = (result: Result): string[] =>
  result.stdout.split('\n').filter((line) => /error TS\d+/.test(line) && !HONO_WITHOUT_DOM.test(line));

let work: string;
let app: string;
let tarball: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'keepalive-pack-'));
  const packed = await run('npm', ['pack', '--pack-destination', work], ROOT, 240_000);
  expect(packed.code, output(packed)).toBe(0);
  const [file] = readdirSync(work).filter((name) => name.endsWith('.tgz'));
  expect(file, output(packed)).toBeDefined();
  tarball = join(work, file!);

  app = join(work, 'app');
  cpSync(CONSUMER, app, { recursive: true });
  writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'pack-consumer', private: true, type: 'module' }, null, 2)}\n`);
  const install = await run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, installed('typescript'), installed('@types/node'), installed('@cloudflare/workers-types')],
    app,
    240_000,
  );
  expect(install.code, output(install)).toBe(0);
}, 300_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('holds the built entries, their types and the license, and no sources', async () => {
    const listed = await run('tar', ['-tzf', tarball], work);
    const files = listed.stdout.split('\n').filter(Boolean);
    const entries = ['runtime/index', 'adapters/node/index', 'adapters/deno/index', 'adapters/cloudflare/index', 'runtime/inspector/index', 'adapters/browser/index'];
    for (const entry of entries) {
      expect(files).toContain(`package/dist/${entry}.js`);
      expect(files).toContain(`package/dist/${entry}.d.ts`);
    }
    expect(files).toContain('package/LICENSE');
    expect(files).toContain('package/README.md');
    expect(files.filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))).toEqual([]);
    // Declarations name the .js files that ship, not the .ts sources they came from.
    const pkg = join(app, 'node_modules', 'keepalive-actors');
    const declaration = readFileSync(join(pkg, 'dist/runtime/index.d.ts'), 'utf8');
    expect(declaration).toMatch(/from '\.\/codec\/index\.js'/);
    expect(declaration).not.toMatch(/\.ts'/);
    console.log(`tarball: ${(statSync(tarball).size / 1024).toFixed(1)} KiB, ${files.length} files`);
  });

  it('(a) runs on Node: a server from keepalive-actors/node sees its client advertise and answers its PING', async () => {
    const smoke = await run(process.execPath, ['node-smoke.js'], app, 60_000);
    expect(smoke.code, output(smoke)).toBe(0);
    expect(JSON.parse(smoke.stdout.trim().split('\n').at(-1)!)).toEqual({ pong: 'PONG', advertised: 1, host: 'function', machine: 'keepalive' });
    // The bin points at built JavaScript.
    const help = await run(join(app, 'node_modules', '.bin', 'keepalive'), ['--help'], app, 60_000);
    expect(help.code, output(help)).toBe(0);
    expect(help.stdout).toMatch(/keepalive serve/);
  }, 120_000);

  it('(b) type-checks for a user under moduleResolution nodenext (Node types only) and bundler (with the DOM, and the browser client)', async () => {
    const tsc = join(app, 'node_modules', '.bin', 'tsc');
    for (const project of ['tsconfig.nodenext.json', 'tsconfig.bundler.json']) {
      const checked = await run(tsc, ['-p', project], app);
      expect(tscErrors(checked), `${project}\n${output(checked)}`).toEqual([]);
    }
  }, 120_000);

  it('(c) builds into a Worker that re-exports keepalive-actors/cloudflare, with a 2024 compatibility date and no nodejs_compat, from nothing a Worker must not reach; and type-checks with workers-types', async () => {
    const worker = join(app, 'worker');
    // worker/wrangler.toml's compatibility_date is 2024-09-23: a Node built-in anywhere in the graph fails the build.
    const dryRun = await run(join(BIN, 'wrangler'), ['deploy', '--dry-run', '--outdir', 'out', '--metafile', 'out/meta.json'], worker);
    expect(dryRun.code, output(dryRun)).toBe(0);
    const bundle = readFileSync(join(worker, 'out', 'index.js'), 'utf8');
    expect(bundle).toMatch(/export \{\s*KeepaliveHub,\s*\w+ as default\s*\}/);
    // The chart ships drawn: elkjs (3.6 MiB) must stay out of a Worker.
    expect(bundle).not.toMatch(/elkjs|new ELK/);
    expect(bundle.length).toBeLessThan(1024 * 1024);

    // What wrangler resolved (before shaking out unused code): the packed package's modules,
    // none from the Redis client, the Node or Deno server, the cluster, or Node itself.
    const { inputs } = JSON.parse(readFileSync(join(worker, 'out', 'meta.json'), 'utf8')) as { inputs: Inputs };
    expect(Object.keys(inputs)).toEqual(expect.arrayContaining(['index.ts', '../node_modules/keepalive-actors/dist/adapters/cloudflare/hub.js', '../node_modules/keepalive-actors/dist/runtime/hub/index.js']));
    expect(describeChains(forbiddenChains(inputs, 'index.ts', notInAWorker))).toBe('');
    // And what went in, by wrangler's per-module comments and the modules' own words.
    expect(bundle).toMatch(/^\/\/ \.\.\/node_modules\/keepalive-actors\/dist\/adapters\/cloudflare\/hub\.js$/m);
    expect(bundle).not.toMatch(/^\/\/ .*node_modules\/(@redis|redis|ws|@hono\/node-server)\//m);
    expect(bundle).not.toMatch(/^\/\/ .*keepalive-actors\/dist\/(runtime\/(server|cluster)|adapters\/(node|deno))\//m);
    expect(bundle).not.toMatch(/\b(from|import|require)\s*\(?\s*["']node:/);
    expect(bundle).not.toContain('a clustered hub keeps its connections in Redis'); // runtime/server/server.ts
    const gzip = gzipSync(bundle, { level: 9 }).length;
    console.log(`worker bundle (wrangler deploy --dry-run, unminified): ${(Buffer.byteLength(bundle) / 1024).toFixed(1)} KiB, ${(gzip / 1024).toFixed(1)} KiB gzipped (${Buffer.byteLength(bundle)} / ${gzip} bytes)`);

    const checked = await run(join(app, 'node_modules', '.bin', 'tsc'), ['-p', 'worker/tsconfig.json'], app);
    expect(tscErrors(checked), output(checked)).toEqual([]);
  }, 120_000);

  it('(d) passes deno check and runs on Deno through npm: from node_modules', async () => {
    const deno = join(BIN, 'deno');
    const checked = await run(deno, ['check', 'deno-app.ts'], app);
    expect(checked.code, output(checked)).toBe(0);
    const ran = await run(deno, ['run', '--allow-net', '--allow-env', '--allow-read', 'deno-app.ts'], app, 60_000);
    expect(ran.code, output(ran)).toBe(0);
    expect(JSON.parse(ran.stdout.trim().split('\n').at(-1)!)).toEqual({ pong: 'PONG', advertised: 1, host: 'function', kvStore: true });
  }, 120_000);
});

