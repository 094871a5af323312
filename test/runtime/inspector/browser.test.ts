/**
 * The inspector page in headless Chromium, on a real `keepalive serve` process with real
 * `keepalive connect` clients (separate processes, so one can be frozen with SIGSTOP).
 * Intervals of 250 ms and count 2: a frozen client is dead 750 ms after its last
 * message. The page must show it dead within one update of the server declaring it so
 * (1 s allowed for the push, one animation frame and polling on a loaded 2-core machine).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { keepaliveMachine } from '../../../actors/keepalive.ts';
import { actors, killAll, poll, ROOT, spawnCli, spawnServer } from '../../node/helpers.ts';
import { launchChromium } from '../../support/chromium.ts';

const KEEPALIVE = ['--interval', '250', '--count', '2'];
const DEATH = 250 * 3;
const ONE_UPDATE = 1000;
const ARTIFACTS = join(ROOT, 'test-artifacts');

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  killAll();
});

/** Every state of the machine as the host names it, walked from the definition. */
function machineStates(): { path: string; key: string }[] {
  type Node = { key: string; path: string[]; states: Record<string, Node> };
  const out: { path: string; key: string }[] = [];
  const visit = (node: Node) => {
    out.push({ path: node.path.join('.'), key: node.key });
    Object.values(node.states).forEach(visit);
  };
  visit(keepaliveMachine.root as unknown as Node);
  return out;
}

const text = (page: Page, selector: string) => page.locator(selector).first().textContent({ timeout: 2000 }).catch(() => null);

describe('inspector page in Chromium', () => {
  it('draws the chart, follows a live client, and shows it dead once frozen', { timeout: 90_000 }, async () => {
    const server = await spawnServer(KEEPALIVE);
    const inspectUrl = (await server.line(/inspector\s+http:\/\//)).match(/http:\/\/\S+/)![0];
    const browser = await launchChromium();
    cleanup.push(() => browser.dispose());
    const page = await browser.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));

    await page.goto(inspectUrl);
    // The chart: every state of the machine, by name, as text.
    for (const { path, key } of machineStates()) {
      const title = page.locator(`svg.chart g.state[data-state="${path}"] > text.title`);
      expect(await title.textContent(), path).toBe(key);
      expect(await title.isVisible(), path).toBe(true);
    }
    await poll(async () => (await text(page, '#status')) === 'live');
    expect(await page.getByText('No connections yet').isVisible()).toBe(true);

    // One client to freeze, one that stays alive.
    const victim = spawnCli(['connect', server.ws, ...KEEPALIVE]);
    await victim.line(/connected to/);
    const [victimView] = await poll(async () => {
      const list = await actors(server.http);
      return list.length === 1 && list;
    });
    const victimId = victimView!.id;
    const keeper = spawnCli(['connect', server.ws, ...KEEPALIVE]);
    await keeper.line(/connected to/);
    const keeperId = (await poll(async () => (await actors(server.http)).find((a) => a.id !== victimId)))!.id;

    await page.getByRole('button', { name: victimId, exact: true }).click();
    await poll(async () => /^alive\./.test((await text(page, '[data-testid="selected-state"]')) ?? ''));
    await poll(async () => (await page.locator('#sequence .seq-row.in, #sequence .seq-row.out').count()) >= 6);
    // The page was open before the client came: its timeline starts at the beginning.
    expect(await page.locator('#sequence .seq-row.in.msg-advertise').count()).toBe(1);
    expect(await page.locator('#sequence .seq-row.in.msg-ping').count()).toBeGreaterThan(0);
    expect(await page.locator('#sequence .seq-row.out.msg-pong').count()).toBeGreaterThan(0);
    expect(await page.getByText('awaitingAdvertise → alive.watching', { exact: false }).count()).toBeGreaterThan(0);
    expect(await page.locator('svg.chart g.state.is-current').getAttribute('data-state')).toMatch(/^alive\./);
    expect(await page.locator('svg.chart g.state.is-active').getAttribute('data-state')).toBe('alive');
    const row = (id: string) => `#connections tr[data-id="${id}"]`;
    expect(await text(page, `${row(victimId)} td.role`)).toBe('server');

    // Freeze the victim: the server PINGs it twice, then declares it dead.
    const stoppedAt = Date.now();
    victim.proc.kill('SIGSTOP');
    let serverSawDeath = 0;
    let pageSawDeath = 0;
    await Promise.all([
      poll(async () => !(await actors(server.http)).some((a) => a.id === victimId) && (serverSawDeath = Date.now()), DEATH * 6, 20),
      poll(async () => (await text(page, `${row(victimId)} .badge`)) === 'dead' && (pageSawDeath = Date.now()), DEATH * 6, 20),
    ]);
    expect(serverSawDeath).toBeGreaterThan(stoppedAt);
    expect(pageSawDeath - serverSawDeath).toBeLessThanOrEqual(ONE_UPDATE);

    expect(await text(page, '[data-testid="selected-state"]')).toBe('dead');
    expect(await page.locator('svg.chart g.state.is-current').getAttribute('data-state')).toBe('dead');
    expect(await text(page, `${row(victimId)} td.state`)).toBe('dead');
    expect(await page.locator('#timeline-panel .end-reason').textContent()).toMatch(/peer dead: silent for \d+ ms, 2 keepalive PING\(s\) unanswered/);
    // The timeline tells the story: ticks into probing, two unanswered PINGs, then dead.
    const rows = await page.locator('#sequence .seq-row').evaluateAll((els) => els.map((el) => `${el.className}|${el.textContent}`));
    const lastIn = rows.findLastIndex((r) => r.startsWith('seq-row in '));
    const after = rows.slice(lastIn + 1);
    expect(after.filter((r) => r.startsWith('seq-row out msg-ping'))).toHaveLength(2);
    expect(after.some((r) => r.includes('tick: alive.watching → alive.probing'))).toBe(true);
    expect(after.some((r) => r.includes('tick: alive.probing → dead'))).toBe(true);
    expect(rows.at(-1)).toMatch(/^seq-row note tone-dead\|.*peer dead: silent for/);

    // The other client is untouched, still alive on the list.
    expect(await text(page, `${row(keeperId)} .badge`)).toMatch(/^alive\./);
    expect(await page.locator(`svg.chart g.state[data-state="alive.watching"] g.occupancy text`).textContent()).not.toBe('0');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'inspector.png'), fullPage: true });

    // Offline: nothing was fetched from anywhere but the server itself.
    const origin = new URL(inspectUrl).origin;
    expect(requests.filter((url) => !url.startsWith(origin) && !url.startsWith('data:'))).toEqual([]);
    expect(errors).toEqual([]);
  });
});
