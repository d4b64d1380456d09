#!/usr/bin/env node
// Builds the single-file minified IIFE for a <script> tag: dist/stelar.min.js, global `Stelar`
// (src/global.ts assigns it).
// Usage: node scripts/bundle.mjs [--outfile path] [--entry file]
//
// Inside the monorepo, @stelar/* imports resolve to the workspace sources (so the bundle always
// matches the code, built or not); elsewhere they resolve as published packages.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** @type {import('esbuild').Plugin} */
const workspaceSources = {
  name: 'stelar-workspace-sources',
  setup(b) {
    b.onResolve({ filter: /^@stelar\/[\w-]+$/ }, (args) => {
      const src = resolve(root, '..', args.path.slice('@stelar/'.length), 'src/index.ts');
      return existsSync(src) ? { path: src } : undefined;
    });
  },
};

/**
 * Bundles `entry` (default src/global.ts) to `outfile` (default dist/stelar.min.js); resolves
 * with the output bytes and esbuild's metafile.
 */
export async function bundle(outfile = resolve(root, 'dist/stelar.min.js'), { write = true, entry = resolve(root, 'src/global.ts') } = {}) {
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    legalComments: 'none',
    charset: 'utf8',
    sourcemap: false,
    metafile: true,
    write,
    logLevel: 'warning',
    plugins: [workspaceSources],
  });
  return { bytes: result.outputFiles?.[0]?.contents, metafile: result.metafile };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--outfile');
  const out = i > 0 && process.argv[i + 1] ? resolve(process.argv[i + 1]) : undefined;
  const e = process.argv.indexOf('--entry');
  await bundle(out, e > 0 && process.argv[e + 1] ? { entry: resolve(process.argv[e + 1]) } : {});
}
