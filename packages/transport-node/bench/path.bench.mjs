// JavaScript cost of the server's message path without system calls (not a test): the links of
// @stelar/transport-node on in-memory sockets (a Duplex whose writes complete at once), behind a
// real @stelar/server hub with the bench application (echo; publish to a room). CPU time per
// message of this one process, rounds of every variant interleaved, so A/B decisions do not
// depend on what the kernel or the rest of the machine is doing.
//
//   node packages/transport-node/bench/path.bench.mjs [--variant name=ROOT]... [--rounds N]
//
// ROOT/packages/*/src are bundled with esbuild (default: this checkout as "new").
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Duplex } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = resolve(here, '../../..');
const args = process.argv.slice(2);
const variants = [];
for (let i = 0; i < args.length; i++) if (args[i] === '--variant') {
  const [name, root] = args[i + 1].split('=');
  variants.push({ name, root: resolve(root) });
}
if (variants.length === 0) variants.push({ name: 'new', root: repo });
const ri = args.indexOf('--rounds');
const ROUNDS = ri >= 0 ? Number(args[ri + 1]) : 5;

const dir = join(tmpdir(), `stelar-path-bench-${process.pid}`);
mkdirSync(dir, { recursive: true });
const { build } = await import('esbuild');
for (const v of variants) {
  const alias = {};
  // Each package's src directory: `@stelar/core` is its index.ts, `@stelar/core/internal` its
  // internal.ts, `@stelar/core/client` client/index.ts (the subpaths of its exports map).
  for (const p of ['core', 'codec-tcp', 'codec-ws', 'transport-node', 'server']) alias[`@stelar/${p}`] = join(v.root, 'packages', p, 'src');
  const entry = join(dir, `${v.name}-entry.mjs`);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(entry, "export { createServer } from '@stelar/server';\nexport { WsConnection, WsLink, TcpLink } from '@stelar/transport-node';\n");
  v.bundle = join(dir, `${v.name}.mjs`);
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: v.bundle, alias, logLevel: 'error' });
  v.mod = await import(pathToFileURL(v.bundle).href);
}

/** A socket stand-in: writes complete at once (counted), reads are `emit('data')`. */
class MemSocket extends Duplex {
  constructor() {
    super();
    this.written = 0;
    this.writes = 0;
    this.remoteAddress = '127.0.0.1';
    this.remotePort = 1;
  }
  _read() {}
  _write(chunk, _enc, cb) {
    this.writes++;
    this.written += chunk.length;
    cb();
  }
  _writev(chunks, cb) {
    this.writes++;
    for (const c of chunks) this.written += c.chunk.length;
    cb();
  }
  setTimeout() {
    return this;
  }
  setNoDelay() {
    return this;
  }
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
const KEY = Buffer.from([0x12, 0x34, 0x56, 0x78]);
function wsClientFrame(payload) {
  const len = payload.length;
  const hl = (len < 126 ? 2 : len < 0x10000 ? 4 : 10) + 4;
  const out = Buffer.allocUnsafe(hl + len);
  out[0] = 0x82;
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
const LIMITS = { highWaterMark: 1 << 20, maxBufferedAmount: 8 << 20, closeTimeout: 5000 };

function serverOf(v) {
  const server = v.mod.createServer({ port: 0, ws: false, maxFrameSize: 16 << 20, heartbeat: { interval: 1e9 }, onError: () => undefined });
  server.on('echo', (data, conn) => conn.emit('echo', data));
  server.on('pub', (data, conn) => conn.to('room').emit('fan', data));
  server.onConnection((conn) => conn.join('room'));
  return server;
}
function link(v, server, wire) {
  const socket = new MemSocket();
  let l;
  if (wire === 'ws') {
    const conn = new v.mod.WsConnection(socket, { role: 'server', maxMessageSize: 16 << 20 });
    l = new v.mod.WsLink(conn, { transport: 'ws', remoteAddress: '127.0.0.1' }, { maxFrameSize: 16 << 20, limits: LIMITS, report: () => undefined });
  } else {
    l = new v.mod.TcpLink(socket, { transport: 'tcp', remoteAddress: '127.0.0.1' }, { maxFrameSize: 16 << 20, limits: LIMITS, report: () => undefined });
  }
  l.attach(server.accept(l));
  const connect = stelarFrame(7, '', Buffer.from('{"v":1}'));
  socket.emit('data', wire === 'ws' ? wsClientFrame(connect.subarray(4)) : connect);
  return socket;
}
const tick = () => new Promise((r) => setImmediate(r));
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** ns of CPU per echoed message, one message per read. */
async function echo(v, wire, size, iters) {
  const server = serverOf(v);
  const socket = link(v, server, wire);
  await tick();
  const frame = stelarFrame(2, 'echo', Buffer.alloc(size, 0x61));
  const wsFrame = wire === 'ws' ? wsClientFrame(frame.subarray(4)) : frame;
  // The receiver unmasks in place: feed fresh copies (the copy loop is timed too, for everyone).
  const POOL = 256;
  const copies = Array.from({ length: POOL }, () => Buffer.from(wsFrame));
  const t = cpu();
  for (let i = 0; i < iters; i++) {
    const k = i % POOL;
    if (wire === 'ws') wsFrame.copy(copies[k]);
    socket.emit('data', copies[k]);
    if ((i & 1023) === 1023) await tick();
  }
  const ns = ((cpu() - t) * 1000) / iters;
  socket.destroy();
  await server.close({ timeout: 10 }).catch(() => undefined);
  return ns;
}

/** ns of CPU per delivery: one publish to a room of `room` links, `burst` publishes per read. */
async function fanout(v, wire, room, burst, reps) {
  const server = serverOf(v);
  const sockets = [];
  for (let i = 0; i < room + 1; i++) sockets.push(link(v, server, wire));
  await tick();
  const frame = stelarFrame(2, 'pub', Buffer.alloc(64, 0x62));
  const one = wire === 'ws' ? wsClientFrame(frame.subarray(4)) : frame;
  const burstBuf = Buffer.concat(Array(burst).fill(one));
  const pub = sockets[0];
  const t = cpu();
  for (let r = 0; r < reps; r++) {
    pub.emit('data', Buffer.from(burstBuf));
    await tick();
  }
  const ns = ((cpu() - t) * 1000) / (reps * burst * room);
  for (const s of sockets) s.destroy();
  await server.close({ timeout: 10 }).catch(() => undefined);
  return ns;
}

const cells = [
  ['ws echo 32 B', (v) => echo(v, 'ws', 32, 200_000)],
  ['tcp echo 32 B', (v) => echo(v, 'tcp', 32, 200_000)],
  ['ws echo 1 KiB', (v) => echo(v, 'ws', 1024, 100_000)],
  ['ws echo 1 MiB', (v) => echo(v, 'ws', 1 << 20, 300)],
  ['tcp echo 1 MiB', (v) => echo(v, 'tcp', 1 << 20, 300)],
  ['ws fan-out 1000 × 1', (v) => fanout(v, 'ws', 1000, 1, 200)],
  ['ws fan-out 1000 × burst 10', (v) => fanout(v, 'ws', 1000, 10, 40)],
  ['tcp fan-out 1000 × 1', (v) => fanout(v, 'tcp', 1000, 1, 200)],
];
const only = args.indexOf('--cells');
const pick = only >= 0 ? args[only + 1].split(',') : null;
for (const [name, fn] of cells) {
  if (pick && !pick.some((p) => name.includes(p))) continue;
  const res = new Map(variants.map((v) => [v.name, []]));
  for (let r = 0; r < ROUNDS + 1; r++) {
    for (const v of r % 2 ? [...variants].reverse() : variants) {
      const ns = await fn(v);
      if (r > 0) res.get(v.name).push(ns); // round 0 warms the JIT
    }
  }
  const line = variants.map((v) => {
    const xs = res.get(v.name).sort((a, b) => a - b);
    return `${v.name} ${xs[xs.length >> 1].toFixed(0)} ns (${xs[0].toFixed(0)}–${xs[xs.length - 1].toFixed(0)})`;
  });
  console.log(`${name.padEnd(28)} ${line.join('   ')}`);
}
process.exit(0);
