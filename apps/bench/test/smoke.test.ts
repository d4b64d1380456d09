/**
 * Smoke test of the benchmark harness (CI): every scenario against every available server with
 * tiny sizes, then the shape of the results, the SVG and the README block. Real runs are not
 * part of CI (`pnpm bench`).
 *
 * The server and generator entries are bundled from the sources here (Stelar packages from
 * their `src`, like the rest of the test suite), so no prior build is needed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_KINDS, WS_KINDS } from '../src/lib/common';
import { presetConfig } from '../src/lib/config';
import { killAllChildren } from '../src/lib/ipc';
import { writeOutputs } from '../src/lib/output';
import { README_END, README_START } from '../src/lib/report';
import { runSuite, type CellScenario, type Results } from '../src/lib/suite';

const here = dirname(fileURLToPath(import.meta.url));
const app = resolve(here, '..');
const repo = resolve(app, '../..');
// Inside the app's node_modules, so the bundles resolve `ws` and `socket.io` like the app does.
const distDir = join(app, 'node_modules', '.cache', 'bench-smoke');

const stelarFromSource: Plugin = {
  name: 'stelar-from-source',
  setup(b) {
    b.onResolve({ filter: /^@stelar\/[a-z-]+$/ }, (args) => {
      const file = join(repo, 'packages', args.path.slice('@stelar/'.length), 'src', 'index.ts');
      return existsSync(file) ? { path: file } : undefined;
    });
  },
};

let out: string;
let results: Results;
const log: string[] = [];

beforeAll(async () => {
  rmSync(distDir, { recursive: true, force: true });
  await build({
    entryPoints: [join(app, 'src', 'server.ts'), join(app, 'src', 'generator.ts')],
    outdir: distDir,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    logLevel: 'error',
    external: ['ws', 'socket.io', 'socket.io-client', 'uWebSockets.js'],
    plugins: [stelarFromSource],
  });
  out = mkdtempSync(join(os.tmpdir(), 'stelar-bench-smoke-'));
  const cfg = presetConfig('smoke', { distDir, profileDir: join(out, 'profiles'), repoRoot: repo, log: (s) => log.push(s) });
  results = await runSuite(cfg, 'vitest apps/bench/test/smoke.test.ts');
}, 170_000);

afterAll(() => {
  killAllChildren();
  if (out) rmSync(out, { recursive: true, force: true });
  rmSync(distDir, { recursive: true, force: true });
});

describe('benchmark harness (smoke)', () => {
  it('describes the machine and the servers', () => {
    expect(results.schema).toBe('stelar-bench/1');
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.machine.node).toBe(process.version);
    expect(typeof results.machine.cpuModel).toBe('string');
    expect(results.servers.map((s) => s.kind).sort()).toEqual([...SERVER_KINDS].sort());
    for (const s of results.servers) if (s.status === 'skipped') expect(s.note).toMatch(/skipped/);
  });

  it('has a successful measurement for every scenario and every available server', () => {
    const available = results.servers.filter((s) => s.status === 'ok').map((s) => s.kind);
    expect(available).toEqual(expect.arrayContaining(['stelar-ws', 'stelar-tcp', 'ws', 'socketio', 'net']));
    const failures = results.cells.filter((c) => c.runs.some((r) => r === null)).map((c) => `${c.scenario} ${c.server}: ${c.errors.join('; ')}`);
    expect(failures, log.join('\n')).toEqual([]);
    const metric: Record<string, string[]> = {
      echo: ['msgsPerSec', 'serverCpuUsPerMsg', 'serverCpuPct', 'genCpuPct'],
      latency: ['p50Ms', 'p99Ms', 'p999Ms', 'achievedRate'],
      fanout: ['serverCpuUsPerDelivery', 'serverUserUsPerDelivery', 'lastClientMs'],
      connections: ['conns', 'setupPerSec', 'rssPerConn', 'heapPerConn'],
      deflate: ['msgsPerSec', 'serverCpuUsPerMsg', 'wireBytesPerMsg'],
    };
    for (const scenario of ['echo', 'latency', 'fanout', 'connections', 'deflate'] as CellScenario[]) {
      for (const kind of available) {
        if (scenario === 'deflate' && !WS_KINDS.includes(kind)) continue;
        const cells = results.cells.filter((c) => c.scenario === scenario && c.server === kind);
        expect(cells.length, `${scenario} ${kind}`).toBeGreaterThan(0);
        for (const c of cells) for (const m of metric[scenario] ?? []) expect(Number.isFinite(c.median[m]), `${scenario} ${kind} ${m}`).toBe(true);
      }
    }
    // Compression actually happened on the wire.
    for (const kind of available.filter((k) => WS_KINDS.includes(k))) {
      const on = results.cells.find((c) => c.scenario === 'deflate' && c.server === kind && c.params['deflate'] === 'on');
      const off = results.cells.find((c) => c.scenario === 'deflate' && c.server === kind && c.params['deflate'] === 'off');
      expect(on!.median['wireBytesPerMsg']!).toBeLessThan(off!.median['wireBytesPerMsg']! / 2);
    }
  });

  it('computes same-run ratios and the targets', () => {
    expect(results.ratios.length).toBeGreaterThan(0);
    for (const r of results.ratios) {
      expect(r.perRun).toHaveLength(results.config.runs);
      expect(r.median === null || r.median > 0).toBe(true);
    }
    const ids = results.targets.map((t) => t.id);
    expect(ids).toEqual(expect.arrayContaining(['ws-echo', 'tcp-echo-ws', 'tcp-echo-net', 'fan-ws', 'fan-uws', 'p99', 'mem-stelar-ws', 'mem-stelar-tcp']));
    for (const t of results.targets) {
      if (t.measured === null) expect(t.met).toBeNull();
      else expect(typeof t.met).toBe('boolean');
    }
  });

  it('measures the browser bundles, summarises a CPU profile and a heap diff', () => {
    expect(results.bundle?.entries.map((e) => e.name)).toEqual(['@stelar/client-browser', 'socket.io-client']);
    const sio = results.bundle!.entries[1]!;
    expect(sio.gzipBytes).toBeGreaterThan(1000);
    expect(results.profiles).toHaveLength(1);
    const p = results.profiles[0]!;
    expect(p.top.length).toBeGreaterThan(0);
    expect(p.areas.some((a) => a.area.startsWith('@stelar/'))).toBe(true);
    expect(results.heaps).toHaveLength(1);
    expect(results.heaps[0]!.bytesPerConn).toBeGreaterThan(0);
    expect(results.heaps[0]!.top.length).toBeGreaterThan(0);
  });

  it('writes the JSON, the SVG chart and the README block', () => {
    const readme = join(out, 'README.md');
    const w = writeOutputs(results, join(out, 'results'), readme);
    const json = JSON.parse(readFileSync(w.latest, 'utf8')) as Results;
    expect(json.cells).toHaveLength(results.cells.length);
    const svg = readFileSync(w.svg, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    const text = readFileSync(readme, 'utf8');
    expect(text).toContain(README_START);
    expect(text).toContain(README_END);
    expect(text).toContain('### Echo throughput');
    // A second write replaces the block and keeps the text around it.
    writeOutputs(results, join(out, 'results'), readme);
    expect(readFileSync(readme, 'utf8').split(README_START)).toHaveLength(2);
  });
});
