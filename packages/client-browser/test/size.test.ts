// The size of the <script> files, measured as scripts/size.mjs does (esbuild, then oxc's
// minifier; gzip level 9), and the README's size block, which that script writes (never typed by
// hand).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FULL_LIMIT, LIMIT, measure, README, TARGET, withBlock } from '../scripts/size.mjs';

describe('the <script> files (dist/stelar.min.js, dist/stelar.full.min.js)', () => {
  it(`stay within their CI limits, the small one without the full one's features, and the README says how big they are (target: ${TARGET} bytes)`, async () => {
    const m = await measure();
    expect(m.gz, `stelar.min.js: ${m.gz} bytes min+gzip is over the ${LIMIT}-byte limit`).toBeLessThanOrEqual(LIMIT);
    expect(m.fullGz, `stelar.full.min.js: ${m.fullGz} bytes min+gzip is over the ${FULL_LIMIT}-byte limit`).toBeLessThanOrEqual(FULL_LIMIT);
    // Nothing of core's server side (hub, adapters, rate limits, metrics, its request table) nor
    // codec-tcp's encoders and decoders gets in: only what the client uses.
    const files = m.parts.map(([f]) => f);
    expect(files.filter((f) => /hub|adapter|rate-limit|metrics|connection|broadcast|requests|registry|queue|encode|decode|utf8/.test(f))).toEqual([]);
    // The switched-off features are not in the small file (their code was dropped, not skipped at
    // run time); the full one has each. Each costs something.
    for (const word of ['recovery_failed', 'connect_error', 'reconnect.delay', 'not a Stelar server', 'messagesSent', 'gave up reconnecting', '$bin']) {
      expect(m.text.min.includes(word), `${word} in stelar.min.js`).toBe(false);
      expect(m.text.full.includes(word), `${word} in stelar.full.min.js`).toBe(true);
    }
    // Each costs something, and none would fit in stelar.min.js (the reason for two files: README, Size).
    for (const [feature, bytes] of m.costs) expect(m.gz + bytes, feature).toBeGreaterThan(LIMIT);
    // Together they cost less than the sum of their costs alone (README, Size).
    expect(m.fullGz - m.gz).toBeLessThan(m.costs.reduce((n, [, b]) => n + b, 0));
    const readme = readFileSync(README, 'utf8');
    expect(withBlock(readme, m.block) === readme, 'README size block is stale: run `node scripts/size.mjs` in packages/client-browser').toBe(true);
  });
});
