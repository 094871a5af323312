/**
 * `keepalive-actors/client` as a web app ships it (esbuild, minified ESM, platform=browser,
 * xstate included): at most 30 KiB gzipped, and nothing from Node or from a server in it.
 */
import { describe, expect, it } from 'vitest';
import { bundleClient, CLIENT_ENTRY } from '../../bench/client-size.ts';
import { describeChains, forbiddenChains, importGraph, notInABrowser } from '../support/import-graph.ts';

describe('the browser client bundle', () => {
  it('is at most 30 KiB gzipped and pulls in no node: module, no ws', async () => {
    const bundle = await bundleClient();
    expect(bundle.gzip).toBeLessThanOrEqual(30 * 1024);
    expect(bundle.inputs.filter(({ path }) => /^node:|node_modules\/(ws|@hono|hono)\/|adapters\/(node|deno|cloudflare)\//.test(path))).toEqual([]);
    expect(bundle.code).not.toMatch(/\bnode:[a-z_/]+/);
    expect(bundle.code).not.toMatch(/\brequire\(/);
    // It is the client: the statechart and the host are in.
    expect(bundle.inputs.map(({ path }) => path)).toEqual(expect.arrayContaining(['actors/keepalive.ts', 'runtime/host/host.ts', 'adapters/browser/client.ts']));
  });

  it("reaches no server code through any import: not the hub's routes, settings, metrics, inspector or application, not a server's lifecycle, cluster or adapter", async () => {
    const entry = 'adapters/browser/index.ts';
    expect(CLIENT_ENTRY.endsWith(entry)).toBe(true);
    const inputs = await importGraph(entry, 'browser');
    expect(Object.keys(inputs)).toEqual(expect.arrayContaining(['runtime/client/index.ts', 'runtime/host/index.ts']));
    expect(describeChains(forbiddenChains(inputs, entry, notInABrowser))).toBe('');
    // What it guards against: the package root holds verifySignature, from the application's room.
    const root = 'runtime/index.ts';
    expect(forbiddenChains(await importGraph(root, 'browser'), root, notInABrowser)).toContainEqual([root, 'runtime/application/index.ts']);
  });
});
