/**
 * Smoke test of the benchmark harness (CI): every cell against every available server taking part
 * in it, with tiny sizes and one round, then the shape of the results, the SVG and the README
 * block. Real runs are not part of CI (`npm run bench`).
 *
 * The server and generator entries are bundled from the sources here (Stelar packages from
 * their `src`, like the rest of the test suite), so no prior build is needed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceAliases } from '../../../scripts/source-aliases.mjs';
import { SERVER_KINDS, type ServerKind } from '../src/lib/common';
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
    const sources = new Map(sourceAliases());
    b.onResolve({ filter: /^@stelar\// }, (args) => {
      const file = sources.get(args.path);
      return file ? { path: file } : undefined;
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
    external: ['ws', 'socket.io', 'socket.io-client', 'uWebSockets.js', 'bufferutil'],
    plugins: [stelarFromSource],
  });
  out = mkdtempSync(join(os.tmpdir(), 'stelar-bench-smoke-'));
  const cfg = presetConfig('smoke', { distDir, profileDir: join(out, 'profiles'), repoRoot: repo, log: (s) => log.push(s) });
  results = await runSuite(cfg, 'vitest apps/bench/test/smoke.test.ts');
}, 120_000);

afterAll(() => {
  killAllChildren();
  if (out) rmSync(out, { recursive: true, force: true });
  rmSync(distDir, { recursive: true, force: true });
});

const TARGET_IDS = ['oif-ws', 'oif-tcp', 'oif-tcp-net', 'fan-ws', 'fan1-ws', 'fan-uws', 'mem-ws', 'mem-tcp', 'setup-ws', 'rtt-ws', 'large-ws', 'pipe-tcp-net', 'recovery-ws', 'recovery-tcp', 'absent-ws'];

describe('benchmark harness (smoke)', () => {
  it('describes the machine, the load, the pinning and the servers', () => {
    expect(results.schema).toBe('stelar-bench/2');
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.machine.node).toBe(process.version);
    expect(results.load.samples).toBeGreaterThanOrEqual(2);
    expect(results.load.min).toBeLessThanOrEqual(results.load.max);
    // taskset is installed on this machine (and on CI): servers and generators on separate cores.
    if (results.machine.cores >= 2) expect(results.pinning).toEqual({ server: '0', load: expect.stringMatching(/^1/) });
    expect(results.servers.map((s) => s.kind).sort()).toEqual([...SERVER_KINDS].sort());
    for (const s of results.servers) if (s.status === 'skipped') expect(s.note).toMatch(/skipped/);
    expect(results.versions['ws']).toMatch(/^8\./);
    expect(results.versions['bufferutil']).toMatch(/^\d/);
  });

  it('has a successful measurement for every cell and every server taking part', () => {
    const available = results.servers.filter((s) => s.status === 'ok').map((s) => s.kind);
    expect(available).toEqual(expect.arrayContaining(['stelar-ws', 'stelar-tcp', 'stelar-tls', 'ws', 'ws-bu', 'ws-frame', 'socketio', 'net']));
    const failures = results.cells.filter((c) => c.runs.some((r) => r === null)).map((c) => `${c.scenario} ${c.server} ${JSON.stringify(c.params)}: ${c.errors.join('; ')}`);
    expect(failures, log.join('\n')).toEqual([]);
    const metric: Record<CellScenario, string[]> = {
      echo: ['msgsPerSec', 'serverCpuUsPerMsg', 'serverUserUsPerMsg', 'serverCpuPct', 'genCpuPct', 'loadAvg1'],
      rtt: ['p50Us', 'p99Us', 'p999Us', 'roundTripsPerSec', 'serverCpuUsPerMsg'],
      fanout: ['serverCpuUsPerDelivery', 'serverUserUsPerDelivery', 'deliveriesPerSec', 'burstMs', 'broadcasts'],
      connections: ['setupPerSec', 'opened', 'serverCpuUsPerSetup', 'serverCpuPctOfSetup', 'rssPerConn', 'rssFilePerConn', 'v8PhysicalPerConn', 'heapPerConn', 'heapTotalPerConn', 'arrayBuffersPerConn'],
      deflate: ['msgsPerSec', 'serverCpuUsPerMsg', 'wireBytesPerMsg'],
      recovery: ['loadAvg1'],
    };
    const cfg = results.config;
    const expected: { scenario: CellScenario; servers: ServerKind[]; count: number }[] = [
      ...cfg.echo.map((e) => ({ scenario: 'echo' as const, servers: e.servers, count: 1 })),
      { scenario: 'rtt', servers: cfg.rtt.servers, count: 1 },
      // Bursts and one broadcast per turn, for every room size.
      { scenario: 'fanout', servers: cfg.fanout.servers, count: cfg.fanout.clients.length * 2 },
      { scenario: 'connections', servers: cfg.connections.servers, count: 1 },
      { scenario: 'deflate', servers: cfg.deflate.servers, count: 2 },
      { scenario: 'recovery', servers: cfg.recovery.servers, count: 3 },
    ];
    for (const x of expected) {
      for (const kind of x.servers.filter((k) => available.includes(k))) {
        const cells = results.cells.filter((c) => c.scenario === x.scenario && c.server === kind);
        expect(cells.length, `${x.scenario} ${kind}`).toBeGreaterThanOrEqual(x.count);
        for (const c of cells) for (const m of metric[x.scenario]) expect(Number.isFinite(c.median[m]), `${x.scenario} ${kind} ${m}`).toBe(true);
      }
    }
    // Every echo shape of the issue: one in flight (many connections), 1 MiB-class, pipelined.
    expect(cfg.echo.map((e) => e.shape)).toEqual(expect.arrayContaining(['oif', 'large']));
    expect(cfg.echo.some((e) => e.table === 'pipelined')).toBe(true);
    // The fan-out really did at least minBroadcasts broadcasts, and the bursts were counted whole.
    for (const c of results.cells.filter((x) => x.scenario === 'fanout')) {
      expect(c.median['broadcasts']).toBeGreaterThanOrEqual(cfg.fanout.minBroadcasts);
      expect(c.median['broadcasts']! % Number(c.params['burst'])).toBe(0);
    }
    // Both fan-out shapes: the bursts and one broadcast per turn (no burst to coalesce).
    expect(new Set(results.cells.filter((x) => x.scenario === 'fanout').map((c) => c.params['burst']))).toEqual(new Set([cfg.fanout.burst, 1]));
    // The setup cell opened more than the idle connections (batches opened and closed again).
    for (const c of results.cells.filter((x) => x.scenario === 'connections')) expect(c.median['opened']).toBeGreaterThan(cfg.connections.memConns);
    // Recovery: CPU per delivery off and on, and what the absent sessions retain.
    for (const c of results.cells.filter((x) => x.scenario === 'recovery')) {
      const want = c.params['recovery'] !== undefined ? ['serverCpuUsPerDelivery', 'deliveriesPerSec', 'broadcasts'] : ['heapPerAbsent', 'rssPerAbsent', 'heapPerLive'];
      for (const m of want) expect(Number.isFinite(c.median[m]), `recovery ${c.server} ${m}`).toBe(true);
    }
    // Compression actually happened on the wire.
    for (const kind of cfg.deflate.servers.filter((k) => available.includes(k))) {
      const on = results.cells.find((c) => c.scenario === 'deflate' && c.server === kind && c.params['deflate'] === 'on');
      const off = results.cells.find((c) => c.scenario === 'deflate' && c.server === kind && c.params['deflate'] === 'off');
      expect(on!.median['wireBytesPerMsg']!).toBeLessThan(off!.median['wireBytesPerMsg']! / 2);
    }
  });

  it('computes same-round ratios and one target per row of issue 13', () => {
    expect(results.ratios.length).toBeGreaterThan(0);
    for (const r of results.ratios) {
      expect(r.perRun).toHaveLength(results.config.rounds);
      expect(r.median === null || r.median > 0).toBe(true);
    }
    expect(results.targets.map((t) => t.id)).toEqual(TARGET_IDS);
    const uws = results.servers.find((s) => s.kind === 'uws')!;
    for (const t of results.targets) {
      if (t.id === 'fan-uws' && uws.status === 'skipped') {
        expect(t.measured).toBeNull();
        expect(t.note).toMatch(/not measured/);
      } else expect(Number.isFinite(t.measured), t.id).toBe(true);
      if (t.measured === null) expect(t.met).toBeNull();
      else expect(typeof t.met).toBe('boolean');
    }
  });

  it('measures the browser bundles, summarises a CPU profile and a heap diff', () => {
    expect(results.bundle?.entries.map((e) => e.name)).toEqual(['@stelar/client-browser', 'socket.io-client']);
    const sio = results.bundle!.entries[1]!;
    expect(sio.gzipBytes).toBeGreaterThan(1000);
    expect(results.profiles.map((p) => p.id)).toEqual(['oif-tcp']);
    const p = results.profiles[0]!;
    expect(p.top.length).toBeGreaterThan(0);
    expect(p.areas.some((a) => a.area.startsWith('@stelar/'))).toBe(true);
    expect(results.heaps).toHaveLength(1);
    expect(results.heaps[0]!.bytesPerConn).toBeGreaterThan(0);
    expect(results.heaps[0]!.top.length).toBeGreaterThan(0);
  });

  it('writes the JSON (no absolute path of this checkout), the SVG chart and the README block', () => {
    const readme = join(out, 'README.md');
    const w = writeOutputs(results, join(out, 'results'), readme);
    const raw = readFileSync(w.latest, 'utf8');
    expect(raw.includes(repo)).toBe(false);
    const json = JSON.parse(raw) as Results;
    expect(json.cells).toHaveLength(results.cells.length);
    const svg = readFileSync(w.svg, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    const text = readFileSync(readme, 'utf8');
    expect(text).toContain(README_START);
    expect(text).toContain(README_END);
    for (const h of ['### Targets (issue 13)', '### Echo, one message in flight per connection', '### Echo, pipelined', '### Round trips, one connection', '### Fan-out bursts', '### Connection setup and idle memory']) expect(text).toContain(h);
    for (const t of results.targets) expect(text).toContain(`| ${t.row} | ${t.label} |`);
    expect(text).toMatch(/pinned to CPU 0|not pinned/);
    expect(text).toContain('1-minute load average');
    // A second write replaces the block and keeps the text around it.
    writeOutputs(results, join(out, 'results'), readme);
    expect(readFileSync(readme, 'utf8').split(README_START)).toHaveLength(2);
  });
});
