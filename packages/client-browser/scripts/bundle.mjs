#!/usr/bin/env node
// Builds the single-file minified IIFE for a <script> tag: dist/stelar.min.js, global `Stelar`
// (src/global.ts assigns it). esbuild bundles and minifies; oxc's minifier (rolldown's, the one
// vite uses) then minifies esbuild's output once more: its names and folds save about 3% of the
// gzip size over esbuild's alone (README, Size).
// Usage: node scripts/bundle.mjs [--outfile path] [--entry file]
//
// Inside the monorepo, @stelar/* imports resolve to the workspace sources (so the bundle always
// matches the code, built or not); elsewhere they resolve as published packages.
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { minify } from 'rolldown/utils';

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
 * Bundles `entry` (default src/global.ts) to `outfile` (default dist/stelar.min.js, written unless
 * `write: false`); resolves with the output bytes, esbuild's metafile (its byte counts are
 * esbuild's output, before the second minifier) and the size of esbuild's output alone.
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
    write: false,
    logLevel: 'warning',
    plugins: [workspaceSources],
    // The repository's tsconfig (strict) would start the file with "use strict": every function
    // that keeps state is inside the client's class body, which is strict code anyway, and the
    // codec's helpers do nothing sloppy mode changes. (tsconfigRaw replaces the tsconfig here,
    // so the two settings esbuild reads that matter are given again.)
    tsconfigRaw: { compilerOptions: { alwaysStrict: false, useDefineForClassFields: true, verbatimModuleSyntax: true } },
  });
  const esbuilt = result.outputFiles[0].contents;
  const min = await minify('stelar.min.js', new TextDecoder().decode(esbuilt), { compress: { target: 'es2022' }, mangle: true, codegen: { removeWhitespace: true } });
  if (min.errors.length) throw new Error(`minify: ${min.errors.map((e) => e.message).join('; ')}`);
  const bytes = new TextEncoder().encode(min.code);
  if (write) writeFileSync(outfile, bytes);
  return { bytes, metafile: result.metafile, esbuilt };
}

/**
 * The package's exports that the <script> global leaves out, for bundlers only: the code tables
 * (strings and numbers a page can write itself) and core's Dialer (of no use without core's
 * engine, which the bundle does not carry). src/global.ts assigns the rest; test/api.test.ts
 * checks both lists.
 */
export const BUNDLER_ONLY = ['DisconnectCode', 'ErrorCode', 'dialWebSocket'];

/**
 * Types of \`@stelar/client-browser/stelar.min.js\`: the global the bundle defines, for ESM and
 * CommonJS resolution (the same script is also dist/stelar.min.cjs, so \`require.resolve\` finds a
 * file Node classifies as CommonJS).
 */
export const types = (index) => `// The <script> bundle defines the global \`Stelar\`: the package's exports but ${BUNDLER_ONLY.join(', ')}.
import type * as api from './${index}';

declare global {
  /** \`@stelar/client-browser\`'s exports (but ${BUNDLER_ONLY.join(', ')}), defined by \`<script src=".../stelar.min.js">\`. */
  var Stelar: Omit<typeof api, ${BUNDLER_ONLY.map((n) => `'${n}'`).join(' | ')}>;
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
