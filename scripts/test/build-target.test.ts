// What the shared package build (tsup.package.ts) emits for: platform-neutral packages are ES2022
// (class fields as class fields, no helper call per field per construction), which the READMEs of
// those packages state; the browser client keeps its own ES2020 target (its size budget).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Options } from 'tsup';
import { describe, expect, it } from 'vitest';
import { packageConfig } from '../../tsup.package';

const root = fileURLToPath(new URL('../..', import.meta.url));
const target = (platform: 'node' | 'neutral' | 'browser'): unknown => (packageConfig(platform) as Options).target;

describe('tsup.package.ts', () => {
  it('neutral packages build for ES2022, node ones for Node 20, the browser client for ES2020', () => {
    expect(target('neutral')).toBe('es2022');
    expect(target('node')).toBe('node20');
    expect(target('browser')).toBe('es2020');
  });

  it('the neutral packages say so in their READMEs', () => {
    for (const p of ['core', 'codec-tcp', 'cluster']) {
      const tsup = readFileSync(join(root, 'packages', p, 'tsup.config.ts'), 'utf8');
      expect(tsup, p).toContain("packageConfig('neutral')");
      expect(readFileSync(join(root, 'packages', p, 'README.md'), 'utf8'), p).toMatch(/ES2022 \(Node 20\.10 or later,\s+every evergreen browser\)/);
    }
  });
});
