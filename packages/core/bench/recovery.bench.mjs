// Micro-benchmark of connection-state recovery's cost per delivery (not a test). Runs against the
// built package:   cd packages/core && npx tsup && node bench/recovery.bench.mjs
// One hub in this process, N sessions on links that only count bytes (no sockets), all in one
// room; broadcasts of a small JSON event. Compares, interleaved round by round:
//   off       recovery off (what every hub did before issue 12)
//   on/plain  recovery on, no session opted in (the broadcast path checks one field)
//   on/opted  recovery on, every session opted in (each broadcast logged once, offsets sent)
// and, with STELAR_BASE=<an ESM bundle of another build of @stelar/core>, that build ("base"),
// to check that "off" costs what it did. Prints ns per delivery and same-round ratios; exits 1
// when on/opted ÷ off passes 1.15 or on/plain ÷ off passes 1.05 (medians of the round ratios).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// STELAR_CORE: another ESM bundle of this build (to compare it with STELAR_BASE bundled the same way).
const dist = process.env.STELAR_CORE ?? fileURLToPath(new URL('../dist/index.js', import.meta.url));
if (!existsSync(dist)) {
  console.error('dist/index.js is missing: build first (cd packages/core && npx tsup)');
  process.exit(2);
}
const { Hub } = await import(dist);
const { decodeFrame, encodeClientConnect } = await import('@stelar/codec-tcp');
const base = process.env.STELAR_BASE ? await import(process.env.STELAR_BASE) : null;

const N = Number(process.env.RECIPIENTS ?? 1000);
const BROADCASTS = Number(process.env.BROADCASTS ?? 200);
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const payload = { user: 'ada', text: 'stelar sends small messages to many clients' };

function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A hub with N sessions in room `r` on counting links. */
function setup(HubClass, options, optIn) {
  const hub = new HubClass({ heartbeat: false, ...options });
  let bytes = 0;
  const hello = decodeFrame(optIn ? encodeClientConnect(undefined, {}) : encodeClientConnect());
  for (let i = 0; i < N; i++) {
    const link = {
      transport: 'mem',
      remoteAddress: '127.0.0.1',
      bufferedAmount: 0,
      send(frame) {
        bytes += frame.length;
        return 0;
      },
      ping() {},
      close() {},
      terminate() {},
      pause() {},
      resume() {},
    };
    hub.accept(link).onFrame(hello, 10);
  }
  for (const c of hub.connections.values()) c.join('r');
  return { hub, bytes: () => bytes };
}

/** ns per delivery of one batch of broadcasts. */
function once(hub) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < BROADCASTS; i++) hub.to('r').emit('m', payload);
  return Number(process.hrtime.bigint() - t0) / (BROADCASTS * N);
}

// Each case runs in a process of its own (one hub configuration per process, as in production:
// cases in one process would make the shared code polymorphic and bias each other).
const CASES = ['off', 'on/plain', 'on/opted', ...(base ? ['base'] : [])];
const role = process.argv[2];
if (role !== undefined) {
  const c =
    role === 'off' ? setup(Hub, {}, true) : role === 'on/plain' ? setup(Hub, { recovery: true }, false) : role === 'on/opted' ? setup(Hub, { recovery: true }, true) : setup(base.Hub, {}, true);
  for (let w = 0; w < 5; w++) once(c.hub);
  process.on('message', (m) => {
    if (m === 'run') process.send(once(c.hub));
    else {
      process.send(c.hub.getStats().recovery ?? null);
      process.exit(0);
    }
  });
  process.send('ready');
} else {
  const { fork } = await import('node:child_process');
  const ask = (child, msg) => new Promise((resolve) => child.once('message', resolve) && child.send(msg));
  const children = new Map();
  for (const name of CASES) {
    const child = fork(fileURLToPath(import.meta.url), [name], { env: process.env });
    await new Promise((resolve) => child.once('message', resolve));
    children.set(name, child);
  }
  const samples = new Map(CASES.map((name) => [name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < CASES.length; k++) {
      const name = CASES[(k + r) % CASES.length];
      samples.get(name).push(await ask(children.get(name), 'run'));
    }
  }
  const ratio = (a, b) => median(samples.get(a).map((x, i) => x / samples.get(b)[i]));
  console.log(`${N} recipients, ${BROADCASTS} broadcasts per batch, ${ROUNDS} interleaved rounds, one process per case`);
  for (const name of CASES) console.log(`  ${name.padEnd(9)} ${median(samples.get(name)).toFixed(1)} ns per delivery`);
  const opted = ratio('on/opted', 'off');
  const plain = ratio('on/plain', 'off');
  console.log(`  on/opted ÷ off ${opted.toFixed(3)} (goal ≤ 1.15)   on/plain ÷ off ${plain.toFixed(3)} (goal ≤ 1.05)${base ? `   off ÷ base ${ratio('off', 'base').toFixed(3)}` : ''}`);
  const stats = await ask(children.get('on/opted'), 'stats');
  console.log(`  log after the run (on/opted): ${stats.logEntries} entries, ${(stats.logBytes / 1024).toFixed(0)} KiB`);
  for (const [name, child] of children) if (name !== 'on/opted') child.send('stop');
  process.exit(opted <= 1.15 && plain <= 1.05 ? 0 : 1);
}
