/**
 * What `npm run deploy` would upload, built offline (`wrangler deploy --dry-run`): the
 * Worker bundles without elkjs, since it serves the chart drawn at build time. elkjs in
 * the bundle measured 3990 KiB (708 KiB gzip) against ~335 KiB without it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'keepalive-bundle-'));

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the Worker bundle', () => {
  it('builds offline, without the layout engine, small enough to start fast', () => {
    const run = spawnSync(
      join(ROOT, 'node_modules/node/bin/node'),
      [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--outdir', out],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' } },
    );
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const bundle = readFileSync(join(out, 'index.js'), 'utf8');
    // The inspector is in (page, script, the pregenerated chart) ...
    expect(bundle).toContain('keepalive inspector');
    expect(bundle).toContain('data-state="alive.probing"');
    // ... and elkjs is not (its bundled build names itself throughout).
    expect(bundle).not.toMatch(/elkjs|org\.eclipse\.elk/);
    // 335 KiB / 77 KiB gzip when measured; the budget leaves room to grow, not for elkjs.
    expect(bundle.length).toBeLessThan(1024 * 1024);
    expect(gzipSync(bundle).length).toBeLessThan(200 * 1024);
  });
});
