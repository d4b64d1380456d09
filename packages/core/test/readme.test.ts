/** The README's runnable example runs as written (its imports resolve to the entry points it names). */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

describe('README', () => {
  it('the runnable example prints the reply of its request (5)', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Runnable example'));
    const code = /```ts\n([\s\S]*?)```/.exec(section)![1]!;
    expect(code).toContain("from '@stelar/core/client'");
    const dir = mkdtempSync(join(tmpdir(), 'stelar-readme-'));
    const file = join(dir, 'example.ts');
    writeFileSync(file, `${code}\nexport {};\n`);
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await import(/* @vite-ignore */ file);
      expect(log.mock.calls).toEqual([[5]]);
    } finally {
      log.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('"Inside core" names every source module, and none is over 400 lines', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const inside = readme.slice(readme.indexOf('## Inside core'));
    const named = new Set([...inside.matchAll(/`((?:client\/)?[a-z-]+\.ts)`/g)].map((m) => m[1]!));
    const src = new URL('../src/', import.meta.url);
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.replaceAll('\\', '/'));
    const entries = ['index.ts', 'internal.ts', 'client/index.ts'];
    const modules = files.filter((f) => !entries.includes(f));
    // A module of client/ may be named without its folder inside the client table.
    const missing = modules.filter((f) => !named.has(f) && !named.has(f.replace(/^client\//, '')));
    expect(missing).toEqual([]);
    const long = files.map((f) => [f, readFileSync(new URL(f, src), 'utf8').split('\n').length] as const).filter(([, n]) => n > 400);
    expect(long).toEqual([]);
  });
});
