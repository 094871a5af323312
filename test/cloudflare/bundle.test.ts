/**
 * What `npm run deploy` would upload, built offline (`wrangler deploy --dry-run`): the
 * Worker bundles without elkjs, since it serves the chart drawn at build time. elkjs in
 * the bundle measured 3990 KiB (708 KiB gzip) against ~335 KiB without it.
 *
 * And what a Worker's import graph reaches: never the Redis client, the long-running
 * server's room or a Node built-in, or a Worker without `nodejs_compat` fails to bundle
 * (test/package/pack.test.ts bundles the packed package with a 2024 compatibility date).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { describeChains, forbiddenChains, importGraph, type Inputs, isNodeBuiltin, notInAWorker } from '../support/import-graph.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'keepalive-bundle-'));

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the Worker bundle', () => {
  it('builds offline, without the layout engine, small enough to start fast, from nothing a Worker must not reach', () => {
    const run = spawnSync(
      join(ROOT, 'node_modules/node/bin/node'),
      [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--outdir', out, '--metafile', join(out, 'meta.json')],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' } },
    );
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const bundle = readFileSync(join(out, 'index.js'), 'utf8');
    // The inspector is in (page, script, the pregenerated chart) ...
    expect(bundle).toContain('keepalive inspector');
    expect(bundle).toContain('data-state="alive.probing"');
    // ... and elkjs is not (its bundled build names itself throughout).
    expect(bundle).not.toMatch(/elkjs|org\.eclipse\.elk/);
    // 432 KiB / 104 KiB gzip when measured (7 December; 335 / 77 on 25 November); the budget leaves room to grow, not for elkjs.
    expect(bundle.length).toBeLessThan(1024 * 1024);
    expect(gzipSync(bundle).length).toBeLessThan(200 * 1024);

    // wrangler's own graph (its metafile), under this repository's compatibility date,
    // where Node built-ins would resolve and the build above would not catch them.
    const { inputs } = JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8')) as { inputs: Inputs };
    const entry = 'adapters/cloudflare/index.ts';
    expect(Object.keys(inputs)).toContain(entry);
    expect(describeChains(forbiddenChains(inputs, entry, notInAWorker))).toBe('');
  });

  it('reaches no Redis client, no server lifecycle and no Node built-in through any import (esbuild graph; each offence named by its chain)', async () => {
    // The Worker's entry, and the hub's room a Worker assembles its Durable Object from.
    for (const entry of ['adapters/cloudflare/index.ts', 'runtime/hub/index.ts']) {
      const inputs = await importGraph(entry, 'worker');
      expect(Object.keys(inputs)).toEqual(expect.arrayContaining([entry, 'runtime/host/index.ts', 'runtime/config/index.ts']));
      expect(describeChains(forbiddenChains(inputs, entry, notInAWorker)), entry).toBe('');
    }
    // The check sees what it guards against: from the server's lifecycle it follows the
    // dynamic import of the cluster's room, and through it to node-redis and Node's sockets.
    const server = 'runtime/server/server.ts';
    const inputs = await importGraph(server, 'worker');
    expect(forbiddenChains(inputs, server, notInAWorker)).toContainEqual([server, 'runtime/cluster/index.ts']);
    const toRedis = forbiddenChains(inputs, server, (path) => path.includes('node_modules/@redis/client/'));
    expect(toRedis[0]?.slice(0, 4)).toEqual([server, 'runtime/cluster/index.ts', 'runtime/cluster/cluster.ts', 'runtime/cluster/redis.ts']);
    expect(forbiddenChains(inputs, server, notInAWorker).some((chain) => isNodeBuiltin(chain.at(-1)!))).toBe(false);
    expect(forbiddenChains(inputs, server, isNodeBuiltin).map((chain) => chain.at(-1))).toContain('net');
  });
});
