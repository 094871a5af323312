/**
 * Headless Chromium for browser tests: Debian's `chromium` driven by playwright-core.
 * Missing Chromium is a failure with a clear message, never a skip (`npm test` installs it
 * first: scripts/system-deps.ts).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

/** A fresh profile in a temporary directory; `close()` removes it. */
export async function launchChromium(options: { width?: number; height?: number } = {}): Promise<BrowserContext & { dispose(): Promise<void> }> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium (npm test's pretest does as root: node scripts/system-deps.ts) or set CHROMIUM_PATH`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'keepalive-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: options.width ?? 1440, height: options.height ?? 1000 },
  });
  return Object.assign(context, {
    async dispose() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  });
}
