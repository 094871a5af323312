/**
 * examples/presence in headless Chromium, on one Node process and on two processes with one
 * `redis-server`: three pages, two of them the same name. After every step each page's list
 * equals the hub's `/presence` (grouped by peer); the two tabs of one name are one row with
 * two connections; a page whose network drops and comes back within its session never leaves
 * anyone's list; a frozen page leaves every list once, at the keepalive bound (interval 2000
 * ms, count 2: 6 s after its last sign of life). Every check waits for its condition with a deadline.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPresence } from '../../examples/presence/node.ts';
import { COUNT, INTERVAL } from '../../examples/presence/protocol.ts';
import type { RunningServer } from '../../adapters/node/server.ts';
import type { PresenceEntry } from '../../runtime/application/index.ts';
import { poll } from '../node/helpers.ts';
import { launchChromium } from '../support/chromium.ts';
import { freeze, listOf, openAs, rowOf, say } from '../support/presence-page.ts';
import { rowsForm } from '../support/presence-lists.ts';
import { startProxy } from '../support/tcp-proxy.ts';

const BOUND = INTERVAL * (COUNT + 1);
/** Timers in two processes (Node, Chromium) on a loaded 2-core machine, far under one interval. */
const MARGIN = 1500;

let browser: Awaited<ReturnType<typeof launchChromium>>;
const cleanup: (() => unknown)[] = [];

beforeAll(async () => {
  browser = await launchChromium({ width: 720, height: 640 });
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

afterAll(async () => {
  await browser?.dispose();
});

async function open(url: string, name: string) {
  const opened = await openAs(browser, url, name);
  cleanup.push(() => opened.page.close().catch(() => {}));
  return opened;
}

type Opened = Awaited<ReturnType<typeof open>>;

/** Every page's list equals `/presence` of `server` (the whole hub's, on any of its processes). */
async function agree(server: RunningServer, pages: readonly Opened[], timeout = 5000): Promise<string[]> {
  return poll(async () => {
    const truth = rowsForm((await (await fetch(`${server.url}/presence`)).json()) as PresenceEntry[]);
    for (const { page } of pages) if (JSON.stringify(await listOf(page)) !== JSON.stringify(truth)) return false;
    return truth;
  }, timeout, 20);
}

/** The scenario, on one hub whose pages open on `servers` (round robin). */
async function scenario(servers: readonly RunningServer[], across: boolean): Promise<void> {
  const [first, second = first] = servers as [RunningServer, RunningServer?];
  const proxy = await startProxy(second!.port);
  cleanup.push(() => proxy.close());
  const ada1 = await open(`${first.url}/`, 'ada');
  const ada2 = await open(`${second!.url}/`, 'ada');
  // bob's page and its socket go through a relay the test cuts.
  const bob = await open(`http://127.0.0.1:${proxy.port}/`, 'bob');
  const pages = [ada1, ada2, bob];
  const listed = await agree(first, pages);
  expect(listed.map((entry) => entry.split(':')[0])).toEqual(['ada', 'bob']);
  expect(listed[0]!.split(',')).toHaveLength(2);
  expect(await second!.hub.presence().length).toBe(3);

  await say(ada1.page, 'hello from ada');
  await poll(async () => (await rowOf(bob.page, 'ada'))?.said === 'hello from ada');
  await agree(first, pages);

  // bob's network drops and comes back within its session: still listed everywhere, never gone.
  const shown = [(await rowOf(ada1.page, 'bob'))!.shownAt, (await rowOf(ada2.page, 'bob'))!.shownAt];
  const connectionsBefore = proxy.accepted;
  proxy.cut();
  await poll(() => proxy.accepted > connectionsBefore, 5000, 10);
  await agree(first, pages);
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect([(await rowOf(ada1.page, 'bob'))?.shownAt, (await rowOf(ada2.page, 'bob'))?.shownAt]).toEqual(shown);

  // One of ada's tabs closes: ada stays, with one connection.
  await ada2.page.close();
  await agree(first, [ada1, bob]);
  expect((await rowOf(bob.page, 'ada'))?.state).toBe('online');

  // bob's page freezes: it leaves both lists once, at its bound.
  await poll(() => first.hub.presence().some((row) => row.peer === 'bob' && row.state.startsWith('alive')), BOUND);
  const frozenAt = Date.now();
  cleanup.push(await freeze(bob.page));
  const gone = await poll(async () => {
    const row = await rowOf(ada1.page, 'bob');
    return row?.state === 'gone' && row;
  }, BOUND + MARGIN * 3, 20);
  const goneAfter = Date.now() - frozenAt;
  console.log(`presence${across ? ' (two processes)' : ''}: frozen page left the other's list ${goneAfter} ms after the freeze`);
  // Its last frame came at most about one interval before the freeze (it answers PINGs at once).
  expect(goneAfter).toBeGreaterThanOrEqual(INTERVAL * COUNT);
  expect(goneAfter).toBeLessThanOrEqual(BOUND + (across ? 1000 : 0) + MARGIN);
  expect(await agree(first, [ada1])).toEqual([expect.stringMatching(/^ada:[^,]+$/)]);
  // Once: still gone a while later, left at the same moment.
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect((await rowOf(ada1.page, 'bob'))?.leftAt).toBe(gone.leftAt);
  expect([...ada1.errors, ...ada2.errors]).toEqual([]);
}

describe('examples/presence on Node', () => {
  it('three pages, two of one name: lists equal /presence, a drop is no leave, a frozen page leaves once at its bound', async () => {
    const server = await startPresence({ port: 0, inspector: false });
    cleanup.push(() => server.close());
    await scenario([server], false);
  }, 60_000);
});

describe('examples/presence on two processes and one Redis', () => {
  it('the same, with the pages spread over both processes', async () => {
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
    await scenario(servers, true);
  }, 60_000);
});
