import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env['STELAR_CHROMIUM'] ?? '/usr/bin/chromium';

/**
 * Headless Chromium; every `browser.newContext()` is a fresh profile (no shared cookies). Fails
 * with a clear message when the binary is missing: the browser test never skips.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (Debian: apt-get install chromium) or set STELAR_CHROMIUM to run the browser tests`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    timeout: 15_000,
  });
}
