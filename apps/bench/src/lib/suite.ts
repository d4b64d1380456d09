/**
 * The controller: runs every scenario against every available server, each server in its own
 * process and the load in separate generator processes, `runs` times (servers in a rotated
 * order each run), and reduces the runs to medians and same-run ratios.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { measureBundles, type BundleResult } from './bundle';
import { errorMessage, WS_KINDS, type ClientSpec, type GenCounters, type ServerKind, type ServerStart, type ServerStats } from './common';
import { Child, killAllChildren } from './ipc';
import { describeMachine, raiseFdLimit, type Machine } from './machine';
import { summarizeHeapDiff, summarizeProfile, type HeapSummary, type ProfileSummary } from './profile';
import { uwsAvailable } from './servers';
import { geomean, median, percentileSorted, sleep } from './stats';

/** What can be run (`--scenarios`). `rooms` measures connection setup, memory and fan-out in one pass. */
export const SCENARIOS = ['echo', 'latency', 'rooms', 'deflate', 'bundle'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/** What a result cell belongs to. */
export type CellScenario = 'echo' | 'latency' | 'fanout' | 'connections' | 'deflate';

export interface SuiteConfig {
  preset: string;
  runs: number;
  servers: ServerKind[];
  scenarios: ScenarioName[];
  echo: {
    conns: number[];
    sizes: number[];
    warmupMs: number;
    durationMs: number;
    /** Messages in flight over all connections (per connection at least 1), small / 64 KiB payloads. */
    inflight: number;
    inflightLarge: number;
  };
  latency: { conns: number; rate: number; size: number; warmupMs: number; durationMs: number };
  /**
   * Receivers join one room in batches up to each size of `clients` (ascending; the last is the
   * connection count): every batch's setup is timed, memory is measured at the end (after a full
   * GC), and a fan-out is measured at each size. Stelar TLS stops at `tlsMaxClients`.
   */
  rooms: {
    clients: number[];
    tlsMaxClients: number;
    rounds: number;
    warmupRounds: number;
    size: number;
    generators: number;
    /** Handshakes in flight over all generators. */
    concurrency: number;
    settleMs: number;
  };
  deflate: { conns: number; size: number; warmupMs: number; durationMs: number; inflight: number };
  /**
   * Servers measured at the same time within a scenario. 1 for real runs (anything else skews the
   * figures); the smoke preset uses more, as it only checks that everything works.
   */
  parallel: number;
  /** Extra loopback source addresses (127.0.0.2…) for the many-connection scenarios; -1 = automatic. */
  sourceAddresses: number;
  /** Profile the Stelar server (node --cpu-prof) after the runs. */
  profile: {
    enabled: boolean;
    durationMs: number;
    fanClients: number;
    rounds: number;
    jobs: ('ws-echo' | 'tcp-echo' | 'ws-fanout' | 'ws-connect')[];
    /** Heap snapshots before and after `heapConns` idle connections, per server listed. */
    heapServers: ServerKind[];
    heapConns: number;
  };
  /** Extra Node options for the Stelar server processes only (experiments: `--import ./patch.mjs`, `--cpu-prof`…). */
  stelarExecArgv: string[];
  /** Directory holding the built `server.js` and `generator.js`. */
  distDir: string;
  /** Where `.cpuprofile` files go. */
  profileDir: string;
  /** Profile frames are shown relative to this directory. */
  repoRoot: string;
  log: (line: string) => void;
}

export type Metrics = Record<string, number>;

export interface Cell {
  scenario: CellScenario;
  server: ServerKind;
  params: Record<string, number | string>;
  /** One entry per run (null: the run failed, see `errors`). */
  runs: (Metrics | null)[];
  median: Metrics;
  errors: string[];
}

export interface Ratio {
  id: string;
  label: string;
  scenario: CellScenario;
  metric: string;
  params: Record<string, number | string>;
  num: ServerKind;
  den: ServerKind;
  /** Ratio within each run (null when either side failed), and their median. */
  perRun: (number | null)[];
  median: number | null;
}

export interface Target {
  id: string;
  label: string;
  op: '>=' | '<=';
  goal: number;
  unit: 'x' | 'B';
  /** The measured value: geometric mean of the listed ratios' medians, or a cell median. */
  measured: number | null;
  met: boolean | null;
  basis: string;
  note?: string;
}

export interface ServerStatus {
  kind: ServerKind;
  status: 'ok' | 'skipped';
  note?: string;
}

export interface Results {
  schema: 'stelar-bench/1';
  preset: string;
  command: string;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  machine: Machine;
  config: Omit<SuiteConfig, 'log' | 'distDir' | 'profileDir' | 'repoRoot'>;
  servers: ServerStatus[];
  cells: Cell[];
  ratios: Ratio[];
  targets: Target[];
  bundle: BundleResult | null;
  profiles: ProfileSummary[];
  heaps: HeapSummary[];
  notes: string[];
}

// ---------------------------------------------------------------------------------------------
// Processes

interface ServerProc {
  child: Child;
  port: number;
  stats(): Promise<ServerStats>;
  gcStats(): Promise<ServerStats>;
}

async function startServerProc(cfg: SuiteConfig, start: ServerStart, execArgv: string[] = []): Promise<ServerProc> {
  const child = Child.fork(`server ${start.kind}`, join(cfg.distDir, 'server.js'), ['--expose-gc', ...execArgv]);
  try {
    const { port } = await child.call<{ port: number }>('start', { ...start }, 30_000);
    return {
      child,
      port,
      stats: () => child.call<ServerStats>('stats', {}, 60_000),
      gcStats: () => child.call<ServerStats>('gc', {}, 60_000),
    };
  } catch (err) {
    child.kill();
    throw err;
  }
}

function forkGen(cfg: SuiteConfig, kind: ServerKind, index: number): Child {
  return Child.fork(`generator ${index} (${kind})`, join(cfg.distDir, 'generator.js'));
}

/** (Re)initialises a generator for a spec: closes its previous connections. */
async function initGen(gen: Child, spec: ClientSpec): Promise<Child> {
  await gen.call('init', { spec }, 30_000);
  return gen;
}

/** A server and `n` generators, forked in parallel (process start-up is slow on a loaded machine). */
interface Procs {
  server: ServerProc;
  gens: Child[];
}

interface ConnectResult {
  ready: number;
  failed: number;
  firstError?: string;
  ms: number;
}

async function connect(gen: Child, count: number, concurrency: number): Promise<ConnectResult> {
  if (count <= 0) return { ready: 0, failed: 0, ms: 0 };
  const r = await gen.call<ConnectResult>('connect', { count, concurrency, timeoutMs: 30_000 }, 60_000 + count * 20);
  if (r.failed > 0) throw new Error(`${r.failed} of ${count} connections failed: ${r.firstError ?? '?'}`);
  return r;
}

const cpuOf = (s: ServerStats): number => s.user + s.system;

/** Busy CPU time of the whole machine in µs (all cores, from /proc/stat), or NaN off Linux. */
function machineBusyMicros(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8');
    const v = f.slice(0, f.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - idle) * 10_000; // USER_HZ = 100
  } catch {
    return Number.NaN;
  }
}

/** CPU used by other processes (not this server, not these generators) during a window, in % of one core. */
function otherCpuPct(m0: number, m1: number, ours: number, wallMs: number): number {
  if (!Number.isFinite(m0) || !Number.isFinite(m1) || wallMs <= 0) return Number.NaN;
  return Math.max(0, ((m1 - m0 - ours) / 1000 / wallMs) * 100);
}
const genCpuOf = (g: GenCounters): number => g.user + g.system;

function checkClean(label: string, c: GenCounters): void {
  if (c.errors > 0 || c.closed > 0) throw new Error(`${label}: ${c.errors} error frames, ${c.closed} connections closed by the server`);
}

/** Splits `n` into `parts` nearly equal integers. */
function split(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// The suite

export class Suite {
  readonly cells = new Map<string, Cell>();
  readonly notes: string[] = [];
  private certDir: string | undefined;
  private available: ServerKind[] = [];
  readonly statuses: ServerStatus[] = [];
  private sourceAddresses = 0;

  constructor(readonly cfg: SuiteConfig) {}

  private log(s: string): void {
    this.cfg.log(s);
  }

  private cell(scenario: CellScenario, server: ServerKind, params: Record<string, number | string>): Cell {
    const key = `${scenario}|${server}|${JSON.stringify(params)}`;
    let c = this.cells.get(key);
    if (!c) {
      c = { scenario, server, params, runs: Array.from({ length: this.cfg.runs }, () => null), median: {}, errors: [] };
      this.cells.set(key, c);
    }
    return c;
  }

  private find(scenario: CellScenario, server: ServerKind, params: Record<string, number | string>): Cell | undefined {
    return this.cells.get(`${scenario}|${server}|${JSON.stringify(params)}`);
  }

  /** Runs a measurement; a failure is recorded in its cell(s) and does not stop the suite. */
  private async attempt(label: string, cells: () => Cell[], run: number, fn: () => Promise<void>): Promise<void> {
    const t0 = Date.now();
    try {
      await fn();
      this.log(`    ${label}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } catch (err) {
      const msg = `run ${run + 1}: ${errorMessage(err)}`;
      for (const c of cells()) c.errors.push(msg);
      this.log(`    ${label}: FAILED ${errorMessage(err)}`);
    }
  }

  async prepare(): Promise<void> {
    for (const kind of this.cfg.servers) {
      if (kind === 'uws') {
        const u = await uwsAvailable();
        if (!u.ok) {
          const note = `skipped: ${u.reason}`;
          this.statuses.push({ kind, status: 'skipped', note });
          this.log(`note: uWebSockets.js ${note}`);
          continue;
        }
      }
      if (kind === 'stelar-tls') {
        try {
          this.certDir = makeCert();
        } catch (err) {
          this.statuses.push({ kind, status: 'skipped', note: `skipped: no self-signed certificate (${errorMessage(err)})` });
          this.log(`note: stelar-tls skipped: ${errorMessage(err)}`);
          continue;
        }
      }
      this.statuses.push({ kind, status: 'ok' });
      this.available.push(kind);
    }
    const many = Math.max(...this.cfg.rooms.clients);
    if (this.cfg.sourceAddresses >= 0) this.sourceAddresses = this.cfg.sourceAddresses;
    else {
      // Each server has its own port, so the kernel can reuse ephemeral ports across servers; extra
      // source addresses only when one server's connections could exhaust half the range.
      const range = describeMachine({ soft: null, hard: null, raised: false }).ephemeralPorts;
      const usable = range ? (range.high - range.low + 1) / 2 : 14_000;
      this.sourceAddresses = many > usable ? Math.ceil(many / usable) : 0;
    }
    if (this.sourceAddresses > 0) this.notes.push(`connections spread over ${this.sourceAddresses} loopback source addresses (127.0.0.2…)`);
  }

  /** Restores measured cells (see {@link recompute}). */
  load(cells: Cell[], available: ServerKind[]): void {
    for (const c of cells) this.cells.set(`${c.scenario}|${c.server}|${JSON.stringify(c.params)}`, c);
    this.available = available;
  }

  dispose(): void {
    killAllChildren();
    if (this.certDir) rmSync(this.certDir, { recursive: true, force: true });
    this.certDir = undefined;
  }

  get servers(): ServerKind[] {
    return this.available;
  }

  private spec(kind: ServerKind, port: number, size: number, deflate: boolean, many = false): ClientSpec {
    return { kind, port, size, deflate, sourceAddresses: many ? this.sourceAddresses : 0 };
  }

  private start(kind: ServerKind, room: boolean, deflate: boolean, execArgv: string[] = []): Promise<ServerProc> {
    const extra = kind.startsWith('stelar-') ? this.cfg.stelarExecArgv : [];
    return startServerProc(this.cfg, { kind, room, deflate, certDir: this.certDir }, [...extra, ...execArgv]);
  }

  /** Forks the server and `n` generators at once; everything is stopped if a start fails. */
  private async procs(kind: ServerKind, room: boolean, deflate: boolean, n: number, execArgv: string[] = []): Promise<Procs> {
    const gens = Array.from({ length: n }, (_, i) => forkGen(this.cfg, kind, i));
    try {
      const server = await this.start(kind, room, deflate, execArgv);
      return { server, gens };
    } catch (err) {
      await Promise.all(gens.map((g) => g.stop()));
      throw err;
    }
  }

  private async stopProcs(p: Procs | undefined): Promise<void> {
    if (!p) return;
    await Promise.all([...p.gens.map((g) => g.stop()), p.server.child.stop()]);
  }

  async runAll(): Promise<void> {
    const { cfg } = this;
    for (let run = 0; run < cfg.runs; run++) {
      const order = this.available.map((_, i) => this.available[(i + run) % this.available.length]!);
      this.log(`run ${run + 1}/${cfg.runs} (server order: ${order.join(', ')})`);
      for (const scenario of cfg.scenarios) {
        if (scenario === 'bundle') continue;
        this.log(`  ${scenario}`);
        const kinds = order.filter((kind) => scenario !== 'deflate' || WS_KINDS.includes(kind));
        const width = Math.max(1, cfg.parallel);
        for (let i = 0; i < kinds.length; i += width) {
          await Promise.all(kinds.slice(i, i + width).map((kind) => this.scenario(scenario, kind, run)));
        }
      }
    }
    for (const c of this.cells.values()) c.median = medianMetrics(c.runs);
  }

  private async scenario(s: ScenarioName, kind: ServerKind, run: number): Promise<void> {
    switch (s) {
      case 'echo':
        return this.echo(kind, run);
      case 'latency':
        return this.latency(kind, run);
      case 'rooms':
        return this.rooms(kind, run);
      case 'deflate':
        return this.deflate(kind, run);
      case 'bundle':
        return;
    }
  }

  /** Echo throughput: closed loop, `window` messages in flight per connection, on a fresh set of connections. */
  private async echoLoad(
    p: Procs,
    kind: ServerKind,
    conns: number,
    size: number,
    deflate: boolean,
    window: number,
    warmupMs: number,
    durationMs: number,
    profile?: { start: () => Promise<void>; stop: () => Promise<void> },
  ): Promise<Metrics> {
    const { server } = p;
    const gen = await initGen(p.gens[0]!, this.spec(kind, server.port, size, deflate));
    await connect(gen, conns, 64);
    await gen.call('echoStart', { window });
    await sleep(warmupMs);
    await profile?.start();
    const m0 = machineBusyMicros();
    const [g0, s0] = await Promise.all([gen.call<GenCounters>('counters'), server.stats()]);
    await sleep(durationMs);
    const [g1, s1] = await Promise.all([gen.call<GenCounters>('counters'), server.stats()]);
    const m1 = machineBusyMicros();
    await profile?.stop();
    await gen.call('echoStop');
    checkClean(`${kind} echo`, g1);
    const msgs = g1.messages - g0.messages;
    if (msgs <= 0) throw new Error('no echo came back');
    const secs = (g1.at - g0.at) / 1000;
    return {
      msgsPerSec: msgs / secs,
      payloadMBps: (msgs * size) / secs / 1e6,
      serverCpuUsPerMsg: (cpuOf(s1) - cpuOf(s0)) / msgs,
      serverUserUsPerMsg: (s1.user - s0.user) / msgs,
      serverSysUsPerMsg: (s1.system - s0.system) / msgs,
      serverCpuPct: ((cpuOf(s1) - cpuOf(s0)) / 1000 / (s1.at - s0.at)) * 100,
      genCpuPct: ((genCpuOf(g1) - genCpuOf(g0)) / 1000 / (g1.at - g0.at)) * 100,
      otherCpuPct: otherCpuPct(m0, m1, cpuOf(s1) - cpuOf(s0) + genCpuOf(g1) - genCpuOf(g0), g1.at - g0.at),
      wireBytesPerMsg: (g1.bytes - g0.bytes) / msgs,
      window,
    };
  }

  private windowFor(conns: number, size: number): number {
    const budget = size >= 65536 ? this.cfg.echo.inflightLarge : this.cfg.echo.inflight;
    return Math.max(1, Math.floor(budget / conns));
  }

  private async echo(kind: ServerKind, run: number): Promise<void> {
    const e = this.cfg.echo;
    const all = (): Cell[] => e.conns.flatMap((conns) => e.sizes.map((size) => this.cell('echo', kind, { conns, size })));
    await this.attempt(`${kind} echo`, all, run, async () => {
      let p: Procs | undefined;
      try {
        p = await this.procs(kind, false, false, 1);
        for (const conns of e.conns) {
          for (const size of e.sizes) {
            const cell = this.cell('echo', kind, { conns, size });
            try {
              cell.runs[run] = await this.echoLoad(p, kind, conns, size, false, this.windowFor(conns, size), e.warmupMs, e.durationMs);
            } catch (err) {
              cell.errors.push(`run ${run + 1}: ${errorMessage(err)}`);
              this.log(`    ${kind} echo ${conns}×${size} B FAILED ${errorMessage(err)}`);
            }
          }
        }
      } finally {
        await this.stopProcs(p);
      }
    });
  }

  private async deflate(kind: ServerKind, run: number): Promise<void> {
    const d = this.cfg.deflate;
    for (const mode of ['off', 'on'] as const) {
      const cell = this.cell('deflate', kind, { deflate: mode, conns: d.conns, size: d.size });
      await this.attempt(`${kind} deflate ${mode}`, () => [cell], run, async () => {
        let p: Procs | undefined;
        try {
          p = await this.procs(kind, false, mode === 'on', 1);
          const window = Math.max(1, Math.floor(d.inflight / d.conns));
          cell.runs[run] = await this.echoLoad(p, kind, d.conns, d.size, mode === 'on', window, d.warmupMs, d.durationMs);
        } finally {
          await this.stopProcs(p);
        }
      });
    }
  }

  /** Open-loop round trips at a fixed total rate; latency from write to the echo's arrival. */
  private async latency(kind: ServerKind, run: number): Promise<void> {
    const l = this.cfg.latency;
    const cell = this.cell('latency', kind, { conns: l.conns, rate: l.rate, size: l.size });
    await this.attempt(`${kind} latency`, () => [cell], run, async () => {
      let p: Procs | undefined;
      try {
        p = await this.procs(kind, false, false, 1);
        const { server } = p;
        const gen = await initGen(p.gens[0]!, this.spec(kind, server.port, l.size, false));
        await connect(gen, l.conns, 64);
        await gen.call('latencyStart', { rate: l.rate });
        await sleep(l.warmupMs);
        const m0 = machineBusyMicros();
        await server.child.call('loopDelayStart');
        const [g0, s0] = await Promise.all([gen.call<GenCounters>('latencyRecord', { on: true }), server.stats()]);
        await sleep(l.durationMs);
        const [g1, s1] = await Promise.all([gen.call<GenCounters>('latencyRecord', { on: false }), server.stats()]);
        const loop = await server.child.call<{ p50Ms: number; p99Ms: number; maxMs: number }>('loopDelayStop');
        const m1 = machineBusyMicros();
        const { samples } = await gen.call<{ samples: number[] }>('latencyStop', {}, 60_000);
        checkClean(`${kind} latency`, g1);
        if (samples.length === 0) throw new Error('no round trip completed');
        const sorted = samples.sort((a, b) => a - b);
        const msgs = g1.messages - g0.messages;
        cell.runs[run] = {
          p50Ms: percentileSorted(sorted, 50),
          p99Ms: percentileSorted(sorted, 99),
          p999Ms: percentileSorted(sorted, 99.9),
          maxMs: sorted[sorted.length - 1]!,
          samples: sorted.length,
          achievedRate: msgs / ((g1.at - g0.at) / 1000),
          serverCpuUsPerMsg: msgs > 0 ? (cpuOf(s1) - cpuOf(s0)) / msgs : Number.NaN,
          serverUserUsPerMsg: msgs > 0 ? (s1.user - s0.user) / msgs : Number.NaN,
          otherCpuPct: otherCpuPct(m0, m1, cpuOf(s1) - cpuOf(s0) + genCpuOf(g1) - genCpuOf(g0), g1.at - g0.at),
          loopDelayP99Ms: loop.p99Ms,
          loopDelayMaxMs: loop.maxMs,
        };
      } finally {
        await this.stopProcs(p);
      }
    });
  }

  /** Connects a publisher on the first generator (receivers come with {@link fanGrow}). */
  private async fanSetup(p: Procs, kind: ServerKind, size: number): Promise<void> {
    await Promise.all(p.gens.map((g) => initGen(g, this.spec(kind, p.server.port, size, false, true))));
    await p.gens[0]!.call('connectPublisher');
  }

  /** Adds receivers up to `to` (spread over the generators); resolves with the time it took (ms). */
  private async fanGrow(p: Procs, from: number, to: number): Promise<number> {
    const shares = split(to - from, p.gens.length);
    const perGen = Math.max(1, Math.round(this.cfg.rooms.concurrency / p.gens.length));
    const t0 = performance.now();
    await Promise.all(p.gens.map((gen, i) => connect(gen, shares[i] ?? 0, perGen)));
    const ms = performance.now() - t0;
    await Promise.all(p.gens.map((gen) => gen.call('fanReset')));
    return ms;
  }

  /** One broadcast; resolves with the µs from the publish to the last receiver. */
  private async fanRound(p: Procs, round: number): Promise<number> {
    const t0 = await p.gens[0]!.call<number>('publish');
    const ts = await Promise.all(p.gens.map((gen) => gen.call<number>('waitRound', { round }, 60_000)));
    return Math.max(...ts) - t0;
  }

  /**
   * Connections and fan-out in one pass (one set of handshakes): receivers join the room in
   * batches up to each room size; at each size, `rounds` broadcasts from one publisher (server
   * CPU per delivery, time until the last receiver has it); every batch's setup is timed, and the
   * server's memory is measured after the last batch, against a baseline taken before the first.
   */
  private async rooms(kind: ServerKind, run: number): Promise<void> {
    const f = this.cfg.rooms;
    const limit = kind === 'stelar-tls' ? f.tlsMaxClients : Number.POSITIVE_INFINITY;
    const all = [...f.clients].sort((a, b) => a - b);
    const sizes = all.filter((n) => n <= limit);
    if (sizes.length < all.length) sizes.push(Math.min(limit, all[all.length - 1]!));
    const target = sizes[sizes.length - 1]!;
    const connCell = this.cell('connections', kind, {});
    const fanCells = (): Cell[] => sizes.filter((n) => all.includes(n)).map((clients) => this.cell('fanout', kind, { clients, size: f.size }));
    await this.attempt(`${kind} rooms (connections + fan-out)`, () => [connCell, ...fanCells()], run, async () => {
      let p: Procs | undefined;
      try {
        p = await this.procs(kind, true, false, Math.max(1, f.generators));
        await this.fanSetup(p, kind, f.size);
        await sleep(100);
        const before = await p.server.gcStats();
        let have = 0;
        let setupMs = 0;
        for (const clients of sizes) {
          setupMs += await this.fanGrow(p, have, clients);
          have = clients;
          if (clients === target) {
            await sleep(f.settleMs);
            const after = await p.server.gcStats();
            if (after.connections < clients) throw new Error(`server counts ${after.connections} of ${clients} connections`);
            connCell.runs[run] = {
              conns: clients,
              setupPerSec: clients / (setupMs / 1000),
              rssPerConn: (after.rss - before.rss) / clients,
              heapPerConn: (after.heapUsed - before.heapUsed) / clients,
              externalPerConn: (after.external - before.external) / clients,
            };
          }
          if (!all.includes(clients)) continue;
          await sleep(100);
          let round = 0;
          for (let i = 0; i < f.warmupRounds; i++) await this.fanRound(p, ++round);
          const s0 = await p.server.stats();
          const lasts: number[] = [];
          for (let i = 0; i < f.rounds; i++) lasts.push(await this.fanRound(p, ++round));
          const s1 = await p.server.stats();
          const counters = await Promise.all(p.gens.map((gen) => gen.call<GenCounters>('counters')));
          for (const c of counters) checkClean(`${kind} fan-out`, c);
          const sorted = lasts.sort((a, b) => a - b);
          const deliveries = f.rounds * clients;
          this.cell('fanout', kind, { clients, size: f.size }).runs[run] = {
            serverCpuUsPerDelivery: (cpuOf(s1) - cpuOf(s0)) / deliveries,
            serverUserUsPerDelivery: (s1.user - s0.user) / deliveries,
            serverSysUsPerDelivery: (s1.system - s0.system) / deliveries,
            lastClientMs: (median(sorted) ?? Number.NaN) / 1000,
            lastClientMaxMs: sorted[sorted.length - 1]! / 1000,
          };
        }
      } finally {
        await this.stopProcs(p);
      }
    });
  }

  // -------------------------------------------------------------------------------------------
  // Profiles

  /** Profiles Stelar servers under echo and fan-out load with `node --cpu-prof`. */
  async profiles(): Promise<ProfileSummary[]> {
    const p = this.cfg.profile;
    if (!p.enabled) return [];
    const out: ProfileSummary[] = [];
    mkdirSync(this.cfg.profileDir, { recursive: true });
    // Each job profiles only its measured window (V8's CPU profiler through node:inspector, the
    // profiler --cpu-prof uses), so start-up and connection set-up stay out of echo/fan-out profiles.
    type Window = { start: () => Promise<void>; stop: () => Promise<void> };
    const jobs: { id: string; label: string; kind: ServerKind; gens: number; room: boolean; run: (p: Procs, w: Window) => Promise<void> }[] = [];
    const e = this.cfg.echo;
    const bigConns = Math.max(...e.conns);
    const size = e.sizes.includes(1024) ? 1024 : Math.min(...e.sizes);
    for (const kind of ['stelar-ws', 'stelar-tcp'] as const) {
      jobs.push({
        id: kind === 'stelar-ws' ? 'ws-echo' : 'tcp-echo',
        label: `${kind} echo, ${bigConns} connections × ${fmtSize(size)}`,
        kind,
        gens: 1,
        room: false,
        run: async (procs, w) => {
          await this.echoLoad(procs, kind, bigConns, size, false, this.windowFor(bigConns, size), 300, p.durationMs, w);
        },
      });
    }
    const r = this.cfg.rooms;
    jobs.push({
      id: 'ws-fanout',
      label: `stelar-ws fan-out to ${p.fanClients} clients, ${fmtSize(r.size)} (${p.rounds} broadcasts)`,
      kind: 'stelar-ws',
      gens: Math.max(1, r.generators),
      room: true,
      run: async (procs, w) => {
        await this.fanSetup(procs, 'stelar-ws', r.size);
        await this.fanGrow(procs, 0, p.fanClients);
        await sleep(200);
        await w.start();
        for (let round = 1; round <= p.rounds; round++) await this.fanRound(procs, round);
        await w.stop();
      },
    });
    jobs.push({
      id: 'ws-connect',
      label: `stelar-ws connection setup, ${p.fanClients} clients joining a room`,
      kind: 'stelar-ws',
      gens: Math.max(1, r.generators),
      room: true,
      run: async (procs, w) => {
        await this.fanSetup(procs, 'stelar-ws', r.size);
        await w.start();
        await this.fanGrow(procs, 0, p.fanClients);
        await w.stop();
      },
    });
    for (const job of jobs) {
      if (!p.jobs.includes(job.id as (typeof p.jobs)[number]) || !this.available.includes(job.kind)) continue;
      const name = `${job.id}.cpuprofile`;
      const file = join(this.cfg.profileDir, name);
      rmSync(file, { force: true });
      this.log(`  profile: ${job.label}`);
      let procs: Procs | undefined;
      try {
        procs = await this.procs(job.kind, job.room, false, job.gens);
        const child = procs.server.child;
        await job.run(procs, {
          start: async () => {
            await child.call('profileStart');
          },
          stop: async () => {
            await child.call('profileStop', { file }, 120_000);
          },
        });
        out.push(summarizeProfile(file, job.label, 15, this.cfg.repoRoot));
      } catch (err) {
        this.log(`    profile failed: ${errorMessage(err)}`);
      } finally {
        await this.stopProcs(procs);
      }
    }
    return out;
  }

  /** Heap snapshots before and after N idle connections: which objects a connection retains. */
  async heaps(): Promise<HeapSummary[]> {
    const p = this.cfg.profile;
    if (!p.enabled) return [];
    mkdirSync(this.cfg.profileDir, { recursive: true });
    const out: HeapSummary[] = [];
    for (const kind of p.heapServers) {
      if (!this.available.includes(kind)) continue;
      const label = `${kind}, ${p.heapConns} idle connections`;
      this.log(`  heap: ${label}`);
      const before = join(this.cfg.profileDir, `heap-${kind}-before.heapsnapshot`);
      const after = join(this.cfg.profileDir, `heap-${kind}-after.heapsnapshot`);
      let procs: Procs | undefined;
      try {
        procs = await this.procs(kind, false, false, 1);
        const gen = await initGen(procs.gens[0]!, this.spec(kind, procs.server.port, 32, false, true));
        // A warm-up batch first, so the code compiled for the first connections (JIT) is in
        // the baseline and not counted per connection.
        await connect(gen, Math.max(1, Math.round(p.heapConns / 10)), 64);
        await sleep(300);
        await procs.server.child.call('heapSnapshot', { file: before }, 120_000);
        await connect(gen, p.heapConns, 64);
        await sleep(300);
        await procs.server.child.call('heapSnapshot', { file: after }, 120_000);
        out.push(summarizeHeapDiff(before, after, p.heapConns, label));
      } catch (err) {
        this.log(`    heap snapshot failed: ${errorMessage(err)}`);
      } finally {
        await this.stopProcs(procs);
        rmSync(before, { force: true });
        rmSync(after, { force: true });
      }
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Ratios and targets

  ratios(): Ratio[] {
    const out: Ratio[] = [];
    /** metric(num) / metric(den) per run; `inverse`: metric(den) / metric(num) (CPU efficiency). */
    const add = (scenario: CellScenario, metric: string, params: Record<string, number | string>, num: ServerKind, den: ServerKind, label: string, inverse = false): void => {
      const a = this.find(scenario, num, params);
      const b = this.find(scenario, den, params);
      if (!a || !b) return;
      const perRun = a.runs.map((ra, i) => {
        const x = inverse ? b.runs[i]?.[metric] : ra?.[metric];
        const y = inverse ? ra?.[metric] : b.runs[i]?.[metric];
        return x !== undefined && y !== undefined && y !== 0 && Number.isFinite(x) && Number.isFinite(y) ? x / y : null;
      });
      const id = `${scenario}:${inverse ? `1/${metric}` : metric}:${num}/${den}:${JSON.stringify(params)}`;
      out.push({ id, label, scenario, metric: inverse ? `1/${metric}` : metric, params, num, den, perRun, median: median(perRun) });
    };
    const e = this.cfg.echo;
    for (const conns of e.conns) {
      for (const size of e.sizes) {
        const p = { conns, size };
        const tag = `${conns} conn × ${fmtSize(size)}`;
        add('echo', 'msgsPerSec', p, 'stelar-ws', 'ws', `echo stelar-ws / ws (${tag})`);
        add('echo', 'msgsPerSec', p, 'stelar-tcp', 'ws', `echo stelar-tcp / ws (${tag})`);
        add('echo', 'msgsPerSec', p, 'stelar-tcp', 'net', `echo stelar-tcp / net (${tag})`);
        add('echo', 'msgsPerSec', p, 'stelar-ws', 'uws', `echo stelar-ws / uws (${tag})`);
        add('echo', 'serverCpuUsPerMsg', p, 'stelar-ws', 'ws', `CPU efficiency stelar-ws / ws (${tag})`, true);
        add('echo', 'serverCpuUsPerMsg', p, 'stelar-tcp', 'ws', `CPU efficiency stelar-tcp / ws (${tag})`, true);
        add('echo', 'serverCpuUsPerMsg', p, 'stelar-tcp', 'net', `CPU efficiency stelar-tcp / net (${tag})`, true);
      }
    }
    const f = this.cfg.rooms;
    for (const clients of f.clients) {
      const p = { clients, size: f.size };
      add('fanout', 'serverCpuUsPerDelivery', p, 'stelar-ws', 'ws', `fan-out CPU/delivery stelar-ws / ws (${clients})`);
      add('fanout', 'serverCpuUsPerDelivery', p, 'stelar-ws', 'uws', `fan-out CPU/delivery stelar-ws / uws (${clients})`);
      add('fanout', 'serverCpuUsPerDelivery', p, 'stelar-tcp', 'ws', `fan-out CPU/delivery stelar-tcp / ws (${clients})`);
    }
    const l = this.cfg.latency;
    const lp = { conns: l.conns, rate: l.rate, size: l.size };
    for (const kind of this.available) if (kind !== 'ws') add('latency', 'p99Ms', lp, kind, 'ws', `p99 latency ${kind} / ws`);
    return out;
  }

  targets(ratios: Ratio[]): Target[] {
    const pick = (pred: (r: Ratio) => boolean): Ratio[] => ratios.filter(pred);
    const t = (id: string, label: string, op: '>=' | '<=', goal: number, rs: Ratio[], basis: string): Target => {
      const measured = rs.length === 0 ? null : geomean(rs.map((r) => r.median));
      return { id, label, op, goal, unit: 'x', measured, met: measured === null ? null : op === '>=' ? measured >= goal : measured <= goal, basis, ...(rs.length === 0 ? { note: 'not measured (server unavailable)' } : {}) };
    };
    const echo = (num: ServerKind, den: ServerKind) => pick((r) => r.scenario === 'echo' && r.metric === 'msgsPerSec' && r.num === num && r.den === den);
    const eff = (num: ServerKind, den: ServerKind): string => {
      const g = geomean(pick((r) => r.scenario === 'echo' && r.metric === '1/serverCpuUsPerMsg' && r.num === num && r.den === den).map((r) => r.median));
      return g === null ? '' : `; CPU per message: ${g.toFixed(2)}× as efficient`;
    };
    const fan = (num: ServerKind, den: ServerKind) => pick((r) => r.scenario === 'fanout' && r.num === num && r.den === den);
    const out: Target[] = [
      t('ws-echo', 'WS echo throughput, stelar-ws vs ws', '>=', 1.3, echo('stelar-ws', 'ws'), `geometric mean over the echo cells${eff('stelar-ws', 'ws')}`),
      t('tcp-echo-ws', 'TCP echo throughput, stelar-tcp vs ws', '>=', 1.5, echo('stelar-tcp', 'ws'), `geometric mean over the echo cells${eff('stelar-tcp', 'ws')}`),
      t('tcp-echo-net', 'TCP echo throughput, stelar-tcp vs raw net', '>=', 0.8, echo('stelar-tcp', 'net'), `geometric mean over the echo cells${eff('stelar-tcp', 'net')}`),
      t('fan-ws', 'fan-out server CPU per delivery, stelar-ws vs ws', '<=', 0.3, fan('stelar-ws', 'ws'), 'geometric mean over the room sizes'),
      t('fan-uws', 'fan-out server CPU per delivery, stelar-ws vs uWebSockets.js', '<=', 2, fan('stelar-ws', 'uws'), 'geometric mean over the room sizes'),
      t('p99', 'p99 latency at equal load, stelar-ws vs ws', '<=', 1, pick((r) => r.scenario === 'latency' && r.num === 'stelar-ws'), 'median of same-run ratios'),
    ];
    for (const kind of ['stelar-ws', 'stelar-tcp'] as const) {
      const cell = this.find('connections', kind, {});
      const v = cell?.median['rssPerConn'];
      const heap = cell?.median['heapPerConn'];
      const conns = cell?.median['conns'];
      out.push({
        id: `mem-${kind}`,
        label: `memory per idle connection, ${kind} (RSS)`,
        op: '<=',
        goal: 4096,
        unit: 'B',
        measured: v ?? null,
        met: v === undefined ? null : v <= 4096,
        basis: `RSS delta over ${conns ?? '?'} connections${heap !== undefined ? ` (heap alone: ${Math.round(heap)} B)` : ''}`,
      });
    }
    return out;
  }

  bundle(): BundleResult | null {
    return this.cfg.scenarios.includes('bundle') ? measureBundles(this.cfg.distDir) : null;
  }

  cellList(): Cell[] {
    return [...this.cells.values()];
  }
}

export function fmtSize(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}

function medianMetrics(runs: (Metrics | null)[]): Metrics {
  const keys = new Set<string>();
  for (const r of runs) if (r) for (const k of Object.keys(r)) keys.add(k);
  const out: Metrics = {};
  for (const k of keys) {
    const m = median(runs.map((r) => r?.[k]));
    if (m !== null) out[k] = m;
  }
  return out;
}

/** A self-signed ECDSA P-256 certificate for CN=localhost in a fresh temp dir. */
function makeCert(): string {
  const dir = mkdtempSync(join(os.tmpdir(), 'stelar-bench-tls-'));
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=localhost'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`openssl failed: ${r.error ? r.error.message : r.stderr.toString().trim()}`);
  }
  return dir;
}

/**
 * Recomputes the ratios and targets of saved results with this version of the harness (the
 * measurements are kept as they are).
 */
export function recompute(r: Results, log: (s: string) => void = () => undefined): Results {
  const cfg = { ...r.config, log, distDir: '', profileDir: '', repoRoot: '' } as SuiteConfig;
  const suite = new Suite(cfg);
  suite.load(r.cells, r.servers.filter((s) => s.status === 'ok').map((s) => s.kind));
  const ratios = suite.ratios();
  return { ...r, ratios, targets: suite.targets(ratios) };
}

/** Runs the whole suite and returns the results (processes are cleaned up on every path). */
export async function runSuite(cfg: SuiteConfig, command: string): Promise<Results> {
  const fdLimit = raiseFdLimit();
  const machine = describeMachine(fdLimit);
  const started = new Date();
  const suite = new Suite(cfg);
  try {
    cfg.log(`machine: ${machine.cores} × ${machine.cpuModel}, Node ${machine.node}, open files ${fdLimit.soft ?? '∞'}, load ${machine.loadAvgStart}`);
    await suite.prepare();
    await suite.runAll();
    const profiles = await suite.profiles();
    const heaps = await suite.heaps();
    const ratios = suite.ratios();
    const finished = new Date();
    machine.loadAvgEnd = Math.round(os.loadavg()[0]! * 100) / 100;
    const { log: _log, distDir: _d, profileDir: _p, repoRoot: _r, ...config } = cfg;
    return {
      schema: 'stelar-bench/1',
      preset: cfg.preset,
      command,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationS: Math.round((finished.getTime() - started.getTime()) / 100) / 10,
      machine,
      config,
      servers: suite.statuses,
      cells: suite.cellList(),
      ratios,
      targets: suite.targets(ratios),
      bundle: suite.bundle(),
      profiles,
      heaps,
      notes: suite.notes,
    };
  } finally {
    suite.dispose();
  }
}
