// Micro-benchmark of @stelar/codec-tcp (not a test). Runs against the built package:
//   cd packages/codec-tcp && npx tsup && npm run bench
// Checks that the stream decoder is linear and prints encode throughput. Exits 1 on FAIL.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
if (!existsSync(dist)) {
  console.error('dist/index.js is missing: build first (cd packages/codec-tcp && npx tsup)');
  process.exit(2);
}
const { FrameDecoder, encodeBinary, encodeJson } = await import(dist);

const RUNS = 21;
const WARMUP = 5;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function once(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
/**
 * Wall times (ms) of each function over RUNS rounds, after WARMUP unmeasured rounds. The cases
 * are interleaved (in rotating order) so that load on the machine hits them alike. Returns the
 * per-round samples; `median` them, or take per-round ratios.
 */
function rounds(...fns) {
  for (let i = 0; i < WARMUP; i++) for (const fn of fns) fn();
  const xs = fns.map(() => []);
  for (let r = 0; r < RUNS; r++) {
    for (let k = 0; k < fns.length; k++) {
      const j = (k + r) % fns.length;
      xs[j].push(once(fns[j]));
    }
  }
  return xs;
}
/** Median wall time (ms) of each function, interleaved. */
const compare = (...fns) => rounds(...fns).map(median);
const time = (fn) => compare(fn)[0];
function concat(frames) {
  let n = 0;
  for (const f of frames) n += f.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}
function chunks(bytes, size) {
  const out = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}
const fmt = (ms) => `${ms.toFixed(3)} ms`;
let failed = false;
function verdict(ok, what) {
  if (!ok) failed = true;
  console.log(`  ${ok ? 'PASS' : 'FAIL'}: ${what}`);
}

/** Feeds `pieces` to a fresh decoder and checks the frame count. */
function feed(pieces, expectFrames) {
  let count = 0;
  let sink = 0;
  const d = new FrameDecoder((f) => {
    count++;
    sink += f.payload.length;
  });
  for (const p of pieces) d.push(p);
  if (count !== expectFrames || d.bufferedBytes !== 0) throw new Error(`decoded ${count} of ${expectFrames} frames`);
  return sink;
}

// 1. Many small frames in one feed: 10x the frames must cost at most 11x the time.
{
  const small = (n) => concat(Array.from({ length: n }, (_, i) => encodeJson('chat:message', { t: 'hi', n: i })));
  const s10k = small(10_000);
  const s100k = small(100_000);
  // Both samples last about as long (ten separate 10k feeds against one 100k feed), so load on
  // the machine weighs on them alike; the ratio is taken per round, then its median.
  const [a, b] = rounds(
    () => {
      for (let i = 0; i < 10; i++) feed([s10k], 10_000);
    },
    () => feed([s100k], 100_000),
  );
  const t10k = median(a) / 10;
  const t100k = median(b);
  const ratio = median(b.map((x, i) => x / (a[i] / 10)));
  console.log(`small frames in one feed (${(s100k.length / 100_000).toFixed(0)} B each, median of ${RUNS})`);
  console.log(`  10k frames: ${fmt(t10k)}   100k frames: ${fmt(t100k)}   ratio ${ratio.toFixed(2)}x   (${((100_000 / t100k) * 1e3 / 1e6).toFixed(2)} M frames/s)`);
  verdict(ratio <= 11, '100k frames cost <= 11x 10k frames');
  const c64 = chunks(s100k, 64 * 1024);
  const tc = time(() => feed(c64, 100_000));
  const s5k = small(5_000);
  const c1 = chunks(s5k, 1);
  const t1 = time(() => feed(c1, 5_000));
  console.log(`  100k frames in 64 KiB chunks: ${fmt(tc)}   5k frames fed 1 byte at a time: ${fmt(t1)} (${((s5k.length / t1) * 1e3 / 1e6).toFixed(2)} MB/s)`);
}

// 2. One 10 MiB frame: fed whole, and in 64 KiB (and 4 KiB) chunks. Fed whole, the frame is
//    delivered as a view of the chunk: no copy at all, so it costs microseconds and the raw
//    ratio is meaningless. A frame spanning chunks must be joined once; the bound is therefore
//    against (fed whole + one frame-sized alloc+copy). Re-concatenating on every chunk (the
//    quadratic mistake) costs ~100x that at 64 KiB and ~1000x at 4 KiB.
{
  const big = encodeBinary('file', new Uint8Array(10 * 1024 * 1024).fill(7));
  const c64 = chunks(big, 64 * 1024);
  const c4 = chunks(big, 4 * 1024);
  // The floor for any frame that spans chunks: allocating and filling one frame-sized array.
  const samples = rounds(
    () => feed([big], 1),
    () => feed(c64, 1),
    () => feed(c4, 1),
    () => new Uint8Array(big.length).set(big),
  );
  const [tWhole, tChunked, t4, tCopy] = samples.map(median);
  const [sWhole, s64, s4, sCopy] = samples;
  // Per-round ratios against (whole + one copy), then their median: robust to load drift.
  const r64 = median(s64.map((x, i) => x / (sWhole[i] + sCopy[i])));
  const r4 = median(s4.map((x, i) => x / (sWhole[i] + sCopy[i])));
  console.log(`one ${(big.length / 2 ** 20).toFixed(2)} MiB frame (median of ${RUNS})`);
  console.log(`  fed whole: ${fmt(tWhole)} (zero-copy view)   in 64 KiB chunks: ${fmt(tChunked)}   ratio ${(tChunked / tWhole).toFixed(1)}x`);
  console.log(`  in 4 KiB chunks: ${fmt(t4)}   one frame-sized alloc+copy (the floor for a spanning frame): ${fmt(tCopy)}`);
  console.log(`  vs (fed whole + one copy): 64 KiB chunks ${r64.toFixed(2)}x, 4 KiB chunks ${r4.toFixed(2)}x`);
  verdict(r64 <= 2, '64 KiB chunks cost <= 2x (fed whole + one copy of the frame)');
  verdict(r4 <= 4, '4 KiB chunks cost <= 4x (fed whole + one copy of the frame): no re-concatenation');
}

// 3. Encode throughput.
{
  const N = 200_000;
  const bin64 = new Uint8Array(64).fill(1);
  const bin4k = new Uint8Array(4096).fill(2);
  const cases = [
    ['JSON  chat:message {t,n}', (i) => encodeJson('chat:message', { t: 'hello', n: i })],
    ['BINARY blob 64 B', () => encodeBinary('blob', bin64)],
    ['BINARY blob 4 KiB', () => encodeBinary('blob', bin4k)],
  ];
  console.log(`encode throughput (${N / 1000}k frames per run, median of ${RUNS})`);
  for (const [name, enc] of cases) {
    let sink = 0;
    const t = time(() => {
      for (let i = 0; i < N; i++) sink += enc(i).length;
    });
    console.log(`  ${name.padEnd(26)} ${((N / t) * 1e3 / 1e6).toFixed(2)} M frames/s  (${(sink > 0 ? (sink / (RUNS + WARMUP) / N) : 0).toFixed(0)} B/frame)`);
  }
}

console.log(failed ? 'FAIL' : 'PASS');
process.exit(failed ? 1 : 0);
