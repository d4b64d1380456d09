/** Bundles a scenario (TypeScript, Stelar packages from their sources) and runs it in a child process. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { bundleSources } from '@stelar/test-utils';

export interface ScenarioRun {
  stdout: string;
  stderr: string;
  /** Exit code, or the signal that ended it (the parent kills it after `timeout`). */
  exit: number | string | null;
  killed: boolean;
  ms: number;
}

/** Bundles `scenarios/<name>.ts` into a temporary directory; `cleanup` removes it. */
export function bundleScenario(name: string): Promise<{ file: string; cleanup(): void }> {
  return bundleSources(fileURLToPath(new URL(`./scenarios/${name}.ts`, import.meta.url)));
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
