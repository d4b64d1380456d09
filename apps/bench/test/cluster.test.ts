import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../dist/cluster.js', import.meta.url));

describe('bench: cluster scenario (smoke)', () => {
  it('measures cross-node fan-out with 1 and 3 nodes over a real Redis and writes its JSON', async () => {
    expect(existsSync(script), 'build apps/bench first (npm test does)').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'stelar-cluster-bench-'));
    try {
      await new Promise<void>((resolve, reject) => {
        execFile(process.execPath, [script, '--smoke', '--results', dir, '--readme', 'none'], { timeout: 90_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(),
        );
      });
      const report = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as { rows: { nodes: number; mode: string; rate: number; p99: number; lost: number }[] };
      expect(report.rows.map((r) => `${r.nodes}/${r.mode}`)).toEqual(['1/classic', '3/classic', '3/sharded']);
      for (const r of report.rows) {
        expect(r.rate).toBeGreaterThan(0);
        expect(r.lost).toBe(0);
        expect(Number.isFinite(r.p99)).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
