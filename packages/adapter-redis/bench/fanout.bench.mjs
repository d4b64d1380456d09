// Cross-node fan-out of @stelar/adapter-redis (not a test): rate and latency with 1 and 3 nodes.
//
//   cd packages/adapter-redis && npx tsup && npm run bench
//
// Hubs run in this process, each with its own RedisAdapter (two Redis connections each), against
// a real redis-server: $STELAR_REDIS_URL, or one started here on a free loopback port. Receivers
// are in-memory links that count frames (no sockets), so the figures are the hub + adapter +
// Redis path, not a transport's. Node 0 publishes to a room every node has members in.
//
// Burst: MESSAGES broadcasts as fast as Node lets us (BATCH per event-loop turn); the rate is
// broadcasts per second until the last receiver on every node has them all (median of REPEAT runs). Paced: one broadcast
// per millisecond; latency is publish -> delivery on node 1 (the other side of Redis), or on
// node 0 when there is one node.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
if (!existsSync(dist)) {
  console.error('dist/index.js is missing: build first (cd packages/adapter-redis && npx tsup)');
  process.exit(2);
}
const { createRedisAdapter } = await import(dist);
const { Hub } = await import('@stelar/core');
const { SendStatus } = await import('@stelar/core/internal');
const { decodeFrame, encodeClientConnect } = await import('@stelar/codec-tcp');

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const BATCH = 200;
const WARMUP = 5_000;
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const PACED = Number(process.env.BENCH_PACED ?? 1_000);
const RECEIVERS = Number(process.env.BENCH_RECEIVERS ?? 50); // per node
const TYPE_BINARY = 0x02;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowMs = () => performance.now();

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const sock = netConnect(port, '127.0.0.1');
    sock.once('connect', () => (sock.destroy(), resolve(true)));
    sock.once('error', () => resolve(false));
  });
}

async function startRedis() {
  if (process.env.STELAR_REDIS_URL) return { url: process.env.STELAR_REDIS_URL, stop: async () => {} };
  if (spawnSync('redis-server', ['--version']).error) {
    console.log('fanout bench skipped: no redis-server on PATH and no STELAR_REDIS_URL (scripts/system-deps.sh installs it)');
    process.exit(0);
  }
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
  const deadline = Date.now() + 5_000;
  while (!(await portOpen(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error('redis-server did not start');
    await sleep(20);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => (proc.exitCode !== null ? resolve() : (proc.once('exit', resolve), proc.kill('SIGTERM')))),
  };
}

async function until(cond, timeout, what) {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeout) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** A server-side link that counts what the hub sends; the first one per node reads timestamps. */
function receiver(hub, stats, timed) {
  let handler;
  const link = {
    transport: 'mem',
    remoteAddress: '127.0.0.1',
    remotePort: 0,
    bufferedAmount: 0,
    send(frame) {
      if (frame[4] === TYPE_BINARY) {
        stats.delivered++;
        if (timed) {
          const evLen = (frame[5] << 8) | frame[6];
          const view = new DataView(frame.buffer, frame.byteOffset + 7 + evLen, 8);
          stats.latencies.push(nowMs() - view.getFloat64(0));
        }
      }
      return SendStatus.OK;
    },
    ping() {},
    close(code, reason) {
      setImmediate(() => handler.onClose(code, reason));
    },
    terminate() {
      setImmediate(() => handler.onClose(1006, ''));
    },
    pause() {},
    resume() {},
  };
  handler = hub.accept(link);
  const hello = encodeClientConnect();
  handler.onFrame(decodeFrame(hello), hello.length);
}

function stamp() {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, nowMs());
  return b;
}

function pct(xs, p) {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function scenario(url, nodeCount, sharded) {
  const prefix = `bench-${process.pid}-${nodeCount}-${sharded ? 's' : 'c'}`;
  const nodes = [];
  for (let i = 0; i < nodeCount; i++) {
    const adapter = createRedisAdapter({ url, prefix, sharded, heartbeatInterval: 1_000, nodeTimeout: 5_000 });
    const hub = new Hub({ heartbeat: false, adapter });
    hub.onConnection((conn) => conn.join('room'));
    await hub.ready();
    const stats = { delivered: 0, latencies: [] };
    for (let r = 0; r < RECEIVERS; r++) receiver(hub, stats, r === 0);
    nodes.push({ hub, adapter, stats });
  }
  await until(() => nodes.every((n) => n.adapter.nodeCount() === nodeCount && n.hub.connections.size === RECEIVERS), 5_000, 'nodes and receivers');
  for (const n of nodes) await n.adapter.sync();
  const probe = nodes.length > 1 ? nodes[1] : nodes[0];
  const publisher = nodes[0].hub;
  const reset = () => nodes.forEach((n) => ((n.stats.delivered = 0), (n.stats.latencies = [])));

  // Warm-up.
  for (let i = 0; i < WARMUP; i++) publisher.to('room').emit('t', stamp());
  await until(() => nodes.every((n) => n.stats.delivered === WARMUP * RECEIVERS), 30_000, 'warm-up');
  reset();

  // Burst, REPEAT times (the median run is reported: this machine is shared and noisy).
  const runs = [];
  for (let run = 0; run < REPEAT; run++) {
    const t0 = nowMs();
    for (let sent = 0; sent < MESSAGES; ) {
      for (let i = 0; i < BATCH && sent < MESSAGES; i++, sent++) publisher.to('room').emit('t', stamp());
      await new Promise(setImmediate);
    }
    await until(() => nodes.every((n) => n.stats.delivered === MESSAGES * RECEIVERS), 60_000, 'burst deliveries');
    runs.push({ ms: nowMs() - t0, p99: pct(probe.stats.latencies, 99) });
    reset();
  }
  runs.sort((a, b) => a.ms - b.ms);
  const { ms: burstMs, p99: burstP99 } = runs[runs.length >> 1];

  // Paced.
  for (let i = 0; i < PACED; i++) {
    publisher.to('room').emit('t', stamp());
    await sleep(1);
  }
  await until(() => nodes.every((n) => n.stats.delivered === PACED * RECEIVERS), 10_000, 'paced deliveries');
  const lat = probe.stats.latencies;
  const lost = nodes.reduce((s, n) => {
    const x = n.adapter.stats;
    return s + x.droppedWhileDown + x.droppedBufferFull + x.publishUnconfirmed + x.publishFailures + x.missedFromPeers;
  }, 0);

  for (const n of nodes) await n.hub.dispose();
  return {
    nodes: nodeCount,
    mode: sharded ? 'sharded' : 'classic',
    receivers: nodeCount * RECEIVERS,
    rate: Math.round(MESSAGES / (burstMs / 1000)),
    deliveries: Math.round((MESSAGES * RECEIVERS * nodeCount) / (burstMs / 1000)),
    burstP99,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
    lost,
  };
}

const loadAtStart = loadavg()[0].toFixed(2);
const redis = await startRedis();
const rows = [];
try {
  rows.push(await scenario(redis.url, 1, false));
  rows.push(await scenario(redis.url, 3, false));
  rows.push(await scenario(redis.url, 3, true));
} finally {
  await redis.stop();
}

const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
console.log(`\nfan-out over Redis: ${MESSAGES} burst broadcasts (${BATCH} per loop turn, median of ${REPEAT} runs), ${PACED} paced at 1/ms, ${RECEIVERS} receivers per node, all nodes in one process, ${process.version}, ${cpus().length} cores, load average at start ${loadAtStart}`);
console.log('latency is publish -> delivery on node 1 (node 0 itself when alone)\n');
console.log('| nodes | mode | receivers | broadcasts/s | deliveries/s | burst p99 ms | paced p50 ms | paced p99 ms | lost |');
console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.nodes} | ${r.mode} | ${r.receivers} | ${r.rate.toLocaleString('en')} | ${r.deliveries.toLocaleString('en')} | ${fmt(r.burstP99, 1)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.lost} |`);
}
// BENCH_JSON=<file>: also write the rows and the set-up as JSON (apps/bench's cluster scenario reads it).
if (process.env.BENCH_JSON) {
  const setup = { messages: MESSAGES, batch: BATCH, repeat: REPEAT, paced: PACED, receiversPerNode: RECEIVERS, node: process.version, cores: cpus().length, loadAtStart: Number(loadAtStart) };
  writeFileSync(process.env.BENCH_JSON, JSON.stringify({ setup, rows }, null, 2) + '\n');
}
process.exit(rows.every((r) => r.lost === 0) ? 0 : 1);
