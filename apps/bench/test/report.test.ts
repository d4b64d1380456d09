/**
 * The harness's arithmetic on made-up measurements: ratios are taken within a round and then
 * reduced (median and range), a target built from several cells is reduced per round first, a
 * missing peer gives "not measured" rather than a number, and the report shows medians with
 * their ranges. No process is started.
 */
import { describe, expect, it } from 'vitest';
import { presetConfig } from '../src/lib/config';
import { renderMarkdown, renderSvg } from '../src/lib/report';
import { echoParams, recompute, type Cell, type CellScenario, type Metrics, type Results } from '../src/lib/suite';
import type { ServerKind } from '../src/lib/common';

const cfg = presetConfig('full', { distDir: '', profileDir: '', repoRoot: '', log: () => undefined });
const { log: _l, distDir: _d, profileDir: _p, repoRoot: _r, ...config } = cfg;

function cell(scenario: CellScenario, server: ServerKind, params: Record<string, number | string>, runs: (Metrics | null)[]): Cell {
  return { scenario, server, params, runs, median: {}, min: {}, max: {}, errors: [] };
}

const oif = cfg.echo.find((e) => e.shape === 'oif')!;
const pipes = cfg.echo.filter((e) => e.table === 'pipelined');

function results(cells: Cell[]): Results {
  return {
    schema: 'stelar-bench/2',
    preset: 'full',
    command: 'test',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:17:00.000Z',
    durationS: 1020,
    machine: { cpuModel: 'test cpu', cores: 2, node: 'v20', v8: '11', platform: 'linux x64', kernel: '6', totalMemGiB: 8, fdLimit: { soft: 1024, hard: 1024, raised: false }, ephemeralPorts: null, loadAvgStart: 0.5 },
    load: { start: 0.5, end: 3, min: 0.5, median: 2, max: 3, samples: 200 },
    pinning: { server: '0', load: '1' },
    versions: { ws: '8.23.0', bufferutil: '4.1.0' },
    config,
    servers: [
      { kind: 'stelar-ws', status: 'ok' },
      { kind: 'stelar-tcp', status: 'ok' },
      { kind: 'ws', status: 'ok' },
      { kind: 'net', status: 'ok' },
      { kind: 'uws', status: 'skipped', note: 'skipped: not installed' },
    ],
    cells,
    ratios: [],
    targets: [],
    bundle: null,
    profiles: [],
    heaps: [],
    notes: [],
  };
}

describe('bench arithmetic', () => {
  // Round 1 is slow for everybody (a loaded machine): the ratio within each round is 0.5, while
  // the ratio of the medians would be 10/10 = 1.
  const stelar = [{ serverCpuUsPerMsg: 10, msgsPerSec: 100 }, { serverCpuUsPerMsg: 5, msgsPerSec: 200 }, { serverCpuUsPerMsg: 20, msgsPerSec: 50 }];
  const ws = [{ serverCpuUsPerMsg: 20, msgsPerSec: 50 }, { serverCpuUsPerMsg: 10, msgsPerSec: 100 }, { serverCpuUsPerMsg: 40, msgsPerSec: 25 }];
  const base = [
    cell('echo', 'stelar-ws', echoParams(oif), stelar),
    cell('echo', 'ws', echoParams(oif), [ws[2]!, ws[0]!, ws[1]!]),
    cell('connections', 'stelar-ws', { memConns: cfg.connections.memConns }, [{ rssPerConn: 7000, setupPerSec: 1000 }, null, { rssPerConn: 5000, setupPerSec: 1500 }]),
    cell('connections', 'ws', { memConns: cfg.connections.memConns }, [{ rssPerConn: 6000, setupPerSec: 2000 }, { rssPerConn: 6000, setupPerSec: 2000 }, { rssPerConn: 6000, setupPerSec: 1000 }]),
    ...pipes.flatMap((e, i) => [
      cell('echo', 'stelar-tcp', echoParams(e), [{ msgsPerSec: 100 * (i + 1), serverCpuUsPerMsg: 2 }, { msgsPerSec: 90 * (i + 1), serverCpuUsPerMsg: 2 }, { msgsPerSec: 80 * (i + 1), serverCpuUsPerMsg: 4 }]),
      cell('echo', 'net', echoParams(e), [{ msgsPerSec: 100 * (i + 1), serverCpuUsPerMsg: 1 }, { msgsPerSec: 100 * (i + 1), serverCpuUsPerMsg: 1 }, { msgsPerSec: 100 * (i + 1), serverCpuUsPerMsg: 1 }]),
    ]),
  ];

  it('takes each ratio within a round, then the median and range of those', () => {
    const r = recompute(results(structuredClone(base)));
    const cpu = r.ratios.find((x) => x.metric === 'serverCpuUsPerMsg' && x.num === 'stelar-ws' && x.den === 'ws' && x.params['shape'] === 'oif')!;
    // The ws rounds are listed rotated: 10/40, 5/20, 20/10.
    expect(cpu.perRun).toEqual([0.25, 0.25, 2]);
    expect(cpu.median).toBe(0.25);
    expect(cpu.min).toBe(0.25);
    expect(cpu.max).toBe(2);
    const oifWs = r.targets.find((t) => t.id === 'oif-ws')!;
    expect(oifWs.perRun).toEqual([0.25, 0.25, 2]);
    expect(oifWs.measured).toBe(0.25);
    expect(oifWs.met).toBe(true);
    // Every cell is reduced to median, min and max per metric.
    const c = r.cells.find((x) => x.server === 'stelar-ws' && x.scenario === 'echo')!;
    expect(c.median['serverCpuUsPerMsg']).toBe(10);
    expect(c.min['serverCpuUsPerMsg']).toBe(5);
    expect(c.max['serverCpuUsPerMsg']).toBe(20);
  });

  it('reduces a target over several cells per round before taking the median', () => {
    const r = recompute(results(structuredClone(base)));
    const t = r.targets.find((x) => x.id === 'pipe-tcp-net')!;
    // Per round, every pipelined shape has the same ratio: 1.0, 0.9, 0.8.
    expect(t.perRun.map((x) => Number(x!.toFixed(6)))).toEqual([1, 0.9, 0.8]);
    expect(t.measured).toBeCloseTo(0.9, 9);
    expect(t.min).toBeCloseTo(0.8, 9);
    expect(t.max).toBeCloseTo(1, 9);
    expect(t.met).toBe(true);
    // Beside the throughput, the same comparison as CPU efficiency: net's CPU per message ÷ Stelar's.
    expect(t.cpuCheck?.perRun.map((x) => Number(x!.toFixed(6)))).toEqual([0.5, 0.5, 0.25]);
    expect(t.cpuCheck?.median).toBeCloseTo(0.5, 9);
  });

  it('reports memory targets in bytes from the rounds that worked, and n/a without a peer', () => {
    const r = recompute(results(structuredClone(base)));
    const mem = r.targets.find((x) => x.id === 'mem-ws')!;
    expect(mem.unit).toBe('B');
    expect(mem.goal).toBe(6144);
    expect(mem.measured).toBe(6000);
    expect(mem.met).toBe(true);
    const setup = r.targets.find((x) => x.id === 'setup-ws')!;
    expect(setup.perRun).toEqual([0.5, null, 1.5]);
    expect(setup.measured).toBe(1);
    expect(setup.met).toBe(false);
    for (const id of ['fan-uws', 'fan-ws', 'rtt-ws', 'large-ws', 'mem-tcp']) {
      const t = r.targets.find((x) => x.id === id)!;
      expect(t.measured, id).toBeNull();
      expect(t.met, id).toBeNull();
      expect(t.note, id).toMatch(/not measured/);
    }
  });

  it('shows every target with its goal, median and range, and separate one-in-flight and pipelined tables', () => {
    const r = recompute(results(structuredClone(base)));
    const md = renderMarkdown(r, 'results/ratios.svg');
    expect(md).toContain('| server CPU per message, 128 connections × 1 in flight, WS | Stelar WS / ws, server CPU per message | ≤ 0.8× | 0.25× (0.25×–2.00×) | met |');
    expect(md).toContain('| pipelined TCP vs raw `net` | Stelar TCP / raw net, throughput | ≥ 0.8× | 0.90× (0.800×–1.00×) | met |');
    expect(md).toContain("as CPU efficiency (raw net's CPU per message ÷ Stelar's): 0.50× (0.25×–0.50×)");
    expect(md).toContain('| connection setup rate | Stelar WS / ws, setups per second | ≥ 1.2× | 1.00× (0.50×–1.50×) | **missed** |');
    expect(md).toContain('| idle connection, RSS per connection | Stelar WS, RSS per idle connection | ≤ 6 KiB | 6000 B (5000 B–7000 B) | met |');
    const one = md.indexOf('### Echo, one message in flight per connection');
    const pipe = md.indexOf('### Echo, pipelined');
    expect(one).toBeGreaterThan(0);
    expect(pipe).toBeGreaterThan(one);
    expect(md.slice(one, pipe)).toContain('128 conns × 1 in flight × 32 B');
    expect(md.slice(one, pipe)).not.toContain('64 in flight');
    expect(md.slice(pipe)).toContain('1 conn × 64 in flight × 32 B');
    expect(md).toContain('1-minute load average 0.5–3');
    expect(md).toContain('pinned to CPU 0');
    expect(renderSvg(r)).toContain('</svg>');
  });
});
