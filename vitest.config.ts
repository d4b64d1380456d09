import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';
import { readdirSync, existsSync } from 'node:fs';

// Tests import workspace packages from their sources, so a change is tested without a rebuild.
const root = fileURLToPath(new URL('.', import.meta.url));
const alias = readdirSync(`${root}packages`)
  .filter((d) => existsSync(`${root}packages/${d}/src/index.ts`))
  .map((d) => ({ find: new RegExp(`^@stelar/${d}$`), replacement: `${root}packages/${d}/src/index.ts` }));

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
