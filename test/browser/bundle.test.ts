/**
 * `keepalive-actors/client` as a web app ships it (esbuild, minified ESM, platform=browser,
 * xstate included): at most 30 KiB gzipped, and nothing from Node in it.
 */
import { describe, expect, it } from 'vitest';
import { bundleClient } from '../../bench/client-size.ts';

describe('the browser client bundle', () => {
  it('is at most 30 KiB gzipped and pulls in no node: module, no ws', async () => {
    const bundle = await bundleClient();
    expect(bundle.gzip).toBeLessThanOrEqual(30 * 1024);
    expect(bundle.inputs.filter(({ path }) => /^node:|node_modules\/(ws|@hono|hono)\/|adapters\/(node|deno|cloudflare)\//.test(path))).toEqual([]);
    expect(bundle.code).not.toMatch(/\bnode:[a-z_/]+/);
    expect(bundle.code).not.toMatch(/\brequire\(/);
    // It is the client: the statechart and the host are in, the server's routes are not.
    expect(bundle.inputs.map(({ path }) => path)).toEqual(expect.arrayContaining(['actors/keepalive.ts', 'runtime/host/host.ts', 'adapters/browser/client.ts']));
    expect(bundle.inputs.some(({ path }) => /runtime\/(app|server|inspector|application)/.test(path))).toBe(false);
  });
});
