#!/usr/bin/env node
// Measures the <script> bundle (minified, and minified + gzip level 9) and writes the figure
// into README.md between <!-- size:start --> and <!-- size:end -->.
// Usage: node scripts/size.mjs [--check]   (--check: exit 1 if the README figure is stale)
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { bundle } from './bundle.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TARGET = 4096;

const { bytes, metafile } = await bundle(resolve(root, 'dist/stelar.min.js'), { write: false });
const min = bytes.length;
const gz = gzipSync(bytes, { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

// Where the minified bytes come from, by source file (largest first).
const out = Object.values(metafile.outputs)[0];
const parts = Object.entries(out.inputs)
  .map(([file, { bytesInOutput }]) => [relative(root, resolve(file)).replace(/^\.\.\//, '@stelar/').replace('/src/', '/'), bytesInOutput])
  .filter(([, n]) => n > 0)
  .sort((a, b) => b[1] - a[1]);

const verdict = gz <= TARGET ? `within the ${kb(TARGET)} target` : `over the ${kb(TARGET)} target: see below`;
const block = [
  '<!-- size:start -->',
  `**\`dist/stelar.min.js\`: ${kb(min)} minified, ${kb(gz)} minified + gzip** (${min} / ${gz} bytes, gzip level 9; ${verdict}).`,
  '',
  '| source | minified bytes |',
  '|---|---:|',
  ...parts.map(([f, n]) => `| \`${f}\` | ${n} |`),
  '<!-- size:end -->',
].join('\n');

const readmePath = resolve(root, 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const next = readme.replace(/<!-- size:start -->[\s\S]*?<!-- size:end -->/, block);
if (process.argv.includes('--check')) {
  if (next !== readme) {
    console.error('README size figure is stale: run node scripts/size.mjs');
    process.exit(1);
  }
} else if (next !== readme) writeFileSync(readmePath, next);
console.log(`stelar.min.js: ${min} B minified, ${gz} B min+gzip (target ${TARGET} B: ${gz <= TARGET ? 'met' : 'NOT met'})`);
