#!/usr/bin/env node
// Builds the single-file minified IIFE for a <script> tag: dist/stelar.min.js, global `Stelar`
// (src/global.ts assigns it). esbuild bundles and minifies; oxc's minifier (rolldown's, the one
// vite uses) then minifies esbuild's output once more: its names and folds save about 3% of the
// gzip size over esbuild's alone (README, Size).
//
// Two files: dist/stelar.min.js has issue 14's set (events, requests, rooms, reconnection with
// backoff, offline queue, heartbeats) and is held to 4096 bytes min+gzip; dist/stelar.full.min.js
// has every feature of the package (src/features.ts lists the others). Both from the same
// sources: the small one is built with src/features.ts replaced by one whose switches are false,
// and esbuild drops the code behind them (what it keeps, top-level helpers that only such code
// calls, like BINARY's in src/wire.ts, oxc's pass drops).
// Usage: node scripts/bundle.mjs [--outfile path] [--entry file] [--full | --features A,B]
//
// Inside the monorepo, @stelar/* imports resolve to the workspace sources (so the bundle always
// matches the code, built or not); elsewhere they resolve as published packages.
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { minify } from 'rolldown/utils';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The switches of src/features.ts (each `true` in the package's ESM/CJS builds). */
export const FEATURES = ['RECOVERY', 'ATTEMPTS', 'COUNTERS', 'LOGGER', 'BINARY'];

/** The two <script> files: their names and the features each has. */
export const FILES = {
  min: { file: 'stelar.min.js', features: [] },
  full: { file: 'stelar.full.min.js', features: FEATURES },
};

/** src/features.ts with only `on` switched on. */
const featureSwitches = (on) => ({
  name: 'stelar-features',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/]features\.ts$/ }, () => ({ loader: 'ts', contents: FEATURES.map((f) => `export const ${f} = ${on.includes(f)};`).join('\n') }));
  },
});

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
export async function bundle(outfile = resolve(root, 'dist/stelar.min.js'), { write = true, entry = resolve(root, 'src/global.ts'), features = [] } = {}) {
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
    plugins: [workspaceSources, featureSwitches(features)],
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
export const types = (index, file = FILES.min.file) => `// The <script> bundle defines the global \`Stelar\`: the package's exports but ${BUNDLER_ONLY.join(', ')}${file === FILES.min.file ? ", with the client of issue 14's set (MinGlobal)" : ''}.
import type ${file === FILES.min.file ? '{ MinGlobal }' : '* as api'} from './${index}';

declare global {
  /** \`@stelar/client-browser\`'s exports (but ${BUNDLER_ONLY.join(', ')}), defined by \`<script src=".../${file}">\`. */
  var Stelar: ${file === FILES.min.file ? 'MinGlobal' : `Omit<typeof api, ${BUNDLER_ONLY.map((n) => `'${n}'`).join(' | ')}>`};
}

export {};
`;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--outfile');
  const out = i > 0 && process.argv[i + 1] ? resolve(process.argv[i + 1]) : undefined;
  const e = process.argv.indexOf('--entry');
  const f = process.argv.indexOf('--features');
  const features = process.argv.includes('--full') ? FEATURES : f > 0 ? (process.argv[f + 1] ?? '').split(',').filter(Boolean) : [];
  const entry = e > 0 && process.argv[e + 1] ? { entry: resolve(process.argv[e + 1]) } : {};
  if (out) await bundle(out, { ...entry, features });
  else {
    // The package's own build: both files, each with its CommonJS twin and its types.
    for (const { file, features } of Object.values(FILES)) {
      const js = resolve(root, 'dist', file);
      await bundle(js, { features });
      const base = js.slice(0, -'.js'.length);
      copyFileSync(js, `${base}.cjs`);
      writeFileSync(`${base}.d.ts`, types('index.js', file));
      writeFileSync(`${base}.d.cts`, types('index.cjs', file));
    }
  }
}
