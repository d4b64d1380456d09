/** Bundles a scenario (TypeScript, Stelar packages from their sources) and runs it in a child process. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { sourceAliases } from '../../../scripts/source-aliases.mjs';

const alias = Object.fromEntries(sourceAliases());

export interface ScenarioRun {
  stdout: string;
  stderr: string;
  /** Exit code, or the signal that ended it (the parent kills it after `timeout`). */
  exit: number | string | null;
  killed: boolean;
  ms: number;
}

/** Bundles `scenarios/<name>.ts` into a temporary directory; `cleanup` removes it. */
export async function bundleScenario(name: string): Promise<{ file: string; cleanup(): void }> {
  const entry = fileURLToPath(new URL(`./scenarios/${name}.ts`, import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'stelar-scenario-'));
  const file = join(dir, `${name}.mjs`);
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
      // Node's own modules stay imports; everything else (the packages) is bundled.
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

export async function runScenario(name: string, options: { timeout?: number; maxOldSpaceMb?: number } = {}): Promise<ScenarioRun> {
  const { file: out, cleanup } = await bundleScenario(name);
  try {
    const t0 = Date.now();
    return await new Promise<ScenarioRun>((resolve) => {
      const child = execFile(
        process.execPath,
        [`--max-old-space-size=${options.maxOldSpaceMb ?? 256}`, out],
        { timeout: options.timeout ?? 10_000, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 },
        (err, stdout, stderr) => {
          resolve({
            stdout,
            stderr,
            exit: child.exitCode ?? child.signalCode,
            killed: err !== null && (err as { killed?: boolean }).killed === true,
            ms: Date.now() - t0,
          });
        },
      );
    });
  } finally {
    cleanup();
  }
}
