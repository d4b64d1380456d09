/**
 * The cluster scenario: N server processes on one redis-server, M clients per node over real
 * sockets, driven by separate generator processes with the same raw clients for every target:
 *
 *   - Stelar + @stelar/adapter-redis over WebSocket and TCP, classic and sharded pub/sub;
 *   - Socket.IO + @socket.io/redis-adapter (ioredis), WebSocket transport.
 *
 * Per target: a fresh redis-server; throughput (publishers in a closed loop, one per node:
 * deliveries/s to every client of every node), Redis CPU per broadcast (INFO `used_cpu_sys` +
 * `used_cpu_user` over the same window), server CPU per delivery, then paced remote latency
 * (one publisher on node 0 at a fixed rate, latency measured on every client of the other
 * nodes). Then the in-process micro-bench of @stelar/adapter-redis (hubs in one process,
 * in-memory receivers), kept as a labelled micro-bench.
 *
 *   node apps/bench/dist/cluster.js [--smoke] [--repeat N] [--only TEXT] [--results DIR] [--readme FILE|none] [--no-micro]
 *
 * Writes bench/results/cluster.json and the cluster section of bench/README.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer as netServer, connect as netConnect } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Child, killAllChildren } from './lib/ipc';

type Kind = 'stelar-ws' | 'stelar-tcp' | 'socketio';
interface Target {
  name: string;
  kind: Kind;
  sharded: boolean;
}

const TARGETS: Target[] = [
  { name: 'Stelar WS, classic', kind: 'stelar-ws', sharded: false },
  { name: 'Stelar TCP, classic', kind: 'stelar-tcp', sharded: false },
  { name: 'Stelar WS, sharded', kind: 'stelar-ws', sharded: true },
  { name: 'Stelar TCP, sharded', kind: 'stelar-tcp', sharded: true },
  { name: 'Socket.IO + redis-adapter', kind: 'socketio', sharded: false },
];
const SMOKE_TARGETS = [TARGETS[0]!, TARGETS[3]!, TARGETS[4]!];

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const smoke = args.includes('--smoke');
const resultsDir = arg('--results') ?? join(root, 'bench/results');
const readme = arg('--readme') ?? join(root, 'bench/README.md');
const repeat = Number(arg('--repeat') ?? (smoke ? 1 : 2));
const setup = smoke
  ? { nodes: 2, clientsPerNode: 10, generators: 1, size: 64, window: 16, warmMs: 300, measureMs: 700, pacedRate: 50, pacedMs: 600 }
  : { nodes: 3, clientsPerNode: 300, generators: 2, size: 64, window: Number(process.env['BENCH_WINDOW'] ?? 128), warmMs: 1_000, measureMs: 5_000, pacedRate: 20, pacedMs: 5_000 };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = netServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = netConnect(port, '127.0.0.1');
    sock.once('connect', () => (sock.destroy(), resolve(true)));
    sock.once('error', () => resolve(false));
  });
}

async function startRedis(): Promise<{ url: string; proc: ChildProcess; stop(): Promise<void> }> {
  if (spawnSync('redis-server', ['--version']).error) throw new Error('redis-server is not on PATH (scripts/system-deps.sh installs it)');
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
  const deadline = Date.now() + 5_000;
  while (!(await portOpen(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error('redis-server did not start');
    await sleep(20);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    proc,
    stop: () => new Promise<void>((r) => (proc.exitCode !== null ? r() : (proc.once('exit', () => r()), proc.kill('SIGKILL')))),
  };
}

async function redisCpu(r: Redis): Promise<number> {
  const info = await r.info('cpu');
  const num = (k: string): number => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? NaN);
  return num('used_cpu_sys') + num('used_cpu_user');
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Row {
  target: string;
  kind: Kind;
  sharded: boolean;
  clients: number;
  broadcastsPerSec: number;
  deliveriesPerSec: number;
  /** µs of Redis CPU (sys + user) per broadcast. */
  redisCpuPerBroadcastUs: number;
  /** µs of server CPU (all nodes) per delivery. */
  serverCpuPerDeliveryUs: number;
  /** CPU used in the throughput window, in % of one core: all servers, all generators, Redis. */
  serverCpuPct: number;
  generatorCpuPct: number;
  redisCpuPct: number;
  pacedP50Ms: number;
  pacedP99Ms: number;
  pacedSamples: number;
  errors: number;
  /** Stelar: messages the nodes counted as missed (sequence gaps): the exact loss. */
  missed: number;
  /** Stelar: publishes not confirmed by Redis within publishTimeout, or dropped (not necessarily lost). */
  unconfirmed: number;
  /** Load average (1 min) when the target started: other work on the machine. */
  load: number;
}

type Mark = { deliveries: number; sent: number; errors: number; at: number; cpu: { user: number; system: number } };
type NodeStats = { user: number; system: number; connections: number; nodes: number; lost?: number; missed?: number };

async function runTarget(t: Target): Promise<Row> {
  const load = loadavg()[0]!;
  const redis = await startRedis();
  const admin = new Redis(redis.url);
  const nodes: Child[] = [];
  const gens: Child[] = [];
  try {
    // BENCH_NODE_ARGS: extra node options for the server processes (e.g. --cpu-prof).
    const execArgv = (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    for (let i = 0; i < setup.nodes; i++) nodes.push(Child.fork(`node${i}`, join(here, 'cluster-node.js'), execArgv));
    const ports: number[] = [];
    for (const n of nodes) ports.push((await n.call<{ port: number }>('start', { kind: t.kind, url: redis.url, sharded: t.sharded }, 30_000)).port);
    const stats = (): Promise<NodeStats[]> => Promise.all(nodes.map((n) => n.call<NodeStats>('stats')));
    const deadline = Date.now() + 10_000;
    while (!(await stats()).every((s) => s.nodes === setup.nodes)) {
      if (Date.now() > deadline) throw new Error(`${t.name}: the nodes did not see each other`);
      await sleep(100);
    }
    for (let g = 0; g < setup.generators; g++) gens.push(Child.fork(`gen${g}`, join(here, 'cluster-gen.js')));
    // Each generator opens its share of every node's clients; publisher i (on node i) lives in
    // generator i % G, with its probe on node i + 1.
    for (const [g, gen] of gens.entries()) {
      const perNode = ports.map((_, i) => Math.floor(setup.clientsPerNode / setup.generators) + (g < setup.clientsPerNode % setup.generators ? 1 : 0) + 0 * i);
      const publishers = ports.map((_, i) => ({ index: i, node: i, probeNode: (i + 1) % setup.nodes })).filter((p) => p.index % setup.generators === g);
      await gen.call('connect', { kind: t.kind, ports, perNode, size: setup.size, window: setup.window, publishers }, 60_000);
    }
    const total = setup.nodes * setup.clientsPerNode;
    const deadline2 = Date.now() + 10_000;
    while ((await stats()).reduce((s, x) => s + x.connections, 0) < total) {
      if (Date.now() > deadline2) throw new Error(`${t.name}: not every client is connected`);
      await sleep(100);
    }
    await sleep(300); // joins and subscriptions settle

    // Throughput.
    await Promise.all(gens.map((g) => g.call('startPub')));
    await sleep(setup.warmMs);
    const m0 = await Promise.all(gens.map((g) => g.call<Mark>('mark')));
    const [c0, s0] = await Promise.all([redisCpu(admin), stats()]);
    await sleep(setup.measureMs);
    const m1 = await Promise.all(gens.map((g) => g.call<Mark>('mark')));
    const [c1, s1] = await Promise.all([redisCpu(admin), stats()]);
    await Promise.all(gens.map((g) => g.call('stopPub')));
    const seconds = (m1[0]!.at - m0[0]!.at) / 1e6;
    const deliveries = m1.reduce((s, m) => s + m.deliveries, 0) - m0.reduce((s, m) => s + m.deliveries, 0);
    const broadcasts = m1.reduce((s, m) => s + m.sent, 0) - m0.reduce((s, m) => s + m.sent, 0);
    const serverCpu = s1.reduce((s, x) => s + x.user + x.system, 0) - s0.reduce((s, x) => s + x.user + x.system, 0);
    let undrained = 0;
    // Drained: every client has every message (each goes to every client but its sender).
    const everyone = async (): Promise<boolean> => {
      const ms = await Promise.all(gens.map((g) => g.call<Mark>('mark')));
      return ms.reduce((s, m) => s + m.deliveries, 0) >= ms.reduce((s, m) => s + m.sent, 0) * (total - 1);
    };
    const drain = async (): Promise<void> => {
      const until = Date.now() + 30_000;
      while (!(await everyone())) {
        if (Date.now() > until) {
          undrained++;
          console.log(`  ${t.name}: messages still in flight 30 s after the publishers stopped`);
          break;
        }
        await sleep(50);
      }
      await sleep(200);
    };
    await drain();

    // Paced remote latency.
    await Promise.all(gens.map((g) => g.call('sampleStart', { node: 0 })));
    await gens[0]!.call('pace', { rate: setup.pacedRate, ms: setup.pacedMs }, setup.pacedMs + 30_000);
    await drain();
    const samples = (await Promise.all(gens.map((g) => g.call<number[]>('sampleStop')))).flat().sort((a, b) => a - b);
    const end = await Promise.all(gens.map((g) => g.call<Mark>('mark')));
    const fin = await stats();
    if (process.env['BENCH_DEBUG']) console.log(JSON.stringify(fin));
    return {
      target: t.name,
      kind: t.kind,
      sharded: t.sharded,
      clients: total,
      broadcastsPerSec: Math.round(broadcasts / seconds),
      deliveriesPerSec: Math.round(deliveries / seconds),
      redisCpuPerBroadcastUs: ((c1 - c0) * 1e6) / broadcasts,
      serverCpuPerDeliveryUs: serverCpu / deliveries,
      serverCpuPct: Math.round(serverCpu / 1e4 / seconds),
      generatorCpuPct: Math.round((m1.reduce((s, m) => s + m.cpu.user + m.cpu.system, 0) - m0.reduce((s, m) => s + m.cpu.user + m.cpu.system, 0)) / 1e4 / seconds),
      redisCpuPct: Number((((c1 - c0) * 100) / seconds).toFixed(1)),
      pacedP50Ms: pct(samples, 50) / 1000,
      pacedP99Ms: pct(samples, 99) / 1000,
      pacedSamples: samples.length,
      errors: end.reduce((s, m) => s + m.errors, 0) + undrained,
      missed: fin.reduce((s, x) => s + (x.missed ?? 0), 0),
      unconfirmed: fin.reduce((s, x) => s + (x.lost ?? 0), 0),
      load: Number(load.toFixed(2)),
    };
  } finally {
    await Promise.all(gens.map((g) => g.stop(2_000)));
    await Promise.all(nodes.map((n) => n.stop(3_000)));
    admin.disconnect();
    await redis.stop();
  }
}

function median(rows: Row[]): Row {
  const sorted = [...rows].sort((a, b) => a.deliveriesPerSec - b.deliveriesPerSec);
  const mid = sorted[sorted.length >> 1]!;
  const med = (f: (r: Row) => number): number => {
    const v = rows.map(f).sort((a, b) => a - b);
    const h = v.length >> 1;
    return v.length % 2 === 1 ? v[h]! : (v[h - 1]! + v[h]!) / 2;
  };
  return {
    ...mid,
    broadcastsPerSec: Math.round(med((r) => r.broadcastsPerSec)),
    deliveriesPerSec: Math.round(med((r) => r.deliveriesPerSec)),
    redisCpuPerBroadcastUs: med((r) => r.redisCpuPerBroadcastUs),
    serverCpuPerDeliveryUs: med((r) => r.serverCpuPerDeliveryUs),
    serverCpuPct: Math.round(med((r) => r.serverCpuPct)),
    generatorCpuPct: Math.round(med((r) => r.generatorCpuPct)),
    redisCpuPct: Number(med((r) => r.redisCpuPct).toFixed(1)),
    pacedP50Ms: med((r) => r.pacedP50Ms),
    pacedP99Ms: med((r) => r.pacedP99Ms),
    errors: Math.max(...rows.map((r) => r.errors)),
    missed: Math.max(...rows.map((r) => r.missed)),
    unconfirmed: Math.max(...rows.map((r) => r.unconfirmed)),
    load: Number(med((r) => r.load).toFixed(2)),
  };
}

interface MicroRow {
  nodes: number;
  mode: string;
  receivers: number;
  rate: number;
  deliveries: number;
  p50: number;
  p99: number;
  lost: number;
}

function runMicro(): { rows: MicroRow[]; setup: Record<string, unknown> } | undefined {
  const require = createRequire(import.meta.url);
  const script = join(dirname(require.resolve('@stelar/adapter-redis/package.json')), 'bench/fanout.bench.mjs');
  const out = join(resultsDir, 'cluster-micro.json');
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_JSON: out };
  if (smoke) Object.assign(env, { BENCH_MESSAGES: '300', BENCH_REPEAT: '1', BENCH_PACED: '50', BENCH_RECEIVERS: '5' });
  const run = spawnSync(process.execPath, [script], { env, stdio: 'inherit', timeout: 10 * 60_000 });
  if (run.status !== 0 || !existsSync(out)) {
    console.error(`cluster micro-bench: exited with ${String(run.status ?? run.signal)}`);
    return undefined;
  }
  return JSON.parse(readFileSync(out, 'utf8')) as { rows: MicroRow[]; setup: Record<string, unknown> };
}

const fmt = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
const int = (x: number): string => Math.round(x).toLocaleString('en');

async function main(): Promise<void> {
  mkdirSync(resultsDir, { recursive: true });
  const loadAtStart = Number(loadavg()[0]!.toFixed(2));
  const only = arg('--only');
  const targets = (smoke ? SMOKE_TARGETS : TARGETS).filter((t) => only === undefined || only.split(',').some((o) => t.name.toLowerCase().includes(o.trim().toLowerCase())));
  const runs = new Map<string, Row[]>();
  for (let r = 0; r < repeat; r++) {
    for (const t of targets) {
      console.log(`cluster: ${t.name} (run ${r + 1}/${repeat})`);
      const row = await runTarget(t);
      console.log(
        `  ${int(row.deliveriesPerSec)} deliveries/s, ${int(row.broadcastsPerSec)} broadcasts/s, Redis ${fmt(row.redisCpuPerBroadcastUs)} µs/broadcast, server ${fmt(row.serverCpuPerDeliveryUs)} µs/delivery, paced p50 ${fmt(row.pacedP50Ms)} ms p99 ${fmt(row.pacedP99Ms)} ms, errors ${row.errors}, missed ${row.missed}, unconfirmed ${row.unconfirmed}`,
      );
      runs.set(t.name, [...(runs.get(t.name) ?? []), row]);
    }
  }
  const rows = targets.map((t) => median(runs.get(t.name)!));
  const sio = rows.find((r) => r.kind === 'socketio');
  const ratios = sio
    ? rows
        .filter((r) => r !== sio)
        .map((r) => ({
          target: r.target,
          deliveries: r.deliveriesPerSec / sio.deliveriesPerSec,
          p99: r.pacedP99Ms / sio.pacedP99Ms,
          redisCpu: r.redisCpuPerBroadcastUs / sio.redisCpuPerBroadcastUs,
          serverCpu: r.serverCpuPerDeliveryUs / sio.serverCpuPerDeliveryUs,
        }))
    : [];
  const micro = args.includes('--no-micro') ? undefined : runMicro();
  const report = {
    setup: { ...setup, repeat, node: process.version, cores: cpus().length, loadAtStart, loadAtEnd: Number(loadavg()[0]!.toFixed(2)), smoke },
    rows,
    runs: Object.fromEntries(runs),
    ratios,
    micro,
  };
  const out = join(resultsDir, 'cluster.json');
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  if (readme !== 'none' && existsSync(readme)) writeSection(readme, report);
  console.log(`cluster scenario: ${out}`);
}

function writeSection(path: string, r: { setup: typeof setup & { repeat: number; node: string; cores: number; loadAtStart: number; loadAtEnd: number }; rows: Row[]; ratios: { target: string; deliveries: number; p99: number; redisCpu: number; serverCpu: number }[]; micro: { rows: MicroRow[]; setup: Record<string, unknown> } | undefined }): void {
  const s = r.setup;
  const mark = (ok: boolean): string => (ok ? 'met' : 'missed');
  const lines = [
    '<!-- bench:cluster:start (generated by apps/bench/dist/cluster.js) -->',
    '',
    '## Cluster: Redis scale-out with real processes and sockets',
    '',
    `Produced by \`node apps/bench/dist/cluster.js\` (also run by \`pnpm bench\`). Per target: a fresh local \`redis-server\`, ${s.nodes} server processes, ${s.clientsPerNode} clients per node (${s.nodes * s.clientsPerNode} in all) in one room, driven by ${s.generators} generator process${s.generators === 1 ? '' : 'es'} with the same raw clients for every target. Messages are ${s.size}-byte strings relayed by the receiving server to the room except the sender (\`conn.to(room).emit\` / \`socket.to(room).emit\`).`,
    '',
    `- **Throughput**: one publisher per node, each with at most ${s.window} messages not yet seen by a probe client on another node; ${s.warmMs} ms warm-up, then ${s.measureMs} ms measured. Deliveries/s counts every message every client received.`,
    `- **Redis CPU per broadcast**: \`used_cpu_sys + used_cpu_user\` from \`INFO cpu\` over the same window, divided by the broadcasts sent.`,
    `- **Paced remote latency**: one publisher on node 0 at ${s.pacedRate} messages/s for ${s.pacedMs} ms, nothing else running; latency from send to receipt on every client of the other nodes (through Redis), CLOCK_MONOTONIC shared by the processes.`,
    `- Median of ${s.repeat} run${s.repeat === 1 ? '' : 's'} per target, targets interleaved. ${s.node}, ${s.cores} cores shared by the servers, the generators, Redis and other engineers' work: load average ${s.loadAtStart} at start, ${s.loadAtEnd} at end (the \`load\` column is at each target's start). Figures move by ±30 % between runs.`,
    '',
    '| target | deliveries/s | broadcasts/s | Redis CPU µs / broadcast | server CPU µs / delivery | CPU % servers / generators / Redis | paced remote p50 ms | p99 ms | errors | missed | load |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.rows.map(
      (x) =>
        `| ${x.target} | ${int(x.deliveriesPerSec)} | ${int(x.broadcastsPerSec)} | ${fmt(x.redisCpuPerBroadcastUs)} | ${fmt(x.serverCpuPerDeliveryUs)} | ${x.serverCpuPct} / ${x.generatorCpuPct} / ${x.redisCpuPct} | ${fmt(x.pacedP50Ms)} | ${fmt(x.pacedP99Ms)} | ${x.errors} | ${x.kind === 'socketio' ? 'n/a' : x.missed} | ${x.load} |`,
    ),
    '',
  ];
  if (r.ratios.length) {
    lines.push(
      'Against Socket.IO + @socket.io/redis-adapter in the same run (targets: deliveries/s ≥ 1.5×, paced remote p99 ≤ 0.3×, Redis CPU per broadcast ≤ 0.4×):',
      '',
      '| target | deliveries/s | paced p99 | Redis CPU / broadcast | server CPU / delivery (no target) |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...r.ratios.map((x) => `| ${x.target} | ${fmt(x.deliveries)}× (${mark(x.deliveries >= 1.5)}) | ${fmt(x.p99)}× (${mark(x.p99 <= 0.3)}) | ${fmt(x.redisCpu)}× (${mark(x.redisCpu <= 0.4)}) | ${fmt(x.serverCpu)}× |`),
      '',
      'Throughput and Redis CPU come from bursts: each recipient is corked for a burst (one read from Redis or from a client: one system call instead of one per message) and the broadcasts of one event-loop turn go to Redis as one batch. The paced phase (one message every 50 ms) has nothing to batch, and it does not measure the servers: its p50 is about the same for every server (7–11 ms here, Socket.IO included), the time the two generator processes take to read one message on 600 remote sockets one after the other, and its p99 adds the scheduling of six processes on two shared cores. So the paced p99 ratio moves between about 0.2× and 3× from run to run (in four runs today the Stelar paced p99 was 12–50 ms, Socket.IO 14–65 ms when it was not saturated, 273 ms in a run where it was): the ≤ 0.3× target is not shown by this harness. Showing it needs latency taken on one probe client per node in a process of its own, on a host with more cores. See the Benchmark section of packages/adapter-redis/README.md for what limits each figure.',
      '',
    );
  }
  if (r.micro) {
    const m = r.micro.setup;
    lines.push(
      '### Micro-bench: hubs in one process (not a deployment figure)',
      '',
      `\`packages/adapter-redis/bench/fanout.bench.mjs\`: hubs with a RedisAdapter each in **one** process, ${String(m['receiversPerNode'])} in-memory receivers per node (no sockets), one local Redis; burst of ${String(m['messages'])} broadcasts (median of ${String(m['repeat'])}), paced ${String(m['paced'])} at 1/ms, latency on node 1. It measures the hub + adapter + Redis path only; use the table above for what a cluster does.`,
      '',
      '| nodes | mode | receivers | broadcasts/s | deliveries/s | paced p50 ms | paced p99 ms | lost |',
      '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...r.micro.rows.map((x) => `| ${x.nodes} | ${x.mode} | ${x.receivers} | ${int(x.rate)} | ${int(x.deliveries)} | ${fmt(x.p50)} | ${fmt(x.p99)} | ${x.lost} |`),
      '',
    );
  }
  lines.push('<!-- bench:cluster:end -->');
  const block = lines.join('\n');
  const text = readFileSync(path, 'utf8');
  const start = text.indexOf('<!-- bench:cluster:start');
  const end = text.indexOf('<!-- bench:cluster:end -->');
  const next = start >= 0 && end > start ? text.slice(0, start) + block + text.slice(end + '<!-- bench:cluster:end -->'.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, next);
}

main().then(
  () => {
    killAllChildren();
    process.exit(0);
  },
  (err: unknown) => {
    console.error(err);
    killAllChildren();
    process.exit(1);
  },
);
