import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../dist/cluster.js', import.meta.url));

interface Report {
  rows: { target: string; kind: string; sharded: boolean; clients: number; deliveriesPerSec: number; redisCpuPerBroadcastUs: number; pacedP99Ms: number; pacedSamples: number; pacedAllSamples: number; errors: number; missed: number }[];
  ratios: { target: string; deliveries: number; p99: number; redisCpu: number; serverCpu: number }[];
  micro: { rows: { nodes: number; mode: string; rate: number; lost: number }[] } | undefined;
}

describe('bench: cluster scenario (smoke)', () => {
  it('real processes and sockets: Stelar WS classic, Stelar TCP sharded and Socket.IO + redis-adapter on one Redis each, then the in-process micro-bench', async () => {
    expect(existsSync(script), 'build apps/bench first (npm test does)').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'stelar-cluster-bench-'));
    try {
      // BENCH_TRACE: the Stelar nodes also report where the paced latency goes (diagnosis).
      const out = await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, [script, '--smoke', '--results', dir, '--readme', 'none'], { timeout: 150_000, env: { ...process.env, BENCH_TRACE: '1' } }, (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
        );
      });
      expect(out.match(/trace: CPU per paced message: node 0 [0-9.]+ ms, node 1 [0-9.]+ ms/g)?.length).toBe(2);
      expect(out.match(/trace: publisher → Redis → node 1 event loop p50 [0-9.]+ /g)?.length).toBe(1); // classic only
      expect(out.match(/trace: publisher → probe on node 1 p50 [0-9.]+ /g)?.length).toBe(2);
      const report = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as Report;
      expect(report.rows.map((r) => `${r.kind}/${r.sharded ? 'sharded' : 'classic'}`)).toEqual(['stelar-ws/classic', 'stelar-tcp/sharded', 'socketio/classic']);
      for (const r of report.rows) {
        expect(r.clients).toBe(20);
        expect(r.deliveriesPerSec, r.target).toBeGreaterThan(0);
        expect(r.redisCpuPerBroadcastUs, r.target).toBeGreaterThan(0);
        expect(r.pacedSamples, r.target).toBeGreaterThan(0);
        // The probe (one client on node 1, a process of its own) got every paced message that
        // each of node 1's 10 load clients got: the same messages, taken on one client only.
        expect(r.pacedAllSamples, r.target).toBe(r.pacedSamples * 10);
        expect(Number.isFinite(r.pacedP99Ms)).toBe(true);
        expect(r.errors, r.target).toBe(0);
        expect(r.missed, r.target).toBe(0);
      }
      expect(report.ratios.map((r) => r.target)).toEqual(['Stelar WS, classic', 'Stelar TCP, sharded']);
      expect(report.micro?.rows.map((r) => `${r.nodes}/${r.mode}`)).toEqual(['1/classic', '3/classic', '3/sharded']);
      for (const r of report.micro!.rows) expect(r.lost).toBe(0);
      // --render rewrites the section from the results: the probe figure, labelled, beside the old one.
      const page = join(dir, 'README.md');
      writeFileSync(page, '# page\n');
      await new Promise<void>((resolve, reject) => {
        execFile(process.execPath, [script, '--render', join(dir, 'cluster.json'), '--readme', page], { timeout: 30_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(),
        );
      });
      const section = readFileSync(page, 'utf8');
      expect(section).toContain('| paced remote p50 / p99 ms (probes) | samples | all load clients p50 / p99 ms |');
      expect(section).toContain('paced p99 (probes): median of runs (each run)');
      expect(section).not.toContain('not shown by this harness');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
