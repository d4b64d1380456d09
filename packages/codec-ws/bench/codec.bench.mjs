// Micro-benchmark of @stelar/codec-ws (not a test). Runs against the built package:
//   cd packages/codec-ws && npx tsup && npm run bench
// Prints masking throughput (word path vs a plain byte loop), parse throughput for small and
// large frames, client frame encoding and a permessage-deflate roundtrip.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/index', import.meta.url));
if (!existsSync(dist)) {
  console.error('dist/index.js is missing: build first (cd packages/codec-ws && npx tsup)');
  process.exit(2);
}
const { mask, unmask, encodeFrame, Opcode, Receiver, PerMessageDeflate } = await import(dist);

const RUNS = 9;
const WARMUP = 3;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}
/** Median wall time (ms) of `fn` over RUNS runs, after WARMUP unmeasured runs. */
function time(fn) {
  for (let i = 0; i < WARMUP; i++) fn();
  const xs = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    xs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(xs);
}
const mbps = (bytes, ms) => `${((bytes / 1e6) / (ms / 1e3)).toFixed(0).padStart(6)} MB/s`;
const row = (...cols) => console.log(cols.map((c, i) => String(c).padEnd(i === 0 ? 34 : 16)).join(''));

function byteLoopMask(src, key, out) {
  for (let i = 0; i < src.length; i++) out[i] = src[i] ^ key[i & 3];
}

// ---------------------------------------------------------------- masking
console.log('\nmasking (same data masked repeatedly, ~32 MiB per run)');
row('size', 'word path', 'byte loop', 'speed-up');
const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
for (const size of [16, 125, 1024, 64 * 1024, 1024 * 1024]) {
  const src = Buffer.allocUnsafeSlow(size).fill(0x5a);
  const out = Buffer.allocUnsafeSlow(size);
  const reps = Math.max(1, Math.floor((32 * 1024 * 1024) / size));
  const tw = time(() => {
    for (let r = 0; r < reps; r++) mask(src, key, out);
  });
  const tb = time(() => {
    for (let r = 0; r < reps; r++) byteLoopMask(src, key, out);
  });
  row(`${size} B`, mbps(size * reps, tw), mbps(size * reps, tb), `${(tb / tw).toFixed(1)}×`);
}
{
  const big = Buffer.allocUnsafeSlow(1024 * 1024 + 1).subarray(1); // misaligned view
  const t = time(() => {
    for (let r = 0; r < 32; r++) unmask(big, key);
  });
  row('1 MiB in place, misaligned start', mbps(big.length * 32, t), '', '');
}

// ---------------------------------------------------------------- parsing
function parseBench(label, payloadSize, count, chunkSize) {
  const frames = [];
  const payload = Buffer.alloc(payloadSize, 0x61);
  for (let i = 0; i < count; i++) frames.push(...encodeFrame(payload, { opcode: Opcode.BINARY, role: 'client' }));
  const stream = Buffer.concat(frames);
  const chunks = [];
  for (let i = 0; i < stream.length; i += chunkSize) chunks.push(stream.subarray(i, i + chunkSize));
  let messages = 0;
  const handlers = {
    onMessage: () => messages++,
    onPing() {},
    onPong() {},
    onClose() {},
    onError(e) {
      throw e;
    },
  };
  // Each run gets fresh copies: the receiver unmasks in place.
  const copies = Array.from({ length: RUNS + WARMUP }, () => chunks.map((c) => Buffer.from(c)));
  let run = 0;
  const t = time(() => {
    const r = new Receiver({ role: 'server', maxMessageSize: 64 * 1024 * 1024 }, handlers);
    for (const c of copies[run++]) r.push(c);
  });
  const perSec = (count / (t / 1e3)).toFixed(0);
  row(label, mbps(stream.length, t), `${perSec.padStart(9)} msg/s`, '');
  if (messages !== count * (RUNS + WARMUP)) throw new Error('lost messages');
}
console.log('\nreceiver (server role, masked frames)');
row('case', 'throughput', 'messages', '');
parseBench('32 B frames, 64 KiB chunks', 32, 100_000, 64 * 1024);
parseBench('1 KiB frames, 64 KiB chunks', 1024, 20_000, 64 * 1024);
parseBench('1 MiB frames, 64 KiB chunks', 1024 * 1024, 32, 64 * 1024);
parseBench('64 KiB frames, 1 KiB chunks', 64 * 1024, 200, 1024);

// ---------------------------------------------------------------- encoding
console.log('\nencoding');
{
  const p = Buffer.alloc(64, 0x61);
  const n = 200_000;
  const tc = time(() => {
    for (let i = 0; i < n; i++) encodeFrame(p, { opcode: Opcode.BINARY, role: 'client' });
  });
  const ts = time(() => {
    for (let i = 0; i < n; i++) encodeFrame(p, { opcode: Opcode.BINARY, role: 'server' });
  });
  row('64 B client frames (masked)', `${(n / (tc / 1e3)).toFixed(0).padStart(9)} fr/s`, '', '');
  row('64 B server frames', `${(n / (ts / 1e3)).toFixed(0).padStart(9)} fr/s`, '', '');
}

// ---------------------------------------------------------------- deflate
console.log('\npermessage-deflate (compress + inflate, context takeover, sequential)');
{
  const params = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
  const tx = new PerMessageDeflate({ role: 'server', params });
  const rx = new PerMessageDeflate({ role: 'client', params });
  const msg = Buffer.from(JSON.stringify({ event: 'chat', room: 'lobby', text: 'hello world '.repeat(20), n: 1 }));
  const n = 5000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const c = await tx.compressAsync(msg);
    await rx.decompressAsync(c);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  row(`${msg.length} B JSON messages`, `${(n / (ms / 1e3)).toFixed(0).padStart(9)} msg/s`, '', '');
  tx.close();
  rx.close();
}
