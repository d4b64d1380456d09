/** The README's runnable example: the file is what the README shows, and it prints what the README says. */
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';

const read = (path: string): string => readFileSync(new URL(path, import.meta.url), 'utf8');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('README example', () => {
  it('examples/in-memory.mjs is in the README, runs, and prints the output shown there', async () => {
    const readme = read('../README.md');
    const example = read('../examples/in-memory.mjs');
    const code = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(code).toBe(example);
    const shown = /```\n\$ node examples\/in-memory\.mjs\n([\s\S]*?)```/.exec(readme)?.[1]?.trim().split('\n');
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
    const script: string = '../examples/in-memory.mjs'; // (a script: no types to check)
    await import(/* @vite-ignore */ script);
    expect(lines).toEqual(shown);
  });

  it('the package stays platform-neutral: no Node module, no Node global, and @stelar/core (with its codec) its only dependencies', () => {
    const pkg = JSON.parse(read('../package.json')) as { dependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies)).toEqual(['@stelar/codec-tcp', '@stelar/core']);
    for (const f of readdirSync(new URL('../src/', import.meta.url))) {
      const text = read(`../src/${f}`);
      const imports = [...text.matchAll(/\bfrom '([^']+)'|\bimport\('([^']+)'\)/g)].map((m) => m[1] ?? m[2]);
      const allowed = ['@stelar/core', '@stelar/core/internal', '@stelar/codec-tcp'];
      expect(imports.filter((i) => !i!.startsWith('./') && !allowed.includes(i!)), f).toEqual([]);
      expect(text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ''), f).not.toMatch(/\b(Buffer|require|__dirname)\b|\bprocess\.|\bsetImmediate\(/);
    }
  });
});
