import { defineConfig, type Options } from 'tsup';

/**
 * The build every published package shares: ESM + CJS + .d.ts from src/index.ts, tree-shaken.
 * `platform` is where the code runs: `node`, `neutral` (no Node module: codec-tcp, core) or
 * `browser`.
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
    target: platform === 'node' ? 'node20' : 'es2020',
  }) as Options | Options[];
}
