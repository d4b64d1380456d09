import { defineConfig, type Options } from 'tsup';
import { packageConfig } from '../../tsup.package';

// Three entries (`@stelar/core`, `/client`, `/internal`) sharing chunks in both formats, so a
// class such as StelarError is one class whichever entry it is imported from.
export default defineConfig({
  ...(packageConfig('neutral') as Options),
  entry: { index: 'src/index.ts', client: 'src/client/index.ts', internal: 'src/internal.ts' },
  splitting: true,
});
