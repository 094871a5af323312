/**
 * Driving the presence example's page (examples/presence) in Chromium: what its list
 * shows, read from the DOM a person sees (names, online/gone, their tabs, last words).
 */
import type { BrowserContext, Page } from 'playwright-core';

export interface Row {
  peer: string;
  state: 'online' | 'gone';
  /** Page clock: when this name first appeared online in this page's list. */
  shownAt?: number;
  /** Page clock: when its last connection ended, as this page heard it. */
  leftAt?: number;
  /** Its connections' ids, sorted (online only). */
  ids?: string[];
  said?: string;
}

/** Opens the page as `name`; resolves once its client is open, with the page's clock at that moment. */
export async function openAs(browser: BrowserContext, url: string, name: string): Promise<{ page: Page; openedAt: number; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${url}${url.includes('?') ? '&' : '?'}name=${encodeURIComponent(name)}`);
  const handle = await page.waitForFunction(() => document.getElementById('status')?.dataset.openedAt, undefined, { timeout: 20_000, polling: 10 });
  return { page, openedAt: Number(await handle.jsonValue()), errors };
}

export function rowsOf(page: Page): Promise<Row[]> {
  return page.$$eval('#peers li', (items) =>
    items.map((li) => {
      const data = (li as HTMLElement).dataset;
      return {
        peer: data.peer!,
        state: data.state as 'online' | 'gone',
        ...(data.shownAt ? { shownAt: Number(data.shownAt) } : {}),
        ...(data.leftAt ? { leftAt: Number(data.leftAt) } : {}),
        ...(data.ids ? { ids: data.ids.split(',').sort() } : {}),
        ...(li.querySelector('.said q') ? { said: li.querySelector('.said q')!.textContent! } : {}),
      };
    }),
  );
}

export async function rowOf(page: Page, peer: string): Promise<Row | undefined> {
  return (await rowsOf(page)).find((row) => row.peer === peer);
}

/** Types into the "Say something" box and submits it, as a person would. */
export async function say(page: Page, text: string): Promise<void> {
  await page.getByLabel('Say something').fill(text);
  await page.getByRole('button', { name: 'Say' }).click();
}

/**
 * Stops the page's script dead, as in a frozen or hung tab: no timer fires and no frame
 * is answered, while its socket stays open. (CDP's `Page.setWebLifecycleState` `frozen`
 * does not freeze a visible headless page in Chromium 156: its timers kept running. A
 * debugger pause does stop them.) Returns the thaw.
 */
export async function freeze(page: Page): Promise<() => Promise<void>> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Debugger.enable');
  const paused = new Promise<void>((resolve) => cdp.once('Debugger.paused', () => resolve()));
  await cdp.send('Debugger.pause');
  // The pause takes at the next script to run: a timer's, or the next frame's.
  await paused;
  return async () => {
    await cdp.send('Debugger.resume').catch(() => {});
    await cdp.detach().catch(() => {});
  };
}

/** A page's online rows in the form of test/support/presence-lists.ts, to compare with a hub's `/presence`. */
export async function listOf(page: Page): Promise<string[]> {
  return (await rowsOf(page))
    .filter((row) => row.state === 'online')
    .map((row) => `${row.peer}:${row.ids!.join(',')}`)
    .sort();
}
