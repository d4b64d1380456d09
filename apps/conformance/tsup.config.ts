import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'tsup';

// The conformance app bundles the Stelar packages from their sources (as vitest resolves them),
// so a run tests exactly the code in the tree and does not depend on the packages' dist.
const packages = fileURLToPath(new URL('../../packages/', import.meta.url));
const alias = Object.fromEntries(
  readdirSync(packages)
    .filter((d) => existsSync(`${packages}${d}/src/index.ts`))
    .map((d) => [`@stelar/${d}`, `${packages}${d}/src/index.ts`]),
);

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
