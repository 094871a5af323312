/**
 * Regenerates docs/presence.png: two pages of the Node example side by side, each having
 * said something, a name open in two tabs (one row, "2 tabs"), and a peer that left. `node examples/presence/screenshot.ts`
 * (needs Chromium: test/support/chromium.ts).
 */
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM } from '../../test/support/chromium.ts';
import { startPresence } from './node.ts';

const OUT = fileURLToPath(new URL('../../docs/presence.png', import.meta.url));
const server = await startPresence({ port: 0, inspector: false });
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
try {
  const context = await browser.newContext({ viewport: { width: 520, height: 560 }, deviceScaleFactor: 1, colorScheme: 'light' });
  const open = async (name: string) => {
    const page = await context.newPage();
    await page.goto(`${server.url}/?name=${name}`);
    await page.waitForFunction(() => document.getElementById('status')?.dataset.openedAt);
    return page;
  };
  const say = async (page: Awaited<ReturnType<typeof open>>, text: string) => {
    await page.getByLabel('Say something').fill(text);
    await page.getByRole('button', { name: 'Say' }).click();
  };
  const ada = await open('ada');
  const grace = await open('grace');
  await open('grace');
  const linus = await open('linus');
  await say(linus, 'brb, closing my laptop');
  await linus.close();
  await say(ada, 'hello, grace!');
  await say(grace, 'hi ada, I see you online');
  await ada.waitForFunction(() => document.querySelectorAll('#peers li').length === 3 && document.body.textContent!.includes('I see you'));
  await grace.waitForFunction(() => document.querySelectorAll('#peers li').length === 3 && document.body.textContent!.includes('hello, grace'));
  // Side by side on one canvas: the two pages' shots drawn into a page of their own.
  const shots = await Promise.all([ada, grace].map(async (page) => (await page.screenshot()).toString('base64')));
  const canvas = await context.newPage();
  await canvas.setViewportSize({ width: 1064, height: 584 });
  await canvas.setContent(`<body style="margin:0;background:#d0d5dd;display:flex;gap:12px;padding:12px">${shots
    .map((shot) => `<img style="border-radius:6px;box-shadow:0 1px 4px #0003" src="data:image/png;base64,${shot}">`)
    .join('')}</body>`);
  await canvas.screenshot({ path: OUT });
  console.log(`wrote ${OUT}`);
} finally {
  await browser.close();
  await server.close();
}
