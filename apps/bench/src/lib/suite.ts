/**
 * The controller: measures every cell against every server that takes part in it, each server in
 * its own process pinned to one core and the load in separate generator processes pinned to the
 * other(s), in `rounds` interleaved rounds (cell by cell; the servers of a cell in a rotated order
 * each round), and reduces the rounds to medians, ranges and same-round ratios.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import { join, relative } from 'node:path';
import { measureBundles, type BundleResult } from './bundle';
import { childEnv, errorMessage, type ClientSpec, type GenCounters, type CpuStats, type ServerKind, type ServerStart, type ServerStats } from './common';
import { Child, killAllChildren } from './ipc';
import { choosePinning, describeMachine, pinPid, raiseFdLimit, type Machine, type Pinning } from './machine';
import { summarizeHeapDiff, summarizeProfile, type HeapSummary, type ProfileSummary } from './profile';
import { bufferutilAvailable, peerVersions, uwsAvailable } from './servers';
import { geomean, median, percentileSorted, range, sleep } from './stats';

/** What can be run (`--scenarios`). */
export const SCENARIOS = ['echo', 'rtt', 'fanout', 'connections', 'deflate', 'recovery', 'bundle'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/** What a result cell belongs to. */
export type CellScenario = 'echo' | 'rtt' | 'fanout' | 'connections' | 'deflate' | 'recovery';

/**
 * One echo shape. `table: 'one'`: one message in flight per connection (window 1), the
 * request/response pattern most applications have; `'pipelined'`: many messages in flight on a
 * connection, where batching (auto-cork) pays.
 */
export interface EchoSpec {
  /** Stable name, used by targets and profiles (`oif`, `large`, `pipe-32`…). */
  shape: string;
  table: 'one' | 'pipelined';
  conns: number;
  size: number;
  /** Messages in flight per connection. */
  window: number;
  servers: ServerKind[];
}

export interface SuiteConfig {
  preset: string;
  /** Interleaved rounds; every figure is the median over them, every ratio computed within one. */
  rounds: number;
  /** Servers to run (each cell further lists the ones it applies to). */
  servers: ServerKind[];
  scenarios: ScenarioName[];
  /** Measured window of every timed cell, and the warm-up before it. */
  durationMs: number;
  warmupMs: number;
  echo: EchoSpec[];
  /** Ping-pong round trips over one connection. */
  rtt: { size: number; servers: ServerKind[] };
  /**
   * Fan-out bursts: receivers join one room up to each size of `clients`; a publisher writes
   * `burst` broadcasts in one write and waits until every receiver has them all, again and again
   * until the window and `minBroadcasts` are both reached. With `single`, the same receivers then
   * get one broadcast per write, the next written only once every receiver has the previous one:
   * one broadcast per server event-loop turn, nothing for write coalescing to merge (the shape
   * of paced traffic). Its cells have `burst: 1`. Absent from results saved before the suite had it.
   */
  fanout: { clients: number[]; burst: number; single?: boolean; minBroadcasts: number; size: number; generators: number; concurrency: number; servers: ServerKind[] };
  /**
   * Connection setup and idle memory: `memConns` idle connections are opened (memory measured
   * after a full GC against a baseline taken before them), then batches of `batch` are opened and
   * closed again until the handshakes have taken the measured window; setups per second over all.
   */
  connections: { memConns: number; batch: number; generators: number; concurrency: number; settleMs: number; servers: ServerKind[] };
  deflate: { conns: number; size: number; inflight: number; servers: ServerKind[] };
  /**
   * Connection-state recovery (issue 12): the fan-out load (bursts and size of `fanout`) to
   * `clients` receivers that opt in, with recovery off then on in the same round (CPU per
   * delivery); and `absent` opted-in connections whose sockets are destroyed, so the server keeps
   * them as absent sessions (memory per absent session, after a full GC, against a baseline taken
   * before they connected).
   */
  recovery: { clients: number; absent: number; servers: ServerKind[] };
  /**
   * Servers measured at the same time within a cell. 1 for real runs (anything else skews the
   * figures); the smoke preset uses more, as it only checks that everything works.
   */
  parallel: number;
  /** Extra loopback source addresses (127.0.0.2…) for the many-connection cells; -1 = automatic. */
  sourceAddresses: number;
  /** Pin servers and generators to separate cores with `taskset` when it exists. */
  pin: boolean;
  /** CPU profiles of the Stelar server, one per target cell, over a window of their own. */
  profile: {
    enabled: boolean;
    durationMs: number;
    jobs: ProfileJobId[];
    /** Heap snapshots before and after `heapConns` idle connections, per server listed. */
    heapServers: ServerKind[];
    heapConns: number;
  };
  /** Extra Node options for the Stelar server processes only (experiments: `--import ./patch.mjs`…). */
  stelarExecArgv: string[];
  /** Directory holding the built `server.js` and `generator.js`. */
  distDir: string;
  /** Where `.cpuprofile` files go. */
  profileDir: string;
  /** Paths in the results are made relative to this directory. */
  repoRoot: string;
  log: (line: string) => void;
}

export const PROFILE_JOBS = ['oif-ws', 'oif-tcp', 'large-ws', 'pipe-tcp', 'rtt-ws', 'fan-ws', 'fan1-ws', 'setup-ws'] as const;
export type ProfileJobId = (typeof PROFILE_JOBS)[number];

export type Metrics = Record<string, number>;

export interface Cell {
  scenario: CellScenario;
  server: ServerKind;
  params: Record<string, number | string>;
  /** One entry per round (null: that round failed, see `errors`). */
  runs: (Metrics | null)[];
  median: Metrics;
  min: Metrics;
  max: Metrics;
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
  /** Ratio within each round (null when either side failed), their median and range. */
  perRun: (number | null)[];
  median: number | null;
  min: number | null;
  max: number | null;
}

export interface Target {
  id: string;
  /** The row of issue 13's table. */
  row: string;
  label: string;
  op: '>=' | '<=';
  goal: number;
  unit: 'x' | 'B';
  /** Per round, then the median and range of those. */
  perRun: (number | null)[];
  measured: number | null;
  min: number | null;
  max: number | null;
  met: boolean | null;
  /** Which cell(s) and metric. */
  basis: string;
  /** The profile (or heap snapshot) of the Stelar side of this target. */
  profile?: string;
  /**
   * For a throughput target: the same comparison as CPU efficiency (the other server's CPU per
   * message or per setup ÷ Stelar's), per round then median and range. Throughput equals it when both
   * servers are CPU-bound; when they are not (a busy machine), it is the steadier figure.
   */
  cpuCheck?: { perRun: (number | null)[]; median: number | null; min: number | null; max: number | null };
  note?: string;
}

export interface ServerStatus {
  kind: ServerKind;
  status: 'ok' | 'skipped';
  note?: string;
}

export interface Results {
  schema: 'stelar-bench/2';
  preset: string;
  command: string;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  machine: Machine;
  /** 1-minute load average sampled every 5 s over the run. */
  load: { start: number; end: number; min: number; median: number; max: number; samples: number };
  /** taskset CPU lists, or null when the processes were not pinned. */
  pinning: Pinning | null;
  versions: Partial<Record<string, string>>;
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
  /** CPU time and connection count (cheap; taken at the edges of every window). */
  stats(): Promise<CpuStats>;
  /** Everything, with memory, after a full GC. */
  gcStats(): Promise<ServerStats>;
}

/** A server and its generators (forked in parallel: process start-up is slow on a loaded machine). */
interface Procs {
  server: ServerProc;
  gens: Child[];
}

/** A window the CPU profiler is started and stopped around. */
interface Window {
  start: () => Promise<void>;
  stop: () => Promise<void>;
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

async function initGen(gen: Child, spec: ClientSpec): Promise<Child> {
  await gen.call('init', { spec }, 30_000);
  return gen;
}

const cpuOf = (s: CpuStats): number => s.user + s.system;
const genCpuOf = (g: GenCounters): number => g.user + g.system;
const load1 = (): number => os.loadavg()[0] ?? Number.NaN;

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

function checkClean(label: string, c: GenCounters): void {
  if (c.errors > 0 || c.closed > 0) throw new Error(`${label}: ${c.errors} error frames, ${c.closed} connections closed by the server`);
}

/** Splits `n` into `parts` nearly equal integers. */
function split(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

export function fmtSize(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}

export function echoParams(e: EchoSpec): Record<string, number | string> {
  return { shape: e.shape, table: e.table, conns: e.conns, size: e.size, window: e.window };
}

export function echoLabel(e: Pick<EchoSpec, 'conns' | 'size' | 'window'>): string {
  return `${e.conns} conn${e.conns === 1 ? '' : 's'} × ${e.window} in flight × ${fmtSize(e.size)}`;
}

/** A unit of a round: one cell shape, run once per server. */
interface Unit {
  label: string;
  servers: ServerKind[];
  run: (kind: ServerKind, round: number) => Promise<void>;
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
  pinning: Pinning | null = null;

  constructor(readonly cfg: SuiteConfig) {}

  private log(s: string): void {
    this.cfg.log(s);
  }

  private cell(scenario: CellScenario, server: ServerKind, params: Record<string, number | string>): Cell {
    const key = `${scenario}|${server}|${JSON.stringify(params)}`;
    let c = this.cells.get(key);
    if (!c) {
      c = { scenario, server, params, runs: Array.from({ length: this.cfg.rounds }, () => null), median: {}, min: {}, max: {}, errors: [] };
      this.cells.set(key, c);
    }
    return c;
  }

  private find(scenario: CellScenario, server: ServerKind, params: Record<string, number | string>): Cell | undefined {
    return this.cells.get(`${scenario}|${server}|${JSON.stringify(params)}`);
  }

  /** Runs a measurement; a failure is recorded in its cell(s) and does not stop the suite. */
  private async attempt(label: string, cells: () => Cell[], round: number, fn: () => Promise<void>): Promise<void> {
    const t0 = Date.now();
    try {
      await fn();
      this.log(`    ${label}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } catch (err) {
      const msg = `round ${round + 1}: ${errorMessage(err)}`;
      for (const c of cells()) c.errors.push(msg);
      this.log(`    ${label}: FAILED ${errorMessage(err)}`);
    }
  }

  async prepare(): Promise<void> {
    const wanted = new Set(this.cfg.servers);
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
      if (kind === 'ws-bu') {
        const b = bufferutilAvailable();
        if (!b.ok) {
          this.statuses.push({ kind, status: 'skipped', note: `skipped: ${b.reason}` });
          this.log(`note: ws + bufferutil skipped: ${b.reason}`);
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
    if (!wanted.has('uws')) this.statuses.push({ kind: 'uws', status: 'skipped', note: 'skipped: not selected (--servers)' });
    this.pinning = this.cfg.pin ? choosePinning(os.cpus().length) : null;
    this.log(
      this.pinning
        ? `pinning (taskset): server processes on CPU ${this.pinning.server}, load generators on CPU ${this.pinning.load}`
        : `pinning: off (${this.cfg.pin ? 'taskset missing or a single core' : 'disabled'})`,
    );
    const c = this.cfg.connections;
    const many = c.memConns + c.batch + 1;
    if (this.cfg.sourceAddresses >= 0) this.sourceAddresses = this.cfg.sourceAddresses;
    else {
      // Each server has its own port, so the kernel can reuse ephemeral ports across servers; extra
      // source addresses only when one server's connections could exhaust half the range.
      const r = describeMachine({ soft: null, hard: null, raised: false }).ephemeralPorts;
      const usable = r ? (r.high - r.low + 1) / 2 : 14_000;
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

  private spec(kind: ServerKind, port: number, size: number, deflate: boolean, many = false, recover = false): ClientSpec {
    return { kind, port, size, deflate, sourceAddresses: many ? this.sourceAddresses : 0, ...(recover ? { recover } : {}) };
  }

  private pin(child: Child, cores: string | undefined): void {
    const pid = child.pid;
    if (cores === undefined || pid === undefined) return;
    if (!pinPid(pid, cores)) this.log(`    warning: taskset could not pin ${child.name} (pid ${pid}) to CPU ${cores}`);
  }

  private async startServer(kind: ServerKind, room: boolean, deflate: boolean, recovery = false): Promise<ServerProc> {
    const extra = kind.startsWith('stelar-') ? this.cfg.stelarExecArgv : [];
    const start: ServerStart = { kind, room, deflate, certDir: this.certDir, ...(recovery ? { recovery } : {}) };
    const child = Child.fork(`server ${kind}`, join(this.cfg.distDir, 'server.js'), ['--expose-gc', ...extra], childEnv(kind));
    this.pin(child, this.pinning?.server);
    try {
      const { port } = await child.call<{ port: number }>('start', { ...start }, 30_000);
      return {
        child,
        port,
        stats: () => child.call<CpuStats>('stats', {}, 60_000),
        gcStats: () => child.call<ServerStats>('gc', {}, 60_000),
      };
    } catch (err) {
      child.kill();
      throw err;
    }
  }

  /** Forks the server and `n` generators at once; everything is stopped if a start fails. */
  private async procs(kind: ServerKind, room: boolean, deflate: boolean, n: number, recovery = false): Promise<Procs> {
    const gens = Array.from({ length: n }, (_, i) => {
      const g = Child.fork(`generator ${i} (${kind})`, join(this.cfg.distDir, 'generator.js'), [], childEnv(undefined));
      this.pin(g, this.pinning?.load);
      return g;
    });
    try {
      const server = await this.startServer(kind, room, deflate, recovery);
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

  private async withProcs<T>(kind: ServerKind, room: boolean, deflate: boolean, n: number, fn: (p: Procs) => Promise<T>, recovery = false): Promise<T> {
    let p: Procs | undefined;
    try {
      p = await this.procs(kind, room, deflate, n, recovery);
      return await fn(p);
    } finally {
      await this.stopProcs(p);
    }
  }

  private serversOf(list: readonly ServerKind[]): ServerKind[] {
    return list.filter((k) => this.available.includes(k));
  }

  /** Every unit of a round, in order: echo shapes, RTT, fan-out, connections, deflate. */
  private units(): Unit[] {
    const { cfg } = this;
    const out: Unit[] = [];
    const has = (s: ScenarioName): boolean => cfg.scenarios.includes(s);
    if (has('echo')) {
      for (const e of cfg.echo) {
        out.push({
          label: `echo ${e.table === 'one' ? 'one in flight' : 'pipelined'}, ${echoLabel(e)}`,
          servers: this.serversOf(e.servers),
          run: (kind, round) => this.echoCell(e, kind, round),
        });
      }
    }
    if (has('rtt')) out.push({ label: `round trips, 1 connection × ${fmtSize(cfg.rtt.size)}`, servers: this.serversOf(cfg.rtt.servers), run: (k, r) => this.rttCell(k, r) });
    if (has('fanout')) {
      const f = cfg.fanout;
      const shapes = fanBursts(f).map((b) => (b === 1 ? 'one broadcast per turn' : `bursts of ${b}`));
      out.push({ label: `fan-out (${shapes.join(', then ')}) to ${f.clients.join(', ')} clients`, servers: this.serversOf(f.servers), run: (k, r) => this.fanCell(k, r) });
    }
    if (has('connections')) {
      out.push({ label: `connection setup and idle memory (${cfg.connections.memConns} idle)`, servers: this.serversOf(cfg.connections.servers), run: (k, r) => this.connCell(k, r) });
    }
    if (has('deflate')) {
      for (const mode of ['off', 'on'] as const) {
        out.push({ label: `permessage-deflate ${mode}`, servers: this.serversOf(cfg.deflate.servers), run: (k, r) => this.deflateCell(mode, k, r) });
      }
    }
    if (has('recovery')) {
      const rc = cfg.recovery;
      out.push({ label: `connection-state recovery: fan-out to ${rc.clients} clients off / on, ${rc.absent} absent sessions`, servers: this.serversOf(rc.servers), run: (k, r) => this.recoveryCell(k, r) });
    }
    return out;
  }

  async runAll(): Promise<void> {
    const { cfg } = this;
    const units = this.units();
    for (let round = 0; round < cfg.rounds; round++) {
      this.log(`round ${round + 1}/${cfg.rounds}`);
      for (const u of units) {
        if (u.servers.length === 0) continue;
        // Rotated each round, so no server is always measured first (or right after another).
        const order = u.servers.map((_, i) => u.servers[(i + round) % u.servers.length]!);
        this.log(`  ${u.label} (${order.join(', ')})`);
        const width = Math.max(1, cfg.parallel);
        for (let i = 0; i < order.length; i += width) {
          await Promise.all(order.slice(i, i + width).map((kind) => u.run(kind, round)));
        }
      }
    }
    for (const c of this.cells.values()) reduceCell(c);
  }

  // -------------------------------------------------------------------------------------------
  // Echo

  /** Echo throughput: closed loop, `window` messages in flight per connection, on fresh connections. */
  private async echoLoad(p: Procs, kind: ServerKind, conns: number, size: number, deflate: boolean, window: number, durationMs: number, w?: Window): Promise<Metrics> {
    const { server } = p;
    const gen = await initGen(p.gens[0]!, this.spec(kind, server.port, size, deflate));
    await connect(gen, conns, 64);
    await gen.call('echoStart', { window });
    await sleep(this.cfg.warmupMs);
    await w?.start();
    const m0 = machineBusyMicros();
    const [g0, s0] = await Promise.all([gen.call<GenCounters>('counters'), server.stats()]);
    await sleep(durationMs);
    const [g1, s1] = await Promise.all([gen.call<GenCounters>('counters'), server.stats()]);
    const m1 = machineBusyMicros();
    await w?.stop();
    await gen.call('echoStop');
    checkClean(`${kind} echo`, g1);
    const msgs = g1.messages - g0.messages;
    if (msgs <= 0) throw new Error('no echo came back');
    const secs = (g1.at - g0.at) / 1000;
    return {
      msgsPerSec: msgs / secs,
      messages: msgs,
      windowS: secs,
      payloadMBps: (msgs * size) / secs / 1e6,
      serverCpuUsPerMsg: (cpuOf(s1) - cpuOf(s0)) / msgs,
      serverUserUsPerMsg: (s1.user - s0.user) / msgs,
      serverSysUsPerMsg: (s1.system - s0.system) / msgs,
      serverCpuPct: ((cpuOf(s1) - cpuOf(s0)) / 1000 / (s1.at - s0.at)) * 100,
      genCpuPct: ((genCpuOf(g1) - genCpuOf(g0)) / 1000 / (g1.at - g0.at)) * 100,
      otherCpuPct: otherCpuPct(m0, m1, cpuOf(s1) - cpuOf(s0) + genCpuOf(g1) - genCpuOf(g0), g1.at - g0.at),
      wireBytesPerMsg: (g1.bytes - g0.bytes) / msgs,
      loadAvg1: load1(),
    };
  }

  private async echoCell(e: EchoSpec, kind: ServerKind, round: number): Promise<void> {
    const cell = this.cell('echo', kind, echoParams(e));
    await this.attempt(`${kind} ${e.shape}`, () => [cell], round, async () => {
      cell.runs[round] = await this.withProcs(kind, false, false, 1, (p) => this.echoLoad(p, kind, e.conns, e.size, false, e.window, this.cfg.durationMs));
    });
  }

  private async deflateCell(mode: 'off' | 'on', kind: ServerKind, round: number): Promise<void> {
    const d = this.cfg.deflate;
    const cell = this.cell('deflate', kind, { deflate: mode, conns: d.conns, size: d.size });
    await this.attempt(`${kind} deflate ${mode}`, () => [cell], round, async () => {
      const window = Math.max(1, Math.floor(d.inflight / d.conns));
      cell.runs[round] = await this.withProcs(kind, false, mode === 'on', 1, (p) => this.echoLoad(p, kind, d.conns, d.size, mode === 'on', window, this.cfg.durationMs));
    });
  }

  // -------------------------------------------------------------------------------------------
  // Round trips

  /** Ping-pong over one connection: one message in flight, every round trip timed. */
  private async rttLoad(p: Procs, kind: ServerKind, durationMs: number, w?: Window): Promise<Metrics> {
    const { server } = p;
    const gen = await initGen(p.gens[0]!, this.spec(kind, server.port, this.cfg.rtt.size, false));
    await connect(gen, 1, 1);
    await gen.call('rttStart');
    await sleep(this.cfg.warmupMs);
    await w?.start();
    await server.child.call('loopDelayStart');
    const m0 = machineBusyMicros();
    const [g0, s0] = await Promise.all([gen.call<GenCounters>('rttRecord', { on: true }), server.stats()]);
    await sleep(durationMs);
    const [g1, s1] = await Promise.all([gen.call<GenCounters>('rttRecord', { on: false }), server.stats()]);
    const m1 = machineBusyMicros();
    const loop = await server.child.call<{ p50Ms: number; p99Ms: number; maxMs: number }>('loopDelayStop');
    await w?.stop();
    const r = await gen.call<{ count: number; p50Ms: number; p90Ms: number; p99Ms: number; p999Ms: number; maxMs: number }>('rttStop', {}, 60_000);
    checkClean(`${kind} rtt`, g1);
    if (r.count === 0) throw new Error('no round trip completed');
    const msgs = g1.messages - g0.messages;
    return {
      p50Us: r.p50Ms * 1000,
      p90Us: r.p90Ms * 1000,
      p99Us: r.p99Ms * 1000,
      p999Us: r.p999Ms * 1000,
      maxUs: r.maxMs * 1000,
      roundTrips: r.count,
      roundTripsPerSec: msgs / ((g1.at - g0.at) / 1000),
      serverCpuUsPerMsg: msgs > 0 ? (cpuOf(s1) - cpuOf(s0)) / msgs : Number.NaN,
      serverUserUsPerMsg: msgs > 0 ? (s1.user - s0.user) / msgs : Number.NaN,
      loopDelayP99Ms: loop.p99Ms,
      loopDelayMaxMs: loop.maxMs,
      otherCpuPct: otherCpuPct(m0, m1, cpuOf(s1) - cpuOf(s0) + genCpuOf(g1) - genCpuOf(g0), g1.at - g0.at),
      loadAvg1: load1(),
    };
  }

  private async rttCell(kind: ServerKind, round: number): Promise<void> {
    const cell = this.cell('rtt', kind, { conns: 1, size: this.cfg.rtt.size });
    await this.attempt(`${kind} rtt`, () => [cell], round, async () => {
      cell.runs[round] = await this.withProcs(kind, false, false, 1, (p) => this.rttLoad(p, kind, this.cfg.durationMs));
    });
  }

  // -------------------------------------------------------------------------------------------
  // Fan-out

  /** Connects a publisher on the first generator (receivers come with {@link grow}). */
  private async fanSetup(p: Procs, kind: ServerKind, size: number, recover = false): Promise<void> {
    await Promise.all(p.gens.map((g) => initGen(g, this.spec(kind, p.server.port, size, false, true, recover))));
    await p.gens[0]!.call('connectPublisher');
  }

  /** Opens `n` more connections, spread over the generators; resolves with the time it took (ms). */
  private async grow(p: Procs, n: number, concurrency: number): Promise<number> {
    const shares = split(n, p.gens.length);
    const perGen = Math.max(1, Math.round(concurrency / p.gens.length));
    const t0 = performance.now();
    await Promise.all(p.gens.map((gen, i) => connect(gen, shares[i] ?? 0, perGen)));
    return performance.now() - t0;
  }

  /** One burst of `burst` broadcasts; resolves with the µs from the write to the last receiver. */
  private async fanBurst(p: Procs, round: number, burst: number): Promise<number> {
    const t0 = await p.gens[0]!.call<number>('publish', { count: burst });
    const ts = await Promise.all(p.gens.map((gen) => gen.call<number>('waitRound', { round }, 120_000)));
    return Math.max(...ts) - t0;
  }

  /**
   * Bursts of `burst` broadcasts (one write each) until the window and `minBroadcasts` are
   * reached, after one warm-up burst. With `burst` 1 every broadcast is its own write, sent once
   * the previous one reached every receiver: one broadcast per server turn.
   */
  private async fanLoad(p: Procs, clients: number, durationMs: number, w?: Window, burst = this.cfg.fanout.burst): Promise<Metrics> {
    const f = this.cfg.fanout;
    await Promise.all(p.gens.map((gen) => gen.call('fanReset', { burst })));
    let round = 0;
    await this.fanBurst(p, ++round, burst);
    await w?.start();
    const m0 = machineBusyMicros();
    const g0 = await Promise.all(p.gens.map((gen) => gen.call<GenCounters>('counters')));
    const s0 = await p.server.stats();
    const t0 = performance.now();
    const times: number[] = [];
    let broadcasts = 0;
    while (performance.now() - t0 < durationMs || broadcasts < f.minBroadcasts) {
      times.push(await this.fanBurst(p, ++round, burst));
      broadcasts += burst;
    }
    const s1 = await p.server.stats();
    const g1 = await Promise.all(p.gens.map((gen) => gen.call<GenCounters>('counters')));
    const m1 = machineBusyMicros();
    const wall = performance.now() - t0;
    await w?.stop();
    for (const c of g1) checkClean('fan-out', c);
    const deliveries = broadcasts * clients;
    const got = sum(g1.map((c, i) => c.messages - (g0[i]?.messages ?? 0)));
    if (got !== deliveries) throw new Error(`fan-out: ${got} deliveries counted, ${deliveries} expected`);
    const sorted = times.sort((a, b) => a - b);
    const genCpu = sum(g1.map((c, i) => genCpuOf(c) - (g0[i] ? genCpuOf(g0[i]) : 0)));
    return {
      serverCpuUsPerDelivery: (cpuOf(s1) - cpuOf(s0)) / deliveries,
      serverUserUsPerDelivery: (s1.user - s0.user) / deliveries,
      serverSysUsPerDelivery: (s1.system - s0.system) / deliveries,
      deliveriesPerSec: deliveries / (wall / 1000),
      broadcasts,
      deliveries,
      burstMs: percentileSorted(sorted, 50) / 1000,
      burstMaxMs: sorted[sorted.length - 1]! / 1000,
      serverCpuPct: ((cpuOf(s1) - cpuOf(s0)) / 1000 / (s1.at - s0.at)) * 100,
      otherCpuPct: otherCpuPct(m0, m1, cpuOf(s1) - cpuOf(s0) + genCpu, wall),
      loadAvg1: load1(),
    };
  }

  private async fanCell(kind: ServerKind, round: number): Promise<void> {
    const f = this.cfg.fanout;
    const sizes = [...f.clients].sort((a, b) => a - b);
    const bursts = fanBursts(f);
    const cells = (): Cell[] => sizes.flatMap((clients) => bursts.map((burst) => this.cell('fanout', kind, { clients, size: f.size, burst })));
    await this.attempt(`${kind} fan-out`, cells, round, async () => {
      await this.withProcs(kind, true, false, Math.max(1, f.generators), async (p) => {
        await this.fanSetup(p, kind, f.size);
        let have = 0;
        for (const clients of sizes) {
          await this.grow(p, clients - have, f.concurrency);
          have = clients;
          await sleep(100);
          // The same receivers for both shapes: bursts, then one broadcast per turn.
          for (const burst of bursts) {
            this.cell('fanout', kind, { clients, size: f.size, burst }).runs[round] = await this.fanLoad(p, clients, this.cfg.durationMs, undefined, burst);
          }
        }
      });
    });
  }

  // -------------------------------------------------------------------------------------------
  // Connection-state recovery

  recoveryParams(mode: 'off' | 'on'): Record<string, number | string> {
    const f = this.cfg.fanout;
    return { recovery: mode, clients: this.cfg.recovery.clients, size: f.size, burst: f.burst };
  }

  /**
   * The fan-out load with recovery off and on (receivers opt in either way: with it off the
   * server ignores that), in the same round, alternating which goes first; then the memory
   * absent sessions hold.
   */
  private async recoveryCell(kind: ServerKind, round: number): Promise<void> {
    const f = this.cfg.fanout;
    const rc = this.cfg.recovery;
    const absentCell = (): Cell => this.cell('recovery', kind, { absent: rc.absent });
    const cells = (): Cell[] => [this.cell('recovery', kind, this.recoveryParams('off')), this.cell('recovery', kind, this.recoveryParams('on')), absentCell()];
    await this.attempt(`${kind} recovery`, cells, round, async () => {
      const modes = round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
      for (const mode of modes) {
        this.cell('recovery', kind, this.recoveryParams(mode)).runs[round] = await this.withProcs(
          kind,
          true,
          false,
          Math.max(1, f.generators),
          async (p) => {
            await this.fanSetup(p, kind, f.size, true);
            await this.grow(p, rc.clients, f.concurrency);
            await sleep(100);
            return this.fanLoad(p, rc.clients, this.cfg.durationMs);
          },
          mode === 'on',
        );
      }
      absentCell().runs[round] = await this.withProcs(kind, true, false, Math.max(1, f.generators), (p) => this.absentLoad(p, kind), true);
    });
  }

  /**
   * Opens `absent` opted-in connections (each in the room), destroys their sockets, and measures
   * what the server keeps. A warm-up batch goes through the same first, so the code compiled for
   * it (JIT) is in the baseline and not counted per session.
   */
  private async absentLoad(p: Procs, kind: ServerKind): Promise<Metrics> {
    const rc = this.cfg.recovery;
    const f = this.cfg.fanout;
    await Promise.all(p.gens.map((g) => initGen(g, this.spec(kind, p.server.port, 32, false, true, true))));
    const cutAll = async (n: number, total: number): Promise<void> => {
      const shares = split(n, p.gens.length);
      await Promise.all(p.gens.map((gen, i) => gen.call('disconnect', { count: shares[i] ?? 0 }, 60_000)));
      const t0 = performance.now();
      for (;;) {
        const s = await p.server.child.call<Record<string, number> | null>('recoveryStats');
        if ((s?.['absentSessions'] ?? 0) >= total) break;
        if (performance.now() - t0 > 30_000) throw new Error(`the server keeps ${s?.['absentSessions'] ?? 0} of ${total} sessions`);
        await sleep(20);
      }
      await this.serverDownTo(p, 0);
    };
    const warm = Math.max(20, Math.round(rc.absent / 10));
    await this.grow(p, warm, f.concurrency);
    await cutAll(warm, warm);
    await sleep(100);
    const before = await p.server.gcStats();
    await this.grow(p, rc.absent, f.concurrency);
    await sleep(100);
    const live = await p.server.gcStats();
    await cutAll(rc.absent, warm + rc.absent);
    const after = await p.server.gcStats();
    const per = (a: number, b: number): number => (a - b) / rc.absent;
    return {
      absent: rc.absent,
      rssPerAbsent: per(after.rss, before.rss),
      heapPerAbsent: per(after.heapUsed, before.heapUsed),
      externalPerAbsent: per(after.external, before.external),
      arrayBuffersPerAbsent: per(after.arrayBuffers, before.arrayBuffers),
      heapPerLive: per(live.heapUsed, before.heapUsed),
      rssPerLive: per(live.rss, before.rss),
      loadAvg1: load1(),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Connections

  /** Waits until the server counts at most `n` connections (after closes). */
  private async serverDownTo(p: Procs, n: number, timeoutMs = 30_000): Promise<void> {
    const t0 = performance.now();
    for (;;) {
      const s = await p.server.stats();
      if (s.connections <= n) return;
      if (performance.now() - t0 > timeoutMs) throw new Error(`server still counts ${s.connections} connections (expected ${n})`);
      await sleep(20);
    }
  }

  private async connCell(kind: ServerKind, round: number): Promise<void> {
    const c = this.cfg.connections;
    const cell = this.cell('connections', kind, { memConns: c.memConns });
    await this.attempt(`${kind} connections`, () => [cell], round, async () => {
      cell.runs[round] = await this.withProcs(kind, false, false, Math.max(1, c.generators), async (p) => {
        await Promise.all(p.gens.map((g) => initGen(g, this.spec(kind, p.server.port, 32, false, true))));
        await sleep(100);
        const before = await p.server.gcStats();
        const g0 = await Promise.all(p.gens.map((gen) => gen.call<GenCounters>('counters')));
        const m0 = machineBusyMicros();
        const t0 = performance.now();
        let setupMs = 0;
        let opened = 0;
        /** Server CPU time spent while handshakes were timed (µs): is the server the bottleneck? */
        let setupCpu = 0;
        const timedGrow = async (n: number): Promise<void> => {
          const a = await p.server.stats();
          setupMs += await this.grow(p, n, c.concurrency);
          const b = await p.server.stats();
          setupCpu += cpuOf(b) - cpuOf(a);
          opened += n;
        };
        for (let have = 0; have < c.memConns; ) {
          const n = Math.min(c.batch, c.memConns - have);
          await timedGrow(n);
          have += n;
        }
        await sleep(c.settleMs);
        const after = await p.server.gcStats();
        if (after.connections < c.memConns) throw new Error(`server counts ${after.connections} of ${c.memConns} connections`);
        // Setup rate over the measured window: batches opened on top of the idle ones, then closed
        // (at least one, so the rate always includes setups next to the idle connections).
        for (let first = true; first || setupMs < this.cfg.durationMs; first = false) {
          await timedGrow(c.batch);
          const shares = split(c.batch, p.gens.length);
          await Promise.all(p.gens.map((gen, i) => gen.call('disconnect', { count: shares[i] ?? 0 }, 60_000)));
          await this.serverDownTo(p, c.memConns);
        }
        const g1 = await Promise.all(p.gens.map((gen) => gen.call<GenCounters>('counters')));
        const end = await p.server.stats();
        const m1 = machineBusyMicros();
        for (const x of g1) checkClean(`${kind} connections`, x);
        const genCpu = sum(g1.map((x, i) => genCpuOf(x) - (g0[i] ? genCpuOf(g0[i]) : 0)));
        return {
          // Over the whole cell (setups, GC, closes), not only the timed handshakes.
          otherCpuPct: otherCpuPct(m0, m1, cpuOf(end) - cpuOf(before) + genCpu, performance.now() - t0),
          setupPerSec: opened / (setupMs / 1000),
          opened,
          setupS: setupMs / 1000,
          genCpuPctOfSetup: (genCpu / 1000 / setupMs) * 100,
          serverCpuPctOfSetup: (setupCpu / 1000 / setupMs) * 100,
          serverCpuUsPerSetup: setupCpu / opened,
          conns: c.memConns,
          rssPerConn: (after.rss - before.rss) / c.memConns,
          // Of which: pages of mapped files (code touched for the first time during the storm,
          // not held per connection) and resident V8 heap pages (the young generation grows
          // during the storm; V8 gives it back once the process idles).
          rssFilePerConn: (after.rssFile - before.rssFile) / c.memConns,
          v8PhysicalPerConn: (after.v8Physical - before.v8Physical) / c.memConns,
          heapPerConn: (after.heapUsed - before.heapUsed) / c.memConns,
          heapTotalPerConn: (after.heapTotal - before.heapTotal) / c.memConns,
          externalPerConn: (after.external - before.external) / c.memConns,
          arrayBuffersPerConn: (after.arrayBuffers - before.arrayBuffers) / c.memConns,
          loadAvg1: load1(),
        };
      });
    });
  }

  // -------------------------------------------------------------------------------------------
  // Profiles

  /** CPU profiles of the Stelar server, each over the load of one target cell. */
  async profiles(): Promise<ProfileSummary[]> {
    const p = this.cfg.profile;
    if (!p.enabled) return [];
    const out: ProfileSummary[] = [];
    mkdirSync(this.cfg.profileDir, { recursive: true });
    // Each job profiles only its measured window (V8's CPU profiler through node:inspector, the
    // profiler --cpu-prof uses), so start-up and connection set-up stay out of the profiles.
    const echo = (shape: string): EchoSpec | undefined => this.cfg.echo.find((e) => e.shape === shape);
    const pipe = this.cfg.echo.find((e) => e.table === 'pipelined');
    const f = this.cfg.fanout;
    const c = this.cfg.connections;
    type Job = { id: ProfileJobId; label: string; kind: ServerKind; gens: number; room: boolean; run: (p: Procs, w: Window) => Promise<unknown> };
    const jobs: Job[] = [];
    const echoJob = (id: ProfileJobId, kind: ServerKind, e: EchoSpec | undefined): void => {
      if (!e) return;
      jobs.push({ id, label: `${kind} echo, ${echoLabel(e)}`, kind, gens: 1, room: false, run: (procs, w) => this.echoLoad(procs, kind, e.conns, e.size, false, e.window, p.durationMs, w) });
    };
    echoJob('oif-ws', 'stelar-ws', echo('oif'));
    echoJob('oif-tcp', 'stelar-tcp', echo('oif'));
    echoJob('large-ws', 'stelar-ws', echo('large'));
    echoJob('pipe-tcp', 'stelar-tcp', pipe);
    jobs.push({ id: 'rtt-ws', label: `stelar-ws round trips, 1 connection × ${fmtSize(this.cfg.rtt.size)}`, kind: 'stelar-ws', gens: 1, room: false, run: (procs, w) => this.rttLoad(procs, 'stelar-ws', p.durationMs, w) });
    const fanClients = Math.max(...f.clients);
    jobs.push({
      id: 'fan-ws',
      label: `stelar-ws fan-out bursts of ${f.burst} to ${fanClients} clients`,
      kind: 'stelar-ws',
      gens: Math.max(1, f.generators),
      room: true,
      run: async (procs, w) => {
        await this.fanSetup(procs, 'stelar-ws', f.size);
        await this.grow(procs, fanClients, f.concurrency);
        await sleep(100);
        await this.fanLoad(procs, fanClients, p.durationMs, w);
      },
    });
    if (f.single === true) {
      jobs.push({
        id: 'fan1-ws',
        label: `stelar-ws fan-out, one broadcast per turn to ${fanClients} clients`,
        kind: 'stelar-ws',
        gens: Math.max(1, f.generators),
        room: true,
        run: async (procs, w) => {
          await this.fanSetup(procs, 'stelar-ws', f.size);
          await this.grow(procs, fanClients, f.concurrency);
          await sleep(100);
          await this.fanLoad(procs, fanClients, p.durationMs, w, 1);
        },
      });
    }
    jobs.push({
      id: 'setup-ws',
      label: `stelar-ws connection setup, ${c.memConns} connections`,
      kind: 'stelar-ws',
      gens: Math.max(1, c.generators),
      room: false,
      run: async (procs, w) => {
        await Promise.all(procs.gens.map((g) => initGen(g, this.spec('stelar-ws', procs.server.port, 32, false, true))));
        await w.start();
        await this.grow(procs, c.memConns, c.concurrency);
        await w.stop();
      },
    });
    for (const job of jobs) {
      if (!p.jobs.includes(job.id) || !this.available.includes(job.kind)) continue;
      const file = join(this.cfg.profileDir, `${job.id}.cpuprofile`);
      rmSync(file, { force: true });
      this.log(`  profile ${job.id}: ${job.label}`);
      try {
        await this.withProcs(job.kind, job.room, false, job.gens, async (procs) => {
          const child = procs.server.child;
          await job.run(procs, {
            start: async () => {
              await child.call('profileStart');
            },
            stop: async () => {
              await child.call('profileStop', { file }, 120_000);
            },
          });
        });
        const s = summarizeProfile(file, job.label, 15, this.cfg.repoRoot);
        out.push({ ...s, id: job.id, file: relative(this.cfg.repoRoot, file) });
      } catch (err) {
        this.log(`    profile failed: ${errorMessage(err)}`);
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
      try {
        await this.withProcs(kind, false, false, 1, async (procs) => {
          const gen = await initGen(procs.gens[0]!, this.spec(kind, procs.server.port, 32, false, true));
          // A warm-up batch first, so the code compiled for the first connections (JIT) is in
          // the baseline and not counted per connection.
          await connect(gen, Math.max(1, Math.round(p.heapConns / 10)), 64);
          await sleep(300);
          await procs.server.child.call('heapSnapshot', { file: before }, 120_000);
          await connect(gen, p.heapConns, 64);
          await sleep(300);
          await procs.server.child.call('heapSnapshot', { file: after }, 120_000);
        });
        out.push({ ...summarizeHeapDiff(before, after, p.heapConns, label), kind });
      } catch (err) {
        this.log(`    heap snapshot failed: ${errorMessage(err)}`);
      } finally {
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
    const add = (scenario: CellScenario, metric: string, params: Record<string, number | string>, num: ServerKind, den: ServerKind, label: string): void => {
      const a = this.find(scenario, num, params);
      const b = this.find(scenario, den, params);
      if (!a || !b) return;
      const perRun = a.runs.map((ra, i) => {
        const x = ra?.[metric];
        const y = b.runs[i]?.[metric];
        return x !== undefined && y !== undefined && y !== 0 && Number.isFinite(x) && Number.isFinite(y) ? x / y : null;
      });
      const id = `${scenario}:${metric}:${num}/${den}:${JSON.stringify(params)}`;
      const rg = range(perRun);
      out.push({ id, label, scenario, metric, params, num, den, perRun, median: median(perRun), min: rg?.min ?? null, max: rg?.max ?? null });
    };
    for (const e of this.cfg.echo) {
      const p = echoParams(e);
      const tag = `${e.table === 'one' ? 'one in flight' : 'pipelined'}, ${echoLabel(e)}`;
      for (const [num, den] of ECHO_RATIOS) {
        add('echo', 'serverCpuUsPerMsg', p, num, den, `CPU per message ${num} / ${den} (${tag})`);
        add('echo', 'msgsPerSec', p, num, den, `throughput ${num} / ${den} (${tag})`);
      }
    }
    const rp = { conns: 1, size: this.cfg.rtt.size };
    for (const kind of this.available) if (kind !== 'ws') add('rtt', 'p99Us', rp, kind, 'ws', `RTT p99 ${kind} / ws`);
    const f = this.cfg.fanout;
    for (const clients of f.clients) {
      for (const burst of fanBursts(f)) {
        const p = { clients, size: f.size, burst };
        const shape = burst === 1 ? 'one broadcast per turn' : `bursts of ${burst}`;
        for (const [num, den] of FAN_RATIOS) add('fanout', 'serverCpuUsPerDelivery', p, num, den, `fan-out CPU per delivery ${num} / ${den} (${shape}, ${clients} clients)`);
      }
    }
    // Recovery on / off, same server, same round (results saved before issue 12 have none).
    for (const kind of this.cfg.recovery ? this.available : []) {
      const on = this.find('recovery', kind, this.recoveryParams('on'));
      const off = this.find('recovery', kind, this.recoveryParams('off'));
      if (!on || !off) continue;
      const metric = 'serverCpuUsPerDelivery';
      const perRun = on.runs.map((a, i) => {
        const x = a?.[metric];
        const y = off.runs[i]?.[metric];
        return x !== undefined && y !== undefined && y !== 0 && Number.isFinite(x) && Number.isFinite(y) ? x / y : null;
      });
      const rg = range(perRun);
      const params = { recovery: 'on/off', clients: this.cfg.recovery.clients };
      out.push({ id: `recovery:${metric}:${kind}:on/off`, label: `fan-out CPU per delivery, recovery on / off (${kind})`, scenario: 'recovery', metric, params, num: kind, den: kind, perRun, median: median(perRun), min: rg?.min ?? null, max: rg?.max ?? null });
    }
    const cp = { memConns: this.cfg.connections.memConns };
    for (const [num, den] of CONN_RATIOS) {
      add('connections', 'setupPerSec', cp, num, den, `setup rate ${num} / ${den}`);
      add('connections', 'rssPerConn', cp, num, den, `RSS per idle connection ${num} / ${den}`);
      add('connections', 'serverCpuUsPerSetup', cp, num, den, `server CPU per setup ${num} / ${den}`);
    }
    return out;
  }

  targets(ratios: Ratio[]): Target[] {
    const rounds = this.cfg.rounds;
    const oif = this.cfg.echo.find((e) => e.shape === 'oif');
    const large = this.cfg.echo.find((e) => e.shape === 'large');
    const pipes = this.cfg.echo.filter((e) => e.table === 'pipelined');
    const fanClients = this.cfg.fanout.clients.includes(1000) ? 1000 : Math.max(...this.cfg.fanout.clients);
    const r = (scenario: CellScenario, metric: string, params: Record<string, number | string> | undefined, num: ServerKind, den: ServerKind): Ratio | undefined =>
      params === undefined ? undefined : ratios.find((x) => x.scenario === scenario && x.metric === metric && x.num === num && x.den === den && JSON.stringify(x.params) === JSON.stringify(params));
    const make = (
      id: string,
      row: string,
      label: string,
      op: '>=' | '<=',
      goal: number,
      perRun: (number | null)[] | undefined,
      basis: string,
      profile: string | undefined,
      unit: 'x' | 'B' = 'x',
      cpuCheck?: (number | null)[],
    ): Target => {
      const runs = perRun ?? Array.from({ length: rounds }, () => null);
      const m = median(runs);
      const rg = range(runs);
      return {
        id,
        row,
        label,
        op,
        goal,
        unit,
        perRun: runs,
        measured: m,
        min: rg?.min ?? null,
        max: rg?.max ?? null,
        met: m === null ? null : op === '>=' ? m >= goal : m <= goal,
        basis,
        ...(profile ? { profile } : {}),
        ...(cpuCheck ? { cpuCheck: { perRun: cpuCheck, median: median(cpuCheck), min: range(cpuCheck)?.min ?? null, max: range(cpuCheck)?.max ?? null } } : {}),
        ...(m === null ? { note: this.missing(perRun === undefined) } : {}),
      };
    };
    const oifP = oif ? echoParams(oif) : undefined;
    const oifTag = oif ? echoLabel(oif) : '?';
    const largeP = large ? echoParams(large) : undefined;
    const fanP = { clients: fanClients, size: this.cfg.fanout.size, burst: this.cfg.fanout.burst };
    const fan1P = { clients: fanClients, size: this.cfg.fanout.size, burst: 1 };
    const fanBasis = `fan-out, ${fanClients} clients, bursts of ${this.cfg.fanout.burst} broadcasts written at once (read in one server turn, so each recipient's writes are coalesced)`;
    const cell = (kind: ServerKind, metric: string): (number | null)[] | undefined => {
      const c = this.find('connections', kind, { memConns: this.cfg.connections.memConns });
      return c?.runs.map((x) => x?.[metric] ?? null);
    };
    // Pipelined TCP vs raw net: per round, the geometric mean over the pipelined shapes.
    const pipeRatios = pipes.map((e) => r('echo', 'msgsPerSec', echoParams(e), 'stelar-tcp', 'net')).filter((x): x is Ratio => x !== undefined);
    const perRound = (rs: Ratio[], invert = false): (number | null)[] | undefined =>
      rs.length === 0
        ? undefined
        : Array.from({ length: rounds }, (_, i) => (rs.some((x) => x.perRun[i] == null) ? null : geomean(rs.map((x) => (invert ? 1 / x.perRun[i]! : x.perRun[i])))));
    const pipePerRun = perRound(pipeRatios);
    // CPU-efficiency cross-checks of the two throughput targets (net's CPU per message ÷ Stelar's).
    const pipeCpu = perRound(
      pipes.map((e) => r('echo', 'serverCpuUsPerMsg', echoParams(e), 'stelar-tcp', 'net')).filter((x): x is Ratio => x !== undefined),
      true,
    );
    const oifCpu = perRound([r('echo', 'serverCpuUsPerMsg', oifP, 'stelar-tcp', 'net')].filter((x): x is Ratio => x !== undefined), true);
    const connP = { memConns: this.cfg.connections.memConns };
    const setupCpu = perRound([r('connections', 'serverCpuUsPerSetup', connP, 'stelar-ws', 'ws')].filter((x): x is Ratio => x !== undefined), true);
    const recoveryCpu = (kind: ServerKind): (number | null)[] | undefined => ratios.find((x) => x.scenario === 'recovery' && x.num === kind)?.perRun;
    const rc = this.cfg.recovery as SuiteConfig['recovery'] | undefined;
    const absentHeap = (kind: ServerKind): (number | null)[] | undefined => (rc ? this.find('recovery', kind, { absent: rc.absent })?.runs.map((x) => x?.['heapPerAbsent'] ?? null) : undefined);
    const rcLabel = `fan-out, ${rc?.clients ?? '?'} opted-in clients, bursts of ${this.cfg.fanout.burst}, recovery off and on in the same round`;
    return [
      make('oif-ws', 'server CPU per message, 128 connections × 1 in flight, WS', 'Stelar WS / ws, server CPU per message', '<=', 0.8, r('echo', 'serverCpuUsPerMsg', oifP, 'stelar-ws', 'ws')?.perRun, `echo ${oifTag}`, 'oif-ws'),
      make('oif-tcp', 'same, TCP', 'Stelar TCP / ws, server CPU per message', '<=', 0.6, r('echo', 'serverCpuUsPerMsg', oifP, 'stelar-tcp', 'ws')?.perRun, `echo ${oifTag}`, 'oif-tcp'),
      make('oif-tcp-net', 'same, TCP', 'Stelar TCP / raw net, throughput', '>=', 0.9, r('echo', 'msgsPerSec', oifP, 'stelar-tcp', 'net')?.perRun, `echo ${oifTag}`, 'oif-tcp', 'x', oifCpu),
      make('fan-ws', 'fan-out burst, CPU per delivery (1000 clients)', 'Stelar WS / ws, server CPU per delivery', '<=', 0.5, r('fanout', 'serverCpuUsPerDelivery', fanP, 'stelar-ws', 'ws')?.perRun, fanBasis, 'fan-ws'),
      // Not a row of issue 13 (its row is bursts): the same goal applied to paced traffic, so the
      // burst figure is never read as the cost of every broadcast.
      make('fan1-ws', 'added: fan-out, one broadcast per turn (1000 clients)', 'Stelar WS / ws, server CPU per delivery', '<=', 0.5, r('fanout', 'serverCpuUsPerDelivery', fan1P, 'stelar-ws', 'ws')?.perRun, `fan-out, ${fanClients} clients, one broadcast per write, the next once every receiver has it (one per server turn: nothing to coalesce)`, 'fan1-ws'),
      make('fan-uws', 'fan-out burst, CPU per delivery (1000 clients)', 'Stelar WS / uWebSockets.js, server CPU per delivery', '<=', 1.2, r('fanout', 'serverCpuUsPerDelivery', fanP, 'stelar-ws', 'uws')?.perRun, fanBasis, 'fan-ws'),
      make('mem-ws', 'idle connection, RSS per connection', 'Stelar WS, RSS per idle connection', '<=', 6 * 1024, cell('stelar-ws', 'rssPerConn'), `RSS delta over ${this.cfg.connections.memConns} idle connections, after a full GC`, 'heap stelar-ws', 'B'),
      make('mem-tcp', 'idle connection, RSS per connection', 'Stelar TCP, RSS per idle connection', '<=', 5 * 1024, cell('stelar-tcp', 'rssPerConn'), `RSS delta over ${this.cfg.connections.memConns} idle connections, after a full GC`, 'heap stelar-tcp', 'B'),
      make('setup-ws', 'connection setup rate', 'Stelar WS / ws, setups per second', '>=', 1.2, r('connections', 'setupPerSec', { memConns: this.cfg.connections.memConns }, 'stelar-ws', 'ws')?.perRun, 'connection setup (upgrade + Stelar CONNECT)', 'setup-ws', 'x', setupCpu),
      make('rtt-ws', 'RTT p99, one connection', 'Stelar WS / ws, p99 round trip', '<=', 1.1, r('rtt', 'p99Us', { conns: 1, size: this.cfg.rtt.size }, 'stelar-ws', 'ws')?.perRun, `ping-pong, 1 connection × ${fmtSize(this.cfg.rtt.size)}`, 'rtt-ws'),
      make('large-ws', '1 MiB echo, CPU per message', 'Stelar WS / ws+bufferutil, server CPU per message', '<=', 1.0, r('echo', 'serverCpuUsPerMsg', largeP, 'stelar-ws', 'ws-bu')?.perRun, `echo ${large ? echoLabel(large) : '?'}`, 'large-ws'),
      make('pipe-tcp-net', 'pipelined TCP vs raw `net`', 'Stelar TCP / raw net, throughput', '>=', 0.8, pipePerRun, `geometric mean over the pipelined shapes (${pipes.map((e) => echoLabel(e)).join('; ')}), per round`, 'pipe-tcp', 'x', pipeCpu),
      make('recovery-ws', 'issue 12: recovery on vs off, CPU per delivery', 'Stelar WS, recovery on / off, server CPU per delivery', '<=', 1.15, recoveryCpu('stelar-ws'), rcLabel, undefined),
      make('recovery-tcp', 'issue 12: recovery on vs off, CPU per delivery', 'Stelar TCP, recovery on / off, server CPU per delivery', '<=', 1.15, recoveryCpu('stelar-tcp'), rcLabel, undefined),
      make('absent-ws', 'issue 12: memory per absent session', 'Stelar WS, JS heap per absent session', '<=', 2 * 1024, absentHeap('stelar-ws'), `heap delta over ${rc?.absent ?? '?'} absent sessions (each in one room), after a full GC`, undefined, 'B'),
    ];
  }

  private missing(noCell: boolean): string {
    return noCell ? 'not measured (server unavailable or cell not selected)' : 'not measured (the cell failed in every round)';
  }

  bundle(): BundleResult | null {
    if (!this.cfg.scenarios.includes('bundle')) return null;
    const b = measureBundles(this.cfg.distDir);
    return { ...b, entries: b.entries.map((e) => ({ ...e, file: relative(this.cfg.repoRoot, e.file) })) };
  }

  cellList(): Cell[] {
    return [...this.cells.values()];
  }
}

/** Ratios shown for every echo shape (numerator / denominator), when both cells exist. */
export const ECHO_RATIOS: [ServerKind, ServerKind][] = [
  ['stelar-ws', 'ws'],
  ['stelar-ws', 'ws-bu'],
  ['stelar-ws', 'uws'],
  ['stelar-tcp', 'ws'],
  ['stelar-tcp', 'net'],
];
/** The fan-out shapes measured: the bursts, then (with `single`) one broadcast per turn. */
export function fanBursts(f: SuiteConfig['fanout']): number[] {
  return f.single === true && f.burst !== 1 ? [f.burst, 1] : [f.burst];
}

export const FAN_RATIOS: [ServerKind, ServerKind][] = [
  ['stelar-ws', 'ws'],
  ['stelar-ws', 'ws-frame'],
  ['stelar-ws', 'uws'],
  ['stelar-tcp', 'net'],
];
export const CONN_RATIOS: [ServerKind, ServerKind][] = [
  ['stelar-ws', 'ws'],
  ['stelar-ws', 'uws'],
  ['stelar-tcp', 'net'],
];

function reduceCell(c: Cell): void {
  const keys = new Set<string>();
  for (const r of c.runs) if (r) for (const k of Object.keys(r)) keys.add(k);
  c.median = {};
  c.min = {};
  c.max = {};
  for (const k of keys) {
    const vals = c.runs.map((r) => r?.[k]);
    const m = median(vals);
    const rg = range(vals);
    if (m !== null) c.median[k] = m;
    if (rg) {
      c.min[k] = rg.min;
      c.max[k] = rg.max;
    }
  }
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
  if (r.schema !== 'stelar-bench/2') throw new Error(`cannot render results of schema ${String(r.schema)} (this harness writes stelar-bench/2)`);
  const cfg = { ...r.config, log, distDir: '', profileDir: '', repoRoot: '' } as SuiteConfig;
  const suite = new Suite(cfg);
  for (const c of r.cells) reduceCell(c);
  suite.load(r.cells, r.servers.filter((s) => s.status === 'ok').map((s) => s.kind));
  const ratios = suite.ratios();
  return { ...r, ratios, targets: suite.targets(ratios) };
}

/** Replaces `root` (an absolute path) in every string of a JSON value: results stay machine-neutral. */
function stripRoot<T>(value: T, root: string): T {
  if (!root) return value;
  const text = JSON.stringify(value);
  const esc = JSON.stringify(root).slice(1, -1);
  return JSON.parse(text.split(`${esc}/`).join('').split(esc).join('.')) as T;
}

/** Runs the whole suite and returns the results (processes are cleaned up on every path). */
export async function runSuite(cfg: SuiteConfig, command: string): Promise<Results> {
  const fdLimit = raiseFdLimit();
  const machine = describeMachine(fdLimit);
  const started = new Date();
  const suite = new Suite(cfg);
  const loads: number[] = [load1()];
  const sampler = setInterval(() => loads.push(load1()), 5000);
  sampler.unref();
  try {
    cfg.log(`machine: ${machine.cores} × ${machine.cpuModel}, Node ${machine.node}, open files ${fdLimit.soft ?? '∞'}, load ${machine.loadAvgStart}`);
    await suite.prepare();
    await suite.runAll();
    const profiles = await suite.profiles();
    const heaps = await suite.heaps();
    const ratios = suite.ratios();
    const finished = new Date();
    machine.loadAvgEnd = Math.round(load1() * 100) / 100;
    loads.push(load1());
    const { log: _log, distDir: _d, profileDir: _p, repoRoot: _r, ...config } = cfg;
    const rg = range(loads);
    const round2 = (x: number | null | undefined): number => Math.round((x ?? Number.NaN) * 100) / 100;
    const results: Results = {
      schema: 'stelar-bench/2',
      preset: cfg.preset,
      command,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationS: Math.round((finished.getTime() - started.getTime()) / 100) / 10,
      machine,
      load: { start: round2(loads[0]), end: round2(loads[loads.length - 1]), min: round2(rg?.min), median: round2(median(loads)), max: round2(rg?.max), samples: loads.length },
      pinning: suite.pinning,
      versions: { node: process.version, ...peerVersions() },
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
    return stripRoot(results, cfg.repoRoot);
  } finally {
    clearInterval(sampler);
    suite.dispose();
  }
}
