#!/usr/bin/env node
// Builds the single-file minified IIFE for a <script> tag: dist/stelar.min.js, global `Stelar`.
// Usage: node scripts/bundle.mjs [--outfile path]
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
    // `@stelar/<pkg>` and its subpath exports (`@stelar/core/client`: src/client.ts or src/client/index.ts).
    b.onResolve({ filter: /^@stelar\/[\w-]+(\/[\w-]+)?$/ }, (args) => {
      const [pkg, sub] = args.path.slice('@stelar/'.length).split('/');
      const src = (sub ? [`src/${sub}.ts`, `src/${sub}/index.ts`] : ['src/index.ts']).map((f) => resolve(root, '..', pkg, f)).find((f) => existsSync(f));
      return src ? { path: src } : undefined;
    });
  },
};

/** Bundles to `outfile` (default dist/stelar.min.js); resolves with the output bytes. */
export async function bundle(outfile = resolve(root, 'dist/stelar.min.js'), { write = true } = {}) {
  const result = await build({
    entryPoints: [resolve(root, 'src/index.ts')],
    outfile,
    bundle: true,
    minify: true,
    format: 'iife',
    globalName: 'Stelar',
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
  await bundle(out);
}
