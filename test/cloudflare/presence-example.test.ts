/**
 * examples/presence as a Worker under `wrangler dev` (local workerd, offline), in headless
 * Chromium: the page served by the Worker, its script bundled by wrangler.toml's `[build]`,
 * peers in a `KeepaliveHub` subclass on hibernatable WebSockets (text PINGs answered by
 * the platform, deadlines on the object's one alarm), the list the hub's presence. Two pages
 * list each other within a second; a page whose script stops is shown gone at the keepalive
 * bound (2000 ms, count 2), once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { COUNT, INTERVAL } from '../../examples/presence/protocol.ts';
import { poll } from '../node/helpers.ts';
import { launchChromium } from '../support/chromium.ts';
import { freeze, listOf, openAs, rowOf, rowsOf, say } from '../support/presence-page.ts';
import { rowsForm } from '../support/presence-lists.ts';
import type { PresenceEntry } from '../../runtime/application/index.ts';
import { stopGroup } from '../support/process-group.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WRANGLER = join(ROOT, 'node_modules/wrangler/bin/wrangler.js');
const BOUND = INTERVAL * (COUNT + 1);
const TOKEN = 'presence-example-token';
/** The alarm's delivery plus Chromium and workerd on a loaded 2-core machine. */
const MARGIN = 2000;

let wrangler: ChildProcess;
let base = '';
let browser: Awaited<ReturnType<typeof launchChromium>>;
const output: string[] = [];
const state = mkdtempSync(join(tmpdir(), 'keepalive-presence-'));
const cleanup: (() => unknown)[] = [];

beforeAll(async () => {
  wrangler = spawn(
    process.execPath,
    [
      WRANGLER,
      'dev',
      ...['-c', 'examples/presence/wrangler.toml', '--ip', '127.0.0.1', '--port', '0', '--inspector-port', '0'],
      ...['--persist-to', state, '--show-interactive-dev-session=false', '--log-level', 'info'],
      // A token for /presence; two shards, so pages on different objects must agree.
      ...['--var', `KEEPALIVE_TOKEN:${TOKEN}`, '--var', 'KEEPALIVE_SHARDS:2'],
    ],
    {
      cwd: ROOT,
      // Its own process group, so afterAll ends wrangler, esbuild and workerd together.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      // The `[build]` command runs `node`: this Node (it runs .ts), not whatever else is on PATH.
      env: { ...process.env, PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' },
    },
  );
  wrangler.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  wrangler.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const port = await poll(() => {
    if (wrangler.exitCode !== null) throw new Error(`wrangler dev exited\n${output.join('')}`);
    return /Ready on http:\/\/127\.0\.0\.1:(\d+)/.exec(output.join(''))?.[1];
  }, 90_000, 50).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${output.join('')}`);
  });
  base = `http://127.0.0.1:${port}`;
  await poll(async () => (await fetch(`${base}/healthz`).catch(() => null))?.ok, 20_000);
  browser = await launchChromium({ width: 720, height: 640 });
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

afterAll(async () => {
  await browser?.dispose();
  await stopGroup(wrangler);
  rmSync(state, { recursive: true, force: true });
});

async function enter(hub: string, name: string) {
  const opened = await openAs(browser, `${base}/?hub=${hub}`, name);
  cleanup.push(() => opened.page.close());
  return opened;
}

describe('examples/presence under wrangler dev', () => {
  it('serves the page and its bundled script, and two pages list each other within one second', async () => {
    const page = await fetch(`${base}/`);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('data-connect="/connect/{hub}"');
    expect((await fetch(`${base}/app.js`)).headers.get('content-type')).toContain('javascript');

    const ada = await enter('together', 'ada');
    const bob = await enter('together', 'bob');
    const both = (rows: { peer: string; state: string }[]) => ['ada', 'bob'].every((peer) => rows.some((row) => row.peer === peer && row.state === 'online'));
    const [adaRows, bobRows] = await poll(async () => {
      const lists = [await rowsOf(ada.page), await rowsOf(bob.page)] as const;
      return both(lists[0]) && both(lists[1]) && lists;
    }, 5000, 10);
    const latency = Math.max(adaRows.find((row) => row.peer === 'bob')!.shownAt!, bobRows.find((row) => row.peer === 'ada')!.shownAt!) - bob.openedAt;
    console.log(`presence (wrangler dev): both pages listed both names ${latency} ms after the second page opened`);
    expect(latency).toBeLessThan(1000);
    expect(await ada.page.locator('#hub').textContent()).toBe('together');

    await say(bob.page, 'hello from the edge');
    await poll(async () => (await rowOf(ada.page, 'bob'))?.said === 'hello from the edge');
    expect([...ada.errors, ...bob.errors]).toEqual([]);
  });

  it(`a stopped page is shown gone ${BOUND} ms after its last sign of life, by the hub's alarm`, async () => {
    const carol = await enter('frozen', 'carol');
    const dave = await enter('frozen', 'dave');
    await poll(async () => (await rowOf(carol.page, 'dave'))?.state === 'online' && (await rowOf(dave.page, 'carol'))?.state === 'online');
    // A keepalive round both ways: each page's client has PINGed (and the platform answered).
    await poll(async () => (await dave.page.evaluate(() => performance.now())) > INTERVAL * 1.5, BOUND * 2);

    const frozenAt = Date.now();
    cleanup.push(await freeze(dave.page));
    const gone = await poll(async () => {
      const row = await rowOf(carol.page, 'dave');
      return row?.state === 'gone' && row;
    }, BOUND + MARGIN * 3, 20);
    const goneAfter = Date.now() - frozenAt;
    console.log(`presence (wrangler dev): stopped page shown gone ${goneAfter} ms after the stop`);
    expect(goneAfter).toBeGreaterThanOrEqual(INTERVAL * COUNT);
    expect(goneAfter).toBeLessThanOrEqual(BOUND + MARGIN);
    // Once: still gone, left at the same moment, a while later.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await rowOf(carol.page, 'dave'))?.leftAt).toBe(gone.leftAt);
    expect(carol.errors).toEqual([]);
  });

  it('three pages, two of one name: every list equals /presence after each step; a tab that closes leaves its name listed', async () => {
    const hub = 'three';
    const agree = async (pages: { page: Parameters<typeof listOf>[0] }[]) =>
      poll(async () => {
        const response = await fetch(`${base}/presence/${hub}`, { headers: { authorization: `Bearer ${TOKEN}` } });
        const truth = rowsForm((await response.json()) as PresenceEntry[]);
        for (const { page } of pages) if (JSON.stringify(await listOf(page)) !== JSON.stringify(truth)) return false;
        return truth;
      }, 5000, 20);
    const ada1 = await enter(hub, 'ada');
    const ada2 = await enter(hub, 'ada');
    const bob = await enter(hub, 'bob');
    const listed = await agree([ada1, ada2, bob]);
    expect(listed.map((entry) => entry.split(':')[0])).toEqual(['ada', 'bob']);
    await say(bob.page, 'hello from bob');
    await poll(async () => (await rowOf(ada1.page, 'bob'))?.said === 'hello from bob');
    await ada2.page.close();
    await agree([ada1, bob]);
    expect((await rowOf(bob.page, 'ada'))?.state).toBe('online');
    expect([...ada1.errors, ...bob.errors]).toEqual([]);
  });
});
