/**
 * examples/presence on Node, in headless Chromium: two pages see each other within a
 * second of the second one connecting, hear what each says, and a frozen page is shown
 * gone at the keepalive bound (interval 2000 ms, count 2: 6 s after its last sign of
 * life), not when TCP would give up. Every check waits for its condition with a deadline.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPresence } from '../../examples/presence/node.ts';
import { COUNT, INTERVAL } from '../../examples/presence/protocol.ts';
import type { RunningServer } from '../../adapters/node/server.ts';
import { poll } from '../node/helpers.ts';
import { launchChromium } from '../support/chromium.ts';
import { freeze, openAs, rowOf, rowsOf, say } from '../support/presence-page.ts';

const BOUND = INTERVAL * (COUNT + 1);
/** Timers in two processes (Node, Chromium) on a loaded 2-core machine, far under one interval. */
const MARGIN = 1500;

let server: RunningServer;
let browser: Awaited<ReturnType<typeof launchChromium>>;
const cleanup: (() => unknown)[] = [];

beforeAll(async () => {
  server = await startPresence({ port: 0, inspector: false });
  browser = await launchChromium({ width: 720, height: 640 });
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

afterAll(async () => {
  await browser?.dispose();
  await server?.close();
});

async function join(name: string) {
  const opened = await openAs(browser, `${server.url}/`, name);
  cleanup.push(() => opened.page.close());
  return opened;
}

describe('examples/presence on Node', () => {
  it('two pages see each other within one second, and what each says', async () => {
    const ada = await join('ada');
    const bob = await join('bob');
    const both = (rows: { peer: string; state: string }[]) => ['ada', 'bob'].every((peer) => rows.some((row) => row.peer === peer && row.state === 'online'));
    const [adaRows, bobRows] = await poll(async () => {
      const lists = [await rowsOf(ada.page), await rowsOf(bob.page)] as const;
      return both(lists[0]) && both(lists[1]) && lists;
    }, 5000, 10);
    // From bob's open to the later of the two lists showing the other name (both page clocks are this machine's).
    const seen = Math.max(adaRows.find((row) => row.peer === 'bob')!.shownAt!, bobRows.find((row) => row.peer === 'ada')!.shownAt!);
    const latency = seen - bob.openedAt;
    console.log(`presence: both pages listed both names ${latency} ms after the second page opened`);
    expect(latency).toBeLessThan(1000);

    await say(ada.page, 'hello from ada');
    await poll(async () => (await rowOf(bob.page, 'ada'))?.said === 'hello from ada');
    await say(bob.page, 'hi ada');
    await poll(async () => (await rowOf(ada.page, 'bob'))?.said === 'hi ada');

    // A goodbye (the tab closes) is immediate: no keepalive bound to wait for.
    await bob.page.close();
    const gone = await poll(async () => {
      const row = await rowOf(ada.page, 'bob');
      return row?.state === 'gone' && row;
    }, 5000);
    expect(gone.said).toBe('hi ada');
    expect(gone.why).toMatch(/^peer closed/);
    expect([...ada.errors, ...bob.errors]).toEqual([]);
  });

  it(`a frozen page is shown gone ${BOUND} ms after its last sign of life, not at TCP's timeout`, async () => {
    const carol = await join('carol');
    const dave = await join('dave');
    await poll(async () => (await rowOf(carol.page, 'dave'))?.state === 'online' && (await rowOf(dave.page, 'carol'))?.state === 'online');
    const entry = () => server.hub.presence().find((row) => row.peer === 'dave');
    // Keepalive has flowed both ways before the freeze.
    await poll(() => server.host.list().some((view) => view.meta.peer === 'dave' && view.pingsReceived + view.pongsReceived > 0), BOUND * 2);

    const frozenAt = Date.now();
    const thaw = await freeze(dave.page);
    cleanup.push(thaw);
    // Until carol shows dave gone: the server's last record of dave's last sign of life.
    let lastSignOfLife = entry()!.lastSignOfLife;
    const gone = await poll(async () => {
      const live = entry();
      if (live) lastSignOfLife = live.lastSignOfLife;
      const row = await rowOf(carol.page, 'dave');
      return row?.state === 'gone' && row;
    }, BOUND + MARGIN * 3, 20);
    const goneAfter = Date.now() - frozenAt;
    const silentFor = Number(/^peer dead: silent for (\d+) ms/.exec(gone.why ?? '')?.[1]);
    console.log(`presence: frozen page shown gone ${goneAfter} ms after the freeze; verdict ${gone.leftAt! - lastSignOfLife} ms after its last sign of life (silent for ${silentFor} ms)`);
    // Its last frame came at most about one interval before the freeze (it answers PINGs at once).
    expect(goneAfter).toBeGreaterThanOrEqual(INTERVAL * COUNT);
    expect(goneAfter).toBeLessThanOrEqual(BOUND + MARGIN);
    expect(gone.leftAt! - lastSignOfLife).toBeGreaterThanOrEqual(BOUND);
    expect(gone.leftAt! - lastSignOfLife).toBeLessThanOrEqual(BOUND + MARGIN);
    expect(silentFor).toBeGreaterThanOrEqual(BOUND);
    expect(carol.errors).toEqual([]);
  });
});

describe('examples/presence on two processes and one Redis', () => {
  it('shows one list on pages open on either process', async () => {
    const { startRedis } = await import('../support/redis.ts');
    const redis = await startRedis();
    const servers = [
      await startPresence({ port: 0, inspector: false, cluster: { redis: redis.url, node: 'one' } }),
      await startPresence({ port: 0, inspector: false, cluster: { redis: redis.url, node: 'two' } }),
    ];
    cleanup.push(
      () => redis.stop(),
      ...servers.map((s) => () => s.close()),
    );
    const ada = await openAs(browser, `${servers[0]!.url}/`, 'ada');
    cleanup.push(() => ada.page.close());
    const bob = await openAs(browser, `${servers[1]!.url}/`, 'bob');
    cleanup.push(() => bob.page.close());
    const both = (rows: { peer: string; state: string }[]) => ['ada', 'bob'].every((peer) => rows.some((row) => row.peer === peer && row.state === 'online'));
    await poll(async () => both(await rowsOf(ada.page)) && both(await rowsOf(bob.page)), 5000, 10);
    await say(bob.page, 'hello across');
    await poll(async () => (await rowOf(ada.page, 'bob'))?.said === 'hello across');
  }, 30_000);
});
