import { defineConfig } from 'vitest/config';
import { sourceAliases } from './scripts/source-aliases.mjs';

// Tests import workspace packages from their sources (subpath exports included), so a change is
// tested without a rebuild.
const alias = sourceAliases().map(([specifier, file]) => ({ find: new RegExp(`^${specifier}$`), replacement: file }));

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'docs/test/**/*.test.ts', 'scripts/test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
