// Micro-benchmark of JSON payloads (not a test): what binary support inside JSON data costs
// plain JSON data, which never holds any. Runs against the built package:
//   cd packages/codec-tcp && npx tsup && node bench/json.bench.mjs [--baseline other/index.js]
// With --baseline (a build of the codec before the change, e.g. bundled with esbuild from an
// older commit), encodeJson and decodeJson of this build and of the baseline run interleaved,
// and the best runs are compared (load only slows runs down, so the fastest run of each is the
// closest to its unloaded cost): within 5% for every typical small object, else FAIL
// (exit 1). Without it, decoding is compared with its own old path, JSON.parse(utf8Decode(…)).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
if (!existsSync(dist)) {
  console.error('dist/index.js is missing: build first (cd packages/codec-tcp && npx tsup)');
  process.exit(2);
}
const at = process.argv.indexOf('--baseline');
const baselinePath = at > 0 ? process.argv[at + 1] : undefined;
const cur = await import(dist);
const base = baselinePath ? await import(pathToFileURL(resolve(baselinePath)).href) : undefined;

const RUNS = 15;
const WARMUP = 3;
const OPS = 200_000;
const LIMIT = 1.05;

const SAMPLES = {
  'chat {t}': { t: 'hi' },
  'chat message': { room: 'lobby', user: { id: 42, name: 'alice' }, text: 'hello there, how are you', ts: 1712345678901 },
  position: { id: 'p1', x: 1.5, y: 2.5, z: -3, vx: 0.1, vy: 0.2, vz: 0.3 },
  'list of 3 objects': [{ id: 1, n: 'a' }, { id: 2, n: 'b' }, { id: 3, n: 'c' }],
  'numbers + flags': { items: [1, 2, 3, 4, 5, 6, 7, 8], meta: { a: true, b: null, c: 'x' } },
  'string only': 'just a string',
};

/**
 * CPU ns per call of each function, per round (process CPU time, so time spent waiting for a core
 * on a loaded machine does not count); rounds interleaved in rotating order so load hits all alike.
 */
function rounds(...fns) {
  const run = (fn) => {
    const t0 = process.cpuUsage();
    for (let i = 0; i < OPS; i++) fn();
    const t = process.cpuUsage(t0);
    return ((t.user + t.system) * 1000) / OPS;
  };
  for (let i = 0; i < WARMUP; i++) for (const fn of fns) run(fn);
  const xs = fns.map(() => []);
  for (let r = 0; r < RUNS; r++) {
    for (let k = 0; k < fns.length; k++) {
      const j = (k + r) % fns.length;
      xs[j].push(run(fns[j]));
    }
  }
  return xs;
}
/** Ratio of the best runs of a and b. */
const best = (xs) => Math.min(...xs);
const ratio = (a, b) => best(a) / best(b);
let sink = 0;
let failed = false;
const row = (...cells) => console.log(cells.map((c, i) => String(c).padEnd(i === 0 ? 20 : 12)).join(''));

console.log(`JSON payloads, ${OPS} calls per round, ${RUNS} rounds, best run's CPU ns per call${base ? ` (baseline: ${baselinePath})` : ''}`);
row('data', 'encode ns', ...(base ? ['base ns', 'ratio'] : []), 'decode ns', base ? 'base ns' : 'old path ns', 'ratio');
for (const [name, data] of Object.entries(SAMPLES)) {
  const payload = cur.decodeFrame(cur.encodeJson('chat', data)).payload.slice();
  const encCur = () => (sink += cur.encodeJson('chat', data).length);
  const decCur = () => (sink += cur.decodeJson(payload) === undefined ? 0 : 1);
  const decOld = base ? () => (sink += base.decodeJson(payload) === undefined ? 0 : 1) : () => (sink += JSON.parse(cur.utf8Decode(payload)) === undefined ? 0 : 1);
  const fns = [encCur, decCur, decOld];
  if (base) fns.push(() => (sink += base.encodeJson('chat', data).length));
  const [e, d, dOld, eBase] = rounds(...fns);
  const dr = ratio(d, dOld);
  const cells = [name, best(e).toFixed(0)];
  if (base) {
    const er = ratio(e, eBase);
    cells.push(best(eBase).toFixed(0), er.toFixed(3));
    if (er > LIMIT) failed = true;
  }
  cells.push(best(d).toFixed(0), best(dOld).toFixed(0), dr.toFixed(3));
  if (dr > LIMIT) failed = true;
  row(...cells);
}

// For information: the attachment form itself.
const img = new Uint8Array(1024).map((_, i) => (i * 31) & 0xff); // every byte value, as in an image
const withBin = { name: 'a.png', bytes: img };
const asNumbers = { name: 'a.png', bytes: Array.from(img) };
const [eb, en] = rounds(
  () => (sink += cur.encodeJson('img', withBin).length),
  () => (sink += cur.encodeJson('img', asNumbers).length),
);
const pb = cur.decodeFrame(cur.encodeJson('img', withBin)).payload.slice();
const pn = cur.decodeFrame(cur.encodeJson('img', asNumbers)).payload.slice();
const [db, dn] = rounds(
  () => (sink += cur.decodeJson(pb) ? 1 : 0),
  () => (sink += cur.decodeJson(pn) ? 1 : 0),
);
console.log(`\n1 KiB of bytes in an object: attachment form ${pb.length} B, encode ${best(eb).toFixed(0)} ns, decode ${best(db).toFixed(0)} ns;`);
console.log(`the same bytes as a JSON array of numbers: ${pn.length} B, encode ${best(en).toFixed(0)} ns, decode ${best(dn).toFixed(0)} ns`);
console.log(`  ${failed ? 'FAIL' : 'PASS'}: plain JSON encode${base ? '' : ' (not compared: no --baseline)'} and decode within ${((LIMIT - 1) * 100).toFixed(0)}% of the old path`);
if (sink === 0.5) console.log('');
process.exit(failed ? 1 : 0);
