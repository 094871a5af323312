/**
 * Delivery mode across a restart of `wrangler dev` (workerd SIGKILLed mid-stream, started
 * again on the same persisted state and port): the Node client resumes on the rebuilt Durable
 * Object. Server to client: every message once, in order (a send is durable when it returns).
 * Client to server: every message, in order, each with its own sequence number; a repeat only
 * as the docs allow after a restart (handled, `received` not yet written: a run that starts
 * again below where the first instance stopped).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { connect, type KeepaliveClient } from '../../adapters/node/client.ts';
import { until } from '../node/helpers.ts';
import { startWranglerDev, type WranglerDev } from '../support/wrangler-dev.ts';

const HUB = 'delivery-restart';
const RATE = 100;
const VARS = { KEEPALIVE_INTERVAL: '1000', KEEPALIVE_COUNT: '3' };
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

interface Heard {
  data: string;
  seq: number | null;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

it('a client resumes on the restarted object: nothing lost or repeated down, nothing lost up', async () => {
  const state = mkdtempSync(join(tmpdir(), 'keepalive-delivery-restart-'));
  cleanup.push(() => rmSync(state, { recursive: true, force: true }));
  const port = await freePort();
  const start = async () => {
    const dev = await startWranglerDev(VARS, { KEEPALIVE_TOKEN: 'test-token' }, { config: 'test/cloudflare/delivery/wrangler.toml', persistTo: state, port });
    cleanup.push(() => dev.stop());
    return dev;
  };
  const base = `http://127.0.0.1:${port}`;
  let dev: WranglerDev = await start();
  const down: string[] = [];
  let opens = 0;
  const client: KeepaliveClient = connect(`ws://127.0.0.1:${port}/connect/${HUB}`, { delivery: true, interval: 1000, count: 10, reconnect: { minDelay: 20, maxDelay: 200 } });
  cleanup.push(() => client.close());
  client.addEventListener('open', () => opens++);
  client.addEventListener('message', (event) => down.push(String(event.data)));
  const story: string[] = [];
  client.addEventListener('reconnecting', (event) => story.push(`reconnecting ${event.attempt}: ${event.reason}`));
  client.addEventListener('dead', (event) => story.push(`dead: ${event.reason}`));
  client.addEventListener('close', (event) => story.push(`close ${event.code}: ${event.reason}`));
  await until(() => opens > 0, 'the first open', 20_000);

  // Both ways at RATE a second, through the kill and the restart: the hub's sends in batches
  // of 4 (a batch whose request fails with the server may or may not have been sent: its
  // count in storage says), the client's one by one.
  let up = 0;
  const sender = setInterval(() => client.send(`c${up++}`), 1000 / RATE);
  cleanup.push(() => clearInterval(sender));
  let driving = true;
  const driver = (async () => {
    while (driving) {
      await fetch(`${base}/stream/${HUB}/send?count=4`, { method: 'POST' }).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 4000 / RATE));
    }
  })();
  const heard = async () => (await (await fetch(`${base}/stream/${HUB}/heard`)).json()) as Heard[];
  const heardCount = async () => (await (await fetch(`${base}/stream/${HUB}/count`)).json()) as { count: number; last: Heard | null };
  await until(async () => down.length >= 300 && (await heardCount()).count >= 300, '300 messages each way', 30_000);
  const downBeforeKill = down.length;
  const heardBefore = (await heardCount()).count;
  const opened = opens;
  await dev.kill();

  dev = await start();
  await until(() => opens > opened, 'the client back', 20_000).catch((error: unknown) => {
    throw new Error(`${String(error)}\nclient: ${story.slice(-10).join('\n')}`);
  });
  await until(async () => down.length >= downBeforeKill + 300 && (await heardCount()).count >= heardBefore + 300, '300 more each way', 30_000);
  clearInterval(sender);
  driving = false;
  await driver;
  const { sent } = (await (await fetch(`${base}/stream/${HUB}/sent`)).json()) as { sent: number };
  await until(async () => down.length >= sent && (await heardCount()).last?.data === `c${up - 1}`, 'the last messages', 20_000).catch(() => undefined);

  // Down: s0 .. s<sent - 1>, once each, in order.
  expect(down).toEqual(Array.from({ length: sent }, (_, i) => `s${i}`));
  // Up: c0 .. c<up - 1> with seq n + 1, in order; after the restart, at most a run that starts
  // again below where the first instance had got (never above: nothing skipped).
  const all = await heard();
  const restart = all.findIndex((h, i) => i > 0 && h.seq! <= all[i - 1]!.seq!);
  const first = restart < 0 ? all : all.slice(0, restart);
  const second = restart < 0 ? [] : all.slice(restart);
  const numbered = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ data: `c${from + i}`, seq: from + i + 1 }));
  expect(first).toEqual(numbered(0, first.length));
  const resumedAt = second[0] ? second[0].seq! - 1 : first.length;
  expect(second).toEqual(numbered(resumedAt, up).slice(0, second.length));
  expect(first.length + second.length - (first.length - resumedAt)).toBe(up);
  expect(first.length).toBeGreaterThanOrEqual(heardBefore);
  console.log(`wrangler dev restart: ${sent} down (${downBeforeKill} before the kill), ${up} up, ${first.length - resumedAt} repeated, ${opens} opens`);
}, 120_000);
