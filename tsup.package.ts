import { defineConfig, type Options } from 'tsup';

/**
 * The build every published package shares: ESM + CJS + .d.ts from src/index.ts, tree-shaken.
 * `platform` is where the code runs: `node`, `neutral` (no Node module: codec-tcp, core, cluster)
 * or `browser`. Neutral packages are ES2022 (Node 20 and every evergreen browser run it as is):
 * class fields stay class fields instead of a helper call per field per construction. The
 * browser client keeps ES2020 output (its own size budget is measured on that).
 */
export function packageConfig(platform: 'node' | 'neutral' | 'browser'): Options | Options[] {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    treeshake: true,
    platform,
    target: platform === 'node' ? 'node20' : platform === 'neutral' ? 'es2022' : 'es2020',
  }) as Options | Options[];
}
