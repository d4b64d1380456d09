import { defineConfig } from 'tsup';
import { sourceAliases } from '../../scripts/source-aliases.mjs';

// The conformance app bundles the Stelar packages from their sources (as vitest resolves them),
// so a run tests exactly the code in the tree and does not depend on the packages' dist.
const alias = Object.fromEntries(sourceAliases());

export default defineConfig({
  entry: ['src/*.ts'],
  format: ['esm'],
  sourcemap: true,
  clean: true,
  platform: 'node',
  target: 'node20',
  noExternal: [/^@stelar\//],
  esbuildOptions(options) {
    options.alias = { ...options.alias, ...alias };
  },
});
