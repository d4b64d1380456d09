import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));

describe('apps/cluster demo', () => {
  it('three processes on one Redis: everyone in the room hears everyone once', async () => {
    expect(existsSync(main), 'build apps/cluster first (npm test does)').toBe(true);
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [main], { timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout)));
    });
    expect(out).toContain('OK: one room across three processes');
    expect(out).toMatch(/bob heard:\n(.*\n){3}/);
    // Addressing one connection on another node: a private line, and a request a client answers.
    expect(out).toMatch(/cy heard:\n(.*\n){3}  \(private\) ada: psst/);
    expect(out).toContain('bob, asked from alpha: bob answers "the answer?" with 42');
  }, 40_000);
});
