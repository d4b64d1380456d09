#!/usr/bin/env node
// Measures the <script> bundle (minified, and minified + gzip level 9) and writes the figures and
// where the bytes come from into README.md, between <!-- size:start --> and <!-- size:end -->.
// test/size.test.ts runs the same measurement in CI: it fails above LIMIT, and when the README
// block is not what this script writes.
// Usage: node scripts/size.mjs [--check]   (--check: exit 1 if over LIMIT or the README is stale)
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { bundle } from './bundle.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const README = resolve(root, 'README.md');

/** Issue 14's goal for the bundle, min+gzip. */
export const TARGET = 4096;
/**
 * The ceiling CI enforces (test/size.test.ts): issue 14's target itself. A feature that does not
 * fit under it has to make room first (README, Size).
 */
export const LIMIT = TARGET;

const kb = (n) => `${(n / 1024).toFixed(2)} KiB`;

/** Builds the bundle in memory; returns its sizes, the bytes by source file, and the README block. */
export async function measure() {
  const { bytes, metafile, esbuilt } = await bundle(resolve(root, 'dist/stelar.min.js'), { write: false });
  const min = bytes.length;
  const gz = gzipSync(bytes, { level: 9 }).length;
  const esbuildGz = gzipSync(esbuilt, { level: 9 }).length;
  // Where the minified bytes come from, by source file (largest first), as esbuild's output has them.
  const out = Object.values(metafile.outputs)[0];
  const parts = Object.entries(out.inputs)
    .map(([file, { bytesInOutput }]) => [relative(root, resolve(file)).replace(/^\.\.\//, '@stelar/').replace('/src/', '/'), bytesInOutput])
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  const block = [
    '<!-- size:start -->',
    `**\`dist/stelar.min.js\`: ${min} bytes minified, ${gz} bytes minified + gzip** (level 9; ${kb(gz)}).`,
    `Issue 14's target is ${TARGET} bytes: ${gz <= TARGET ? `met, ${TARGET - gz} bytes to spare` : `**not met**, ${gz - TARGET} bytes over`}. CI fails above ${LIMIT} bytes (\`test/size.test.ts\`).`,
    `esbuild's minifier alone gives ${esbuilt.length} bytes, ${esbuildGz} with gzip; oxc's pass after it saves ${esbuildGz - gz}.`,
    '',
    '| source | bytes in esbuild\'s output |',
    '|---|---:|',
    ...parts.map(([f, n]) => `| \`${f}\` | ${n} |`),
    '<!-- size:end -->',
  ].join('\n');
  return { min, gz, parts, block };
}

/** The README with its size block replaced by `block`. */
export function withBlock(readme, block) {
  return readme.replace(/<!-- size:start -->[\s\S]*?<!-- size:end -->/, block);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { min, gz, block } = await measure();
  const readme = readFileSync(README, 'utf8');
  const next = withBlock(readme, block);
  console.log(`stelar.min.js: ${min} B minified, ${gz} B min+gzip (target ${TARGET} B: ${gz <= TARGET ? 'met' : 'NOT met'}; CI limit ${LIMIT} B)`);
  if (process.argv.includes('--check')) {
    if (next !== readme) console.error('README size block is stale: run `node scripts/size.mjs` in packages/client-browser');
    if (gz > LIMIT) console.error(`the bundle is over the ${LIMIT}-byte limit`);
    if (next !== readme || gz > LIMIT) process.exit(1);
  } else if (next !== readme) writeFileSync(README, next);
}
