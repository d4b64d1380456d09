/**
 * The test suite must be able to fail: no test may skip itself, and the summary CI reads
 * (`scripts/test-summary.mjs`) must count skipped tests and fail on them. The summary is checked
 * against reports written by the real vitest, so a change of its JSON format shows here.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repo = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const SUMMARY = join(repo, 'scripts', 'test-summary.mjs');
const VITEST = join(repo, 'node_modules', 'vitest', 'vitest.mjs');
const self = fileURLToPath(import.meta.url);

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd, timeout: 60_000, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

function testFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) testFiles(path, out);
    else if (/\.(ts|tsx|js|mjs)$/.test(name)) out.push(path);
  }
  return out;
}

describe('suite honesty', { timeout: 60_000 }, () => {
  it('no test file under packages/ or apps/ skips, filters or defers a test', () => {
    const roots = ['packages', 'apps'].flatMap((top) =>
      readdirSync(join(repo, top))
        .map((d) => join(repo, top, d, 'test'))
        .filter((d) => {
          try {
            return statSync(d).isDirectory();
          } catch {
            return false;
          }
        }),
    );
    const files = roots.flatMap((r) => testFiles(r)).filter((f) => f !== self);
    expect(files.length).toBeGreaterThan(30);
    // it.skip / describe.skipIf / test.runIf / it.todo / it.only, ctx.skip(), { skip: true }.
    const patterns = [
      /\b(?:it|test|describe|suite)\s*\.\s*(?:skip|skipIf|runIf|todo|only)\b/,
      /\.\s*skip\s*\(/,
      /[{,]\s*(?:skip|todo|only)\s*:\s*(?:true|!)/,
    ];
    const found: string[] = [];
    for (const f of files) {
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (patterns.some((p) => p.test(line))) found.push(`${relative(repo, f)}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(found).toEqual([]);
  });

  describe('scripts/test-summary.mjs on reports written by vitest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stelar-summary-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    async function summarize(files: Record<string, string>): Promise<{ code: number; lines: string[] }> {
      const sub = mkdtempSync(join(dir, 'run-'));
      writeFileSync(join(sub, 'vitest.config.mjs'), 'export default { test: { include: ["*.check.mjs"], pool: "forks" } };\n');
      for (const [name, text] of Object.entries(files)) writeFileSync(join(sub, name), text);
      const report = join(sub, 'report.json');
      await run(process.execPath, [VITEST, 'run', '--root', sub, '--reporter=json', `--outputFile.json=${report}`], sub);
      const r = await run(process.execPath, [SUMMARY, report], sub);
      return { code: r.code, lines: r.stdout.trim().split('\n') };
    }

    const header = "import { afterAll, describe, expect, it } from 'vitest';\n";

    it('all passing: exit 0 and "N passed, 0 failed, 0 skipped"', async () => {
      const r = await summarize({ 'a.check.mjs': `${header}it('one', () => expect(1).toBe(1));\nit('two', () => {});\n` });
      expect(r.lines.at(-1)).toBe('2 passed, 0 failed, 0 skipped');
      expect(r.code).toBe(0);
    });

    it('skipped, todo and ctx.skip() tests are counted as skipped and fail the run', async () => {
      // (The scan above leaves this file out.)
      const r = await summarize({
        'a.check.mjs':
          `${header}it('runs', () => {});\nit.skip('skipped', () => {});\nit.todo('later');\n` +
          `describe.skipIf(true)('missing program', () => { it('inner', () => {}); });\n` +
          `it('skips itself', (ctx) => { ctx.skip(); });\n`,
      });
      expect(r.lines.at(-1)).toBe('1 passed, 0 failed, 4 skipped');
      expect(r.lines.filter((l) => l.startsWith('not run'))).toHaveLength(4);
      expect(r.code).toBe(1);
    });

    it('a failing test, a file that does not load and a failing hook are failures', async () => {
      const r = await summarize({
        'a.check.mjs': `${header}it('fails', () => expect(1).toBe(2));\nit('passes', () => {});\n`,
        'b.check.mjs': `${header}import './does-not-exist.mjs';\nit('never', () => {});\n`,
        'c.check.mjs': `${header}it('ok', () => {});\nafterAll(() => { throw new Error('hook'); });\n`,
      });
      expect(r.lines.at(-1)).toBe('2 passed, 3 failed, 0 skipped');
      expect(r.code).toBe(1);
    });

    it('no report, or a report without tests, fails', async () => {
      const missing = await run(process.execPath, [SUMMARY, join(dir, 'nothing.json')], dir);
      expect(missing.stdout.trim()).toBe('0 passed, 1 failed, 0 skipped (no test report written)');
      expect(missing.code).toBe(1);
      const empty = join(dir, 'empty.json');
      writeFileSync(empty, JSON.stringify({ numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0, testResults: [] }));
      const none = await run(process.execPath, [SUMMARY, empty], dir);
      expect(none.stdout.trim().split('\n').at(-1)).toBe('0 passed, 1 failed, 0 skipped');
      expect(none.code).toBe(1);
    });
  });
});
