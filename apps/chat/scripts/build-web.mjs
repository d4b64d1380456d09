#!/usr/bin/env node
// Builds the chat page: src/web/app.ts → <outdir>/app.js (esbuild, minified, one file), and copies
// index.html and style.css. The client itself is served from @stelar/client-browser's bundle.
// Usage: node scripts/build-web.mjs [--outdir dist/web]
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildWeb(outdir = join(root, 'dist/web')) {
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: [join(root, 'src/web/app.ts')],
    outfile: join(outdir, 'app.js'),
    bundle: true,
    minify: true,
    sourcemap: 'linked',
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'warning',
  });
  for (const f of ['index.html', 'style.css']) copyFileSync(join(root, 'src/web', f), join(outdir, f));
  return outdir;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--outdir');
  await buildWeb(i > 0 && process.argv[i + 1] ? resolve(process.argv[i + 1]) : undefined);
}
