import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

/** The Chromium the browser tests drive: `STELAR_CHROMIUM`, else Debian's package. */
export const CHROMIUM = process.env['STELAR_CHROMIUM'] ?? '/usr/bin/chromium';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];

/** Throws a clear error when the binary is missing: a browser test fails then, it never skips. */
export function requireChromium(): string {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (Debian: apt-get install chromium; scripts/system-deps.sh does it) or set STELAR_CHROMIUM to run the browser tests`);
  }
  return CHROMIUM;
}

/** Headless Chromium; every `browser.newContext()` is a fresh profile (no shared storage). */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: requireChromium(), args: ARGS, timeout: 15_000 });
}

/** Headless Chromium with one persistent context on a fresh temporary profile, removed by `close`. */
export async function launchChromiumProfile(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const executablePath = requireChromium();
  const profile = mkdtempSync(join(tmpdir(), 'stelar-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: ARGS, timeout: 15_000 });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
