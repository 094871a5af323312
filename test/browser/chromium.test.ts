/**
 * The browser client in headless Chromium: a page loads the esbuild bundle (the one
 * bench/client-size.ts measures) and connects to a real Node server. Intervals of 400 ms,
 * count 2: a silent server is dead 1200 ms after its last message. Every check waits for
 * its condition with a deadline; the bounds leave room for a loaded 2-core machine
 * without letting a verdict one interval off pass.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import { bundleClient } from '../../bench/client-size.ts';
import { actors, killAll, poll, spawnServer } from '../node/helpers.ts';
import { launchChromium } from '../support/chromium.ts';

const INTERVAL = 400;
const COUNT = 2;
const DEATH = INTERVAL * (COUNT + 1);
/** Timers in three processes (test, server, Chromium) on a busy machine; under one interval of slack per side. */
const TOLERANCE = 800;
const KEEPALIVE = { interval: INTERVAL, count: COUNT };

/** What the page records of its client's events. */
interface Logged {
  type: 'open' | 'message' | 'dead' | 'reconnecting' | 'close';
  at: number;
  attempt?: number;
  data?: string | number[];
  silentFor?: number;
  /** The delivery mode's sequence number of a message. */
  seq?: number;
  reason?: string;
  code?: number;
}

/** The page's own script: the bundle's `connect`, each event logged with the time it reached the page. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>keepalive client</title>
<script type="module">
import { connect } from '/client.js';
const log = [];
globalThis.keepaliveLog = log;
globalThis.startClient = (url, options) => {
  const client = connect(url, options);
  globalThis.client = client;
  const record = (type) => (e) => log.push({
    type, at: Date.now(), seq: e.seq, attempt: e.attempt, silentFor: e.silentFor, reason: e.reason, code: e.code,
    data: typeof e.data === 'string' ? e.data : e.data instanceof Uint8Array ? Array.from(e.data) : undefined,
  });
  // Both styles a web developer uses: on... properties and addEventListener.
  client.onopen = record('open');
  client.onmessage = record('message');
  client.addEventListener('dead', record('dead'));
  client.addEventListener('reconnecting', record('reconnecting'));
  client.addEventListener('close', record('close'));
};
globalThis.ready = true;
</script>`;

let site: Server;
let siteUrl: string;
let browser: Awaited<ReturnType<typeof launchChromium>>;

beforeAll(async () => {
  const { code } = await bundleClient();
  site = createServer((request, response) => {
    if (request.url === '/client.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(code);
    else if (request.url === '/') response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
  browser = await launchChromium({ width: 800, height: 600 });
});

afterAll(async () => {
  await browser?.dispose();
  await new Promise((resolve) => site?.close(resolve));
});

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  killAll();
});

async function openPage(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  cleanup.push(() => page.close());
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(siteUrl);
  await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
  return { page, errors };
}

const start = (page: Page, url: string, options: object) =>
  page.evaluate(([url, options]) => (globalThis as unknown as { startClient(url: string, options: object): void }).startClient(url, options), [url, options] as const);
const logOf = (page: Page) => page.evaluate(() => (globalThis as unknown as { keepaliveLog: Logged[] }).keepaliveLog);
const send = (page: Page, data: string | number[]) =>
  page.evaluate((data) => {
    const { client } = globalThis as unknown as { client: { send(data: string | Uint8Array): void } };
    client.send(typeof data === 'string' ? data : new Uint8Array(data));
  }, data);

describe('the browser client in Chromium', () => {
  it('connects, sends text and bytes and gets them echoed, hears what the server pushes, closes for good', { timeout: 60_000 }, async () => {
    const server: RunningServer = await startServer({
      port: 0,
      tcpPort: 0,
      ...KEEPALIVE,
      inspector: false,
      hooks: { onMessage: (conn, data) => void conn.send(typeof data === 'string' ? `echo: ${data}` : data) },
    });
    cleanup.push(() => server.close(undefined, { keepConnections: false }));
    const { page, errors } = await openPage();
    await start(page, server.wsUrl, { ...KEEPALIVE, peer: 'chromium' });
    await poll(async () => (await logOf(page)).some((e) => e.type === 'open'));
    await send(page, 'hello');
    await send(page, [0, 1, 254, 255]);
    await poll(async () => (await logOf(page)).filter((e) => e.type === 'message').length === 2);
    expect((await logOf(page)).filter((e) => e.type === 'message').map((e) => e.data)).toEqual(['echo: hello', [0, 1, 254, 255]]);
    expect(server.hub.broadcast('from the server')).toBe(1);
    await poll(async () => (await logOf(page)).some((e) => e.type === 'message' && e.data === 'from the server'));
    // In the delivery mode (the client's default), numbered from 1 in the order sent.
    expect((await logOf(page)).filter((e) => e.type === 'message').map((e) => e.seq)).toEqual([1, 2, 3]);
    const [view] = server.host.list();
    expect(view).toMatchObject({ advertised: true, meta: { peer: 'chromium' } });
    // Delivery mode's RESUME and ACK frames are signs of life and count among the messages too.
    expect(view!.messagesReceived).toBeGreaterThanOrEqual(2);

    // The reserved prefix is refused in the page, synchronously, with a TypeError.
    expect(await page.evaluate(() => {
      try {
        (globalThis as unknown as { client: { send(data: string): void } }).client.send('keepalive:PING');
        return 'sent';
      } catch (error) {
        return error instanceof TypeError ? 'TypeError' : String(error);
      }
    })).toBe('TypeError');

    // Several intervals: both sides PING and answer, nobody dies.
    await poll(() => (server.host.view(view!.id)?.pongsReceived ?? 0) >= 2, DEATH * 4);
    await page.evaluate(() => (globalThis as unknown as { client: { close(): void } }).client.close());
    await poll(async () => (await logOf(page)).some((e) => e.type === 'close'));
    await poll(() => server.host.size === 0);
    expect((await logOf(page)).filter((e) => e.type !== 'message').map((e) => `${e.type}${e.code ? ` ${e.code}` : ''}`)).toEqual(['open', 'close 1000']);
    expect(errors).toEqual([]);
  });

  it('declares a SIGSTOPped server dead within interval*(count+1), then after SIGCONT reconnects and resumes the same connection', { timeout: 60_000 }, async () => {
    const server = await spawnServer(['--interval', String(INTERVAL), '--count', String(COUNT)]);
    const { page, errors } = await openPage();
    await start(page, server.ws, KEEPALIVE);
    // Both sides have heard each other's keepalive: the link is proven before the freeze.
    const [before] = await poll(async () => {
      const list = await actors(server.http);
      return list.length === 1 && list[0]!.pingsReceived + list[0]!.pongsReceived > 0 && list;
    });
    expect(before!.meta.sessionHash).toMatch(/^[0-9a-f]{64}$/);

    const stoppedAt = Date.now();
    server.proc.kill('SIGSTOP');
    const dead = await poll(async () => (await logOf(page)).find((e) => e.type === 'dead'), DEATH + TOLERANCE * 3, 20);
    // The last message came at or before the stop, so the verdict can be no later than this.
    expect(dead.at - stoppedAt).toBeLessThanOrEqual(DEATH + TOLERANCE);
    expect(dead.silentFor).toBeGreaterThanOrEqual(DEATH);
    expect(dead.silentFor).toBeLessThanOrEqual(DEATH + TOLERANCE);
    expect(dead.reason).toMatch(new RegExp(`^peer dead: silent for \\d+ ms, ${COUNT} keepalive PING\\(s\\) unanswered$`));
    // dead, then reconnecting: never a close while reconnect is on.
    await poll(async () => (await logOf(page)).some((e) => e.type === 'reconnecting'));
    const afterDead = (await logOf(page)).filter((e) => e.at >= dead.at && e.type !== 'message');
    expect(afterDead.slice(0, 2).map((e) => e.type)).toEqual(['dead', 'reconnecting']);

    // Held until an attempt to reconnect has hung on the frozen server and been given up.
    const hung = await poll(async () => (await logOf(page)).find((e) => e.type === 'reconnecting' && e.attempt === 2), DEATH + TOLERANCE * 4, 20);
    expect(hung.reason).toBe(`no answer to the upgrade within ${DEATH} ms`);
    server.proc.kill('SIGCONT');
    await poll(async () => (await logOf(page)).some((e) => e.type === 'open' && (e.attempt ?? 0) > 0), 15_000);
    await send(page, 'back again');
    // The same server-side connection goes on: same id, the message counted on it.
    const [after] = await poll(async () => {
      const list = await actors(server.http);
      return list.length === 1 && list[0]!.messagesReceived > before!.messagesReceived && list;
    });
    expect(after!.id).toBe(before!.id);
    expect(after!.state).toMatch(/^alive/);
    expect(after!.pingsReceived + after!.pongsReceived).toBeGreaterThanOrEqual(before!.pingsReceived + before!.pongsReceived);
    expect(await server.line(new RegExp(`${before!.id} resumed: its peer reattached`))).toBeTruthy();
    const log = await logOf(page);
    expect(log.filter((e) => e.type === 'close')).toEqual([]);
    expect(log.filter((e) => e.type === 'dead')).toHaveLength(1);
    expect(errors).toEqual([]);
  });
});
