import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { build } from 'esbuild';
import { sourceAliases } from '../../../scripts/source-aliases.mjs';

const alias = Object.fromEntries(sourceAliases());

/**
 * Bundles the TypeScript program `entry` for Node (ESM), with the workspace packages taken from
 * their sources, into a temporary directory, so a test can run it in a child process without a
 * build. Node's own modules stay imports; everything else is bundled. `cleanup` removes the file.
 */
export async function bundleSources(entry: string): Promise<{ file: string; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'stelar-bundle-'));
  const file = join(dir, `${basename(entry).replace(/\.[cm]?ts$/, '')}.mjs`);
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      write: false,
      alias,
      logLevel: 'error',
      packages: 'bundle',
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
    writeFileSync(file, result.outputFiles[0]!.contents);
  } catch (err) {
    cleanup();
    throw err;
  }
  return { file, cleanup };
}
