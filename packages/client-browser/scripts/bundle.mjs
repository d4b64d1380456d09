#!/usr/bin/env node
// Builds the single-file minified IIFE for a <script> tag: dist/stelar.min.js, global `Stelar`
// (src/global.ts assigns it).
// Usage: node scripts/bundle.mjs [--outfile path] [--entry file]
//
// Inside the monorepo, @stelar/* imports resolve to the workspace sources (so the bundle always
// matches the code, built or not); elsewhere they resolve as published packages.
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
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

/**
 * Types of \`@stelar/client-browser/stelar.min.js\`: the global the bundle defines, for ESM and
 * CommonJS resolution (the same script is also dist/stelar.min.cjs, so \`require.resolve\` finds a
 * file Node classifies as CommonJS).
 */
export const types = (index) => `// The <script> bundle defines the global \`Stelar\`: the package's exports.
import type * as api from './${index}';

declare global {
  /** \`@stelar/client-browser\`'s exports, defined by \`<script src=".../stelar.min.js">\`. */
  var Stelar: typeof api;
}

export {};
`;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--outfile');
  const out = i > 0 && process.argv[i + 1] ? resolve(process.argv[i + 1]) : undefined;
  const e = process.argv.indexOf('--entry');
  await bundle(out, e > 0 && process.argv[e + 1] ? { entry: resolve(process.argv[e + 1]) } : {});
  // The package's own build (no --outfile) also writes the CommonJS twin and the types.
  if (!out) {
    copyFileSync(resolve(root, 'dist/stelar.min.js'), resolve(root, 'dist/stelar.min.cjs'));
    writeFileSync(resolve(root, 'dist/stelar.min.d.ts'), types('index.js'));
    writeFileSync(resolve(root, 'dist/stelar.min.d.cts'), types('index.cjs'));
  }
}
