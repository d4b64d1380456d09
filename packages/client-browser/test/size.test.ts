// The size of the <script> bundle, measured as scripts/size.mjs does (esbuild minified, gzip
// level 9), and the README's size block, which that script writes (never typed by hand).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LIMIT, measure, README, TARGET, withBlock } from '../scripts/size.mjs';

describe('the <script> bundle (dist/stelar.min.js)', () => {
  it(`stays within the CI limit, and the README says how big it is (target: ${TARGET} bytes)`, async () => {
    const m = await measure();
    expect(m.gz, `${m.gz} bytes min+gzip is over the ${LIMIT}-byte limit`).toBeLessThanOrEqual(LIMIT);
    // Nothing of core's server side (hub, adapters, rate limits, metrics, its request table) nor
    // codec-tcp's encoders and decoders gets in: only what the client uses.
    const files = m.parts.map(([f]) => f);
    expect(files.filter((f) => /hub|adapter|rate-limit|metrics|connection|broadcast|requests|registry|queue|encode|decode|utf8/.test(f))).toEqual([]);
    const readme = readFileSync(README, 'utf8');
    expect(withBlock(readme, m.block) === readme, 'README size block is stale: run `node scripts/size.mjs` in packages/client-browser').toBe(true);
  });
});
