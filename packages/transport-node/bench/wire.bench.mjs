// Server-side cost of the Stelar transports against ws and raw net (not a test): the decision
// bench for the package optimisations of issue 13. The full side-by-side suite is apps/bench.
//
//   node packages/transport-node/bench/wire.bench.mjs [options]
//     --variant name=ROOT   Stelar sources to bundle (repeatable; default: this checkout as "new").
//                           ROOT/packages/*/src are bundled with esbuild, so an A/B run compares
//                           two checkouts (e.g. `git archive HEAD~3 packages | tar -x -C ../old-checkout`).
//     --servers a,b         stelar-ws, stelar-tcp (each × every variant), ws, net
//     --scenarios a,b       oif, pipe, large, fanout, idle, setup, rtt (default: all)
//     --rounds N            interleaved rounds, servers rotated in each (default 3)
//     --seconds S           measured window per cell (default 3)
//     --node-path DIR       a folder holding `bufferutil`: servers named with `+bu` (ws+bu,
//                           stelar-ws+bu) get it as NODE_PATH, so ws and codec-ws find it
//     --idle-wait S         idle scenario: wait S seconds with the connections open before measuring
//     --json FILE           write every sample
//     --prof DIR            V8 CPU profiles of the server processes (DIR/<server>/*.cpuprofile;
//                           summarise with prof-top.mjs)
//     --snapshots DIR       heap snapshots of the idle scenario's server, with the connections
//                           open and after they closed (compare with heap-diff.mjs)
//
// The server runs in its own process pinned to CPU 0 and the load generator (this process) on
// CPU 1 when `taskset` exists. Server CPU (user + system, `process.cpuUsage()` in the server)
// per message, delivery or connection is the figure to compare: it depends much less on what
// else the machine runs than rates do. Cells print the median of the rounds and the range.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = resolve(here, '../../..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const variants = [];
for (let i = 0; i < args.length; i++) if (args[i] === '--variant') {
  const [name, root] = args[i + 1].split('=');
  variants.push({ name, root: resolve(root) });
}
if (variants.length === 0) variants.push({ name: 'new', root: repo });
const serverKinds = opt('servers', 'stelar-ws,stelar-tcp,ws,net').split(',');
const scenarios = opt('scenarios', 'oif,pipe,large,fanout,idle,setup,rtt').split(',');
const ROUNDS = Number(opt('rounds', '3'));
const SECONDS = Number(opt('seconds', '3'));
const IDLE_WAIT = Number(opt('idle-wait', '0'));
const nodePath = opt('node-path', undefined);
const jsonOut = opt('json', undefined);
const profDir = opt('prof', undefined);
const snapDir = opt('snapshots', undefined);
const HOST = '127.0.0.1';
const OP_ECHO = 1;
const OP_PUB = 2;

let pinned = false;
try {
  execFileSync('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  pinned = true;
} catch {
  /* no taskset: unpinned */
}

// ------------------------------------------------------------------ bundles
const bundleDir = join(tmpdir(), `stelar-wire-bench-${process.pid}`);
mkdirSync(bundleDir, { recursive: true });
const { build } = await import('esbuild');
for (const v of variants) {
  const alias = {};
  // Each package's src directory: `@stelar/core` is its index.ts, `@stelar/core/internal` its
  // internal.ts, `@stelar/core/client` client/index.ts (the subpaths of its exports map).
  for (const p of ['core', 'codec-tcp', 'codec-ws', 'transport-node', 'server']) alias[`@stelar/${p}`] = join(v.root, 'packages', p, 'src');
  v.bundle = join(bundleDir, `${v.name}.mjs`);
  await build({
    entryPoints: [join(alias['@stelar/server'], 'index.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: v.bundle,
    alias,
    logLevel: 'error',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
}

/** Servers to measure: [label, kind, bundle]. */
const servers = [];
for (const name of serverKinds) {
  // `+bu`: the server process gets NODE_PATH (--node-path), so `bufferutil` can be found.
  const bu = name.endsWith('+bu');
  const k = bu ? name.slice(0, -3) : name;
  if (bu && !nodePath) throw new Error(`${name} needs --node-path`);
  if (k.startsWith('stelar-')) for (const v of variants) servers.push({ label: variants.length > 1 ? `${name}:${v.name}` : name, kind: k, bundle: v.bundle, bu });
  else servers.push({ label: name, kind: k, bu });
}

// ------------------------------------------------------------------ server processes
async function startServer(s, room) {
  const env = { ...process.env };
  if (s.bu) env.NODE_PATH = nodePath;
  else delete env.NODE_PATH;
  const nodeArgs = ['--expose-gc', ...(profDir ? ['--cpu-prof', '--cpu-prof-dir', join(profDir, s.label)] : []), join(here, 'serve.mjs'), s.kind, ...(s.bundle ? [s.bundle] : [])];
  const child = existsSync('/usr/bin/taskset') || pinned
    ? spawn('taskset', ['-c', '0', process.execPath, ...nodeArgs], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env })
    : spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
  let next = 0;
  const waiting = new Map();
  child.on('message', (m) => {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.error) w?.reject(new Error(m.error));
    else w?.resolve(m);
  });
  const call = (cmd, extra = {}) =>
    new Promise((res, rej) => {
      const id = next++;
      waiting.set(id, { resolve: res, reject: rej });
      child.send({ id, cmd, ...extra });
    });
  const { port } = await call('start', { room });
  return {
    port,
    stats: async () => (await call('stats')).stats,
    gcStats: async () => (await call('gc')).stats,
    gcReduceStats: async () => (await call('gcReduce')).stats,
    snapshot: async (file) => (await call('snapshot', { file })).file,
    stop: () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ id: -1, cmd: 'stop' });
      return exited;
    },
  };
}

// ------------------------------------------------------------------ wire messages
const wireOf = (kind) => (kind === 'stelar-tcp' || kind === 'net' ? 'tcp' : 'ws');
const KEY = Buffer.from([0x12, 0x34, 0x56, 0x78]);

function wsClientFrame(opcode, payload) {
  const len = payload.length;
  const hl = (len < 126 ? 2 : len < 0x10000 ? 4 : 10) + 4;
  const out = Buffer.allocUnsafe(hl + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 0x10000) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(0, 2);
    out.writeUInt32BE(len, 6);
  }
  KEY.copy(out, hl - 4);
  for (let i = 0; i < len; i++) out[hl + i] = payload[i] ^ KEY[i & 3];
  return out;
}
function stelarFrame(type, event, payload) {
  const ev = Buffer.from(event);
  const total = 7 + ev.length + payload.length;
  const b = Buffer.allocUnsafe(total);
  b.writeUInt32BE(total, 0);
  b[4] = type;
  b.writeUInt16BE(ev.length, 5);
  ev.copy(b, 7);
  payload.copy(b, 7 + ev.length);
  return b;
}
function payloadOf(size) {
  const p = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) p[i] = 0x61 + (i % 26);
  return p;
}
/** Prebuilt messages of a server kind: echo and publish frames, and the Stelar CONNECT. */
function messages(kind, size) {
  const payload = payloadOf(size);
  if (kind === 'stelar-ws' || kind === 'stelar-tcp') {
    const echo = stelarFrame(2, 'echo', payload);
    const pub = stelarFrame(2, 'pub', payload);
    const hello = stelarFrame(7, '', Buffer.from('{"v":1}'));
    if (kind === 'stelar-tcp') return { echo, pub, hello };
    return { echo: wsClientFrame(2, echo.subarray(4)), pub: wsClientFrame(2, pub.subarray(4)), hello: wsClientFrame(2, hello.subarray(4)) };
  }
  const op = (o) => Buffer.concat([Buffer.from([o]), payload]);
  if (kind === 'ws') return { echo: wsClientFrame(2, op(OP_ECHO)), pub: wsClientFrame(2, op(OP_PUB)), hello: undefined };
  const lp = (b) => {
    const out = Buffer.concat([Buffer.alloc(4), b]);
    out.writeUInt32BE(b.length, 0);
    return out;
  };
  return { echo: lp(op(OP_ECHO)), pub: lp(op(OP_PUB)), hello: undefined };
}
const UPGRADE = (port) =>
  `GET / HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;

/**
 * One raw client: hand-rolled handshake, then counts whole messages (frames are skipped, never
 * copied; a Stelar PING is answered). `onMessages(k)` runs once per read with the messages it
 * completed.
 */
class Client {
  constructor(kind, port) {
    this.kind = kind;
    this.port = port;
    this.wire = wireOf(kind);
    this.stelar = kind.startsWith('stelar');
    this.onMessages = () => undefined;
    this.head = Buffer.alloc(0); // partial frame header
    this.skip = 0; // payload bytes still to skip
    this.type = -1;
  }
  open(msgs) {
    return new Promise((resolveOpen, rejectOpen) => {
      const s = (this.socket = net.connect({ host: HOST, port: this.port }));
      s.setNoDelay(true);
      let phase = this.wire === 'ws' ? 'http' : this.stelar ? 'hello' : 'open';
      let http = '';
      s.once('error', rejectOpen);
      s.on('connect', () => {
        if (this.wire === 'ws') s.write(UPGRADE(this.port));
        else if (this.stelar) s.write(msgs.hello);
        else resolveOpen(this);
      });
      this.handshakeDone = () => {
        phase = 'open';
        resolveOpen(this);
      };
      s.on('data', (chunk) => {
        if (phase === 'http') {
          http += chunk.toString('latin1');
          const end = http.indexOf('\r\n\r\n');
          if (end < 0) return;
          if (!http.startsWith('HTTP/1.1 101')) return rejectOpen(new Error(http.slice(0, 80)));
          const rest = Buffer.from(http.slice(end + 4), 'latin1');
          if (this.stelar) {
            phase = 'hello';
            s.write(msgs.hello);
          } else {
            phase = 'open';
            resolveOpen(this);
          }
          if (rest.length === 0) return;
          chunk = rest;
        }
        const n = this.parse(chunk);
        if (phase === 'hello') {
          if (this.sawConnect) this.handshakeDone();
          return;
        }
        if (n > 0) this.onMessages(n);
      });
    });
  }
  /** Counts complete data messages in `chunk` (after the handshake). */
  parse(chunk) {
    let off = 0;
    let count = 0;
    const n = chunk.length;
    while (off < n) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, n - off);
        this.skip -= take;
        off += take;
        if (this.skip === 0) count += this.done();
        continue;
      }
      // Header: WebSocket (2/4/10 bytes) then, for Stelar, the 3-byte type + eventLen.
      let hb = this.head.length > 0 ? Buffer.concat([this.head, chunk.subarray(off, off + 16)]) : chunk.subarray(off, off + 16);
      const had = this.head.length;
      const need = this.headerLength(hb);
      if (need < 0 || hb.length < need) {
        this.head = Buffer.from(hb);
        return count;
      }
      this.head = Buffer.alloc(0);
      this.readHeader(hb);
      off += need - had;
      if (this.skip === 0) count += this.done();
    }
    return count;
  }
  headerLength(b) {
    if (this.wire === 'tcp') return b.length >= 5 ? 5 : -1;
    if (b.length < 2) return -1;
    const l7 = b[1] & 0x7f;
    const hl = l7 < 126 ? 2 : l7 === 126 ? 4 : 10;
    return this.stelar ? hl + 1 : hl;
  }
  readHeader(b) {
    if (this.wire === 'tcp') {
      this.type = b[4];
      // Stelar's totalLen counts itself; raw net's u32 counts the body only.
      this.skip = b.readUInt32BE(0) - (this.stelar ? 5 : 1);
      this.wsOp = 2;
      return;
    }
    const op = b[0] & 0x0f;
    const l7 = b[1] & 0x7f;
    let len = l7;
    let hl = 2;
    if (l7 === 126) {
      len = b.readUInt16BE(2);
      hl = 4;
    } else if (l7 === 127) {
      len = b.readUInt32BE(6);
      hl = 10;
    }
    this.wsOp = op;
    this.type = this.stelar && op === 2 ? b[hl] : -1;
    this.skip = len - (this.stelar ? 1 : 0);
  }
  done() {
    const t = this.type;
    if (this.wsOp !== 2) return 0; // ping/pong/close (the bench's servers do not ping)
    if (!this.stelar) return 1;
    if (t === 7) this.sawConnect = true;
    if (t === 3) this.socket.write(this.wire === 'tcp' ? stelarFrame(4, '', Buffer.alloc(0)) : wsClientFrame(2, stelarFrame(4, '', Buffer.alloc(0)).subarray(4)));
    return t === 1 || t === 2 ? 1 : 0;
  }
  close() {
    this.socket.destroy();
  }
}

async function openMany(kind, port, n, msgs, concurrency = 64) {
  const clients = [];
  let i = 0;
  const worker = async () => {
    while (i < n) {
      i++;
      const c = new Client(kind, port);
      clients.push(await c.open(msgs));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return clients;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cpuOf = (a, b) => b.user - a.user + (b.system - a.system);

// ------------------------------------------------------------------ scenarios
/** Closed-loop echo: `conns` connections, `inflight` messages each. µs of server CPU per echo. */
async function echo(s, { conns, inflight, size }) {
  const srv = await startServer(s, false);
  const msgs = messages(s.kind, size);
  const clients = await openMany(s.kind, srv.port, conns, msgs);
  let count = 0;
  const copies = new Map();
  const batch = (k) => {
    let b = copies.get(k);
    if (!b) copies.set(k, (b = Buffer.concat(Array(k).fill(msgs.echo))));
    return b;
  };
  for (const c of clients) {
    c.onMessages = (k) => {
      count += k;
      c.socket.write(k === 1 ? msgs.echo : batch(k));
    };
    c.socket.write(inflight === 1 ? msgs.echo : batch(inflight));
  }
  await sleep(700);
  const a = await srv.stats();
  const c0 = count;
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  const b = await srv.stats();
  const n = count - c0;
  const secs = (performance.now() - t0) / 1000;
  for (const c of clients) c.close();
  await srv.stop();
  return { cpu: cpuOf(a, b) / n, user: (b.user - a.user) / n, rate: n / secs };
}

/**
 * Fan-out: `room` receivers; each of `publishers` (also members) sends `burst` publishes in one
 * write, all at once, `reps` times. µs of server CPU per delivery; ms until the last arrived.
 */
async function fanout(s, { room, burst, reps, publishers = 1 }) {
  const srv = await startServer(s, true);
  const msgs = messages(s.kind, 64);
  const receivers = await openMany(s.kind, srv.port, room, msgs);
  const pubs = await openMany(s.kind, srv.port, publishers, msgs);
  // Every member but the sender gets each publish.
  const perRun = publishers * burst * (room + publishers - 1);
  let got = 0;
  let want = 0;
  let wake = () => undefined;
  for (const c of [...receivers, ...pubs])
    c.onMessages = (k) => {
      got += k;
      if (got >= want) wake();
    };
  const burstBuf = Buffer.concat(Array(burst).fill(msgs.pub));
  const run = async () => {
    want = got + perRun;
    const p = new Promise((r) => (wake = r));
    for (const pub of pubs) pub.socket.write(burstBuf);
    await p;
  };
  for (let i = 0; i < 3; i++) await run();
  const a = await srv.stats();
  const times = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await run();
    times.push(performance.now() - t);
  }
  const b = await srv.stats();
  for (const c of [...receivers, ...pubs]) c.close();
  await srv.stop();
  times.sort((x, y) => x - y);
  return { cpu: cpuOf(a, b) / (perRun * reps), user: (b.user - a.user) / (perRun * reps), ms: times[times.length >> 1] };
}

/** Idle connections: memory deltas per connection after a full GC in the server. */
async function idle(s, { conns }) {
  const srv = await startServer(s, true);
  const msgs = messages(s.kind, 32);
  await openMany(s.kind, srv.port, 50, msgs).then((cs) => cs.forEach((c) => c.close()));
  await sleep(300);
  const a = await srv.gcStats();
  const a2 = await srv.gcReduceStats();
  const clients = await openMany(s.kind, srv.port, conns, msgs);
  await sleep(300);
  // --idle-wait S: leave the connections idle first (V8's memory reducer acts on idle processes).
  if (IDLE_WAIT > 0) await sleep(IDLE_WAIT * 1000);
  const b = await srv.gcStats();
  const b2 = await srv.gcReduceStats();
  if (snapDir) {
    // Heap snapshots with and without the connections: compare with heap-diff.mjs.
    mkdirSync(snapDir, { recursive: true });
    await srv.snapshot(join(snapDir, `${s.label}-open.heapsnapshot`));
    for (const c of clients) c.close();
    await sleep(500);
    await srv.snapshot(join(snapDir, `${s.label}-closed.heapsnapshot`));
  }
  for (const c of clients) c.close();
  await srv.stop();
  const per = (k) => (b[k] - a[k]) / conns;
  // v8Phys: growth of the V8 heap's resident pages (live objects plus the young generation V8
  // grew during the set-up); native: RSS outside the V8 heap.
  // rssReduced: both sides measured again after a memory-reducing GC (young generation shrunk).
  return { rss: per('rss'), rssAnon: per('rssAnon'), rssFile: per('rssFile'), heap: per('heap'), v8Phys: per('v8Phys'), native: per('rss') - per('v8Phys'), external: per('external'), rssReduced: (b2.rss - a2.rss) / conns, v8PhysReduced: (b2.v8Phys - a2.v8Phys) / conns };
}

/** Connection set-up: open `conns` with `concurrency` handshakes in flight. µs of server CPU per set-up. */
async function setup(s, { conns, concurrency }) {
  const srv = await startServer(s, true);
  const msgs = messages(s.kind, 32);
  await openMany(s.kind, srv.port, 200, msgs).then((cs) => cs.forEach((c) => c.close()));
  await sleep(300);
  const a = await srv.stats();
  const t = performance.now();
  const clients = await openMany(s.kind, srv.port, conns, msgs, concurrency);
  const secs = (performance.now() - t) / 1000;
  const b = await srv.stats();
  for (const c of clients) c.close();
  await srv.stop();
  return { cpu: cpuOf(a, b) / conns, rate: conns / secs };
}

/** One connection, one message at a time: round-trip percentiles (ms). */
async function rtt(s, { size }) {
  const srv = await startServer(s, false);
  const msgs = messages(s.kind, size);
  const [c] = await openMany(s.kind, srv.port, 1, msgs);
  const lat = [];
  let t = 0;
  let measuring = false;
  let stop = false;
  await new Promise((done) => {
    c.onMessages = () => {
      if (measuring) lat.push(performance.now() - t);
      if (stop) return done();
      t = performance.now();
      c.socket.write(msgs.echo);
    };
    t = performance.now();
    c.socket.write(msgs.echo);
    setTimeout(() => (measuring = true), 500);
    setTimeout(() => (stop = true), 500 + SECONDS * 1000);
  });
  c.close();
  await srv.stop();
  lat.sort((x, y) => x - y);
  const pct = (p) => lat[Math.min(lat.length - 1, Math.floor((lat.length * p) / 100))];
  return { p50: pct(50), p99: pct(99), n: lat.length };
}

const CELLS = {
  oif: [['128 conns × 1 in flight × 32 B', echo, { conns: 128, inflight: 1, size: 32 }]],
  pipe: [
    ['1 conn × 64 in flight × 32 B', echo, { conns: 1, inflight: 64, size: 32 }],
    ['1 conn × 64 in flight × 1 KiB', echo, { conns: 1, inflight: 64, size: 1024 }],
  ],
  large: [['1 conn × 1 in flight × 1 MiB', echo, { conns: 1, inflight: 1, size: 1024 * 1024 }]],
  fanout: [
    ['fan-out 1000 × 1 publish', fanout, { room: 1000, burst: 1, reps: 100 }],
    ['fan-out 1000 × burst of 10', fanout, { room: 1000, burst: 10, reps: 30 }],
    ['fan-out 1000 × 10 publishers at once', fanout, { room: 1000, burst: 1, reps: 30, publishers: 10 }],
  ],
  idle: [['idle 2000 conns', idle, { conns: 2000 }]],
  setup: [['setup 2000 conns, 64 in flight', setup, { conns: 2000, concurrency: 64 }]],
  rtt: [['rtt 1 conn × 1 KiB', rtt, { size: 1024 }]],
};

const results = [];
const fmt = (x, d = 2) => (x >= 100 ? x.toFixed(0) : x.toFixed(d));
function summary(xs, key) {
  const v = xs.map((r) => r[key]).sort((a, b) => a - b);
  return { med: v[v.length >> 1], lo: v[0], hi: v[v.length - 1] };
}
console.log(`pinned: ${pinned ? 'server CPU 0, load CPU 1' : 'no'}; rounds ${ROUNDS}; window ${SECONDS} s; NODE_PATH ${nodePath ?? '-'}`);
for (const sc of scenarios) {
  for (const [title, fn, params] of CELLS[sc]) {
    const samples = new Map(servers.map((s) => [s.label, []]));
    for (let r = 0; r < ROUNDS; r++) {
      const order = servers.map((_, i) => servers[(i + r) % servers.length]);
      for (const s of order) {
        const res = await fn(s, params);
        samples.get(s.label).push(res);
        results.push({ scenario: sc, title, server: s.label, round: r, ...res });
      }
    }
    console.log(`\n${title}`);
    for (const s of servers) {
      const xs = samples.get(s.label);
      const keys = Object.keys(xs[0]).filter((k) => k !== 'n');
      const cols = keys.map((k) => {
        const m = summary(xs, k);
        return `${k} ${fmt(m.med)} (${fmt(m.lo)}–${fmt(m.hi)})`;
      });
      console.log(`  ${s.label.padEnd(18)} ${cols.join('  ')}`);
    }
  }
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 1));
process.exit(0);
