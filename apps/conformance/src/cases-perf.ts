/**
 * Categories 9 (limits and performance of large and fragmented messages, timings reported) and
 * 10 (auto-fragmentation, both directions).
 */
import type { Case, Expectation } from './model';
import { asciiText, KiB, MiB, randomBinary, utf8Text } from './payloads';
import { sleep, type Tester } from './tester';
import { OP } from './wire';

const echo: Expectation = { kind: 'echo' };
const R = (s: string): string => `RFC 6455 §${s}`;
const cases: Case[] = [];
const add = (c: Case): void => {
  cases.push(c);
};
const size = (n: number): string => (n >= MiB ? `${n / MiB} MiB` : n >= KiB ? `${n / KiB} KiB` : `${n} B`);

/** Times from the first byte sent to the echo (logged in the report). */
function timed(t: Tester, name: string, count = 1): void {
  const start = t.now();
  t.check(() => {
    const done = t.dataEvents[count - 1];
    if (done) t.metric(name, Math.round(done.at - start));
    return undefined;
  });
}

const BIG = [64 * KiB, 256 * KiB, MiB, 4 * MiB, 8 * MiB, 16 * MiB];
for (const [g, binary] of [
  [1, false],
  [2, true],
] as const) {
  BIG.forEach((n, i) =>
    add({
      id: `9.${g}.${i + 1}`,
      title: `${binary ? 'binary' : 'text'} message of ${size(n)}`,
      rfc: R('5.2, 5.6'),
      expect: echo,
      timeout: 30_000,
      run: (t) => {
        const p = binary ? randomBinary(n) : utf8Text(n);
        timed(t, 'roundTripMs');
        t.send({ opcode: binary ? OP.BINARY : OP.TEXT, payload: p });
        t.expectMessage(p, binary);
      },
    }),
  );
}
const FRAG = [64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB];
for (const [g, binary] of [
  [3, false],
  [4, true],
] as const) {
  FRAG.forEach((f, i) =>
    add({
      id: `9.${g}.${i + 1}`,
      title: `${binary ? 'binary' : 'text'} message of 4 MiB in frames of ${size(f)}`,
      rfc: R('5.4'),
      expect: echo,
      timeout: 30_000,
      run: async (t) => {
        const p = binary ? randomBinary(4 * MiB) : utf8Text(4 * MiB);
        timed(t, 'roundTripMs');
        await t.message(p, { binary, fragments: f });
        t.expectMessage(p, binary);
      },
    }),
  );
}
const CHOPS = [64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB];
for (const [g, binary] of [
  [5, false],
  [6, true],
] as const) {
  CHOPS.forEach((c, i) =>
    add({
      id: `9.${g}.${i + 1}`,
      title: `${binary ? 'binary' : 'text'} message of 1 MiB written in chops of ${size(c)}`,
      rfc: R('5.2'),
      expect: echo,
      timeout: 30_000,
      run: async (t) => {
        const p = binary ? randomBinary(MiB) : utf8Text(MiB);
        timed(t, 'roundTripMs');
        await t.writeChopped(t.frame({ opcode: binary ? OP.BINARY : OP.TEXT, payload: p }), c);
        t.expectMessage(p, binary);
      },
    }),
  );
}
const SMALL = [0, 256, 4 * KiB];
for (const [g, binary] of [
  [7, false],
  [8, true],
] as const) {
  SMALL.forEach((n, i) =>
    add({
      id: `9.${g}.${i + 1}`,
      title: `1000 ${binary ? 'binary' : 'text'} messages of ${size(n)}, each sent after the previous echo`,
      rfc: R('5.2'),
      expect: echo,
      timeout: 30_000,
      run: async (t) => {
        const start = t.now();
        const p = binary ? randomBinary(n) : asciiText(n);
        for (let k = 0; k < 1000; k++) {
          t.send({ opcode: binary ? OP.BINARY : OP.TEXT, payload: p });
          t.expectMessage(p, binary);
          if (!(await t.waitData(k + 1, 5000)) || t.peerClosed || t.tcpClosed) break;
        }
        t.metric('totalMs', Math.round(t.now() - start));
      },
    }),
  );
}
add({
  id: '9.9.1',
  title: 'text frame declaring 16 MiB + 1 bytes (over the 16 MiB limit): failed from the header',
  rfc: R('10.4'),
  expect: { kind: 'fail', codes: [1009], failFastBefore: 'rest' },
  run: async (t) => {
    const f = t.frame({ opcode: OP.TEXT, payload: asciiText(16 * MiB + 1) });
    t.write(f.subarray(0, 64 * KiB));
    await t.waitPeerGone(1000);
    t.mark('rest');
    if (!t.peerClosed && !t.tcpClosed) t.write(f.subarray(64 * KiB));
  },
});
add({
  id: '9.9.2',
  title: 'fragmented binary message adding up to 16 MiB + 1 bytes',
  rfc: R('10.4'),
  expect: { kind: 'fail', codes: [1009], failFastBefore: 'rest' },
  timeout: 10_000,
  run: async (t) => {
    const half = randomBinary(8 * MiB);
    t.send({ opcode: OP.BINARY, payload: half, fin: false }, { opcode: OP.CONT, payload: half, fin: false });
    await sleep(50);
    // The last frame's header alone takes the message over the limit.
    const last = t.frame({ opcode: OP.CONT, payload: randomBinary(KiB) });
    t.write(last.subarray(0, 8));
    await t.waitPeerGone(1500);
    t.mark('rest');
    if (!t.peerClosed && !t.tcpClosed) t.write(last.subarray(8));
  },
});
add({
  id: '9.9.3',
  title: 'binary frame declaring 2^62 bytes',
  rfc: R('5.2, 10.4'),
  expect: { kind: 'fail', codes: [1009] },
  run: (t) => t.send({ opcode: OP.BINARY, payload: 'x', declaredLength: 1n << 62n }),
});
add({
  id: '9.9.4',
  title: 'a message of exactly 16 MiB (the limit) in 16 fragments is accepted',
  rfc: R('10.4'),
  expect: echo,
  timeout: 30_000,
  run: async (t) => {
    const p = randomBinary(16 * MiB);
    timed(t, 'roundTripMs');
    await t.message(p, { fragments: MiB });
    t.expectMessage(p, true);
  },
});

// ── 10 auto-fragmentation ──────────────────────────────────────────────────────
add({
  id: '10.1.1',
  title: 'text message of 64 KiB auto-fragmented by the tester into 1300-byte frames',
  rfc: R('5.4'),
  expect: echo,
  run: async (t) => {
    const p = utf8Text(64 * KiB);
    await t.message(p, { binary: false, fragments: 1300 });
    t.expectMessage(p, false);
  },
});
add({
  id: '10.1.2',
  title: 'binary message of 64 KiB in frames of random sizes (1 byte .. 4 KiB)',
  rfc: R('5.4'),
  expect: echo,
  run: async (t) => {
    const p = randomBinary(64 * KiB);
    const sizes: number[] = [];
    let left = p.length;
    while (left > 0) {
      const n = Math.min(left, 1 + Math.floor(Math.random() * 4096));
      sizes.push(n);
      left -= n;
    }
    await t.message(p, { fragments: sizes });
    t.expectMessage(p, true);
  },
});
/** Checks that the peer's first echo came in `frames` frames. */
function framesOf(t: Tester, frames: number): void {
  t.check(() => {
    const m = t.dataEvents[0];
    if (m && m.kind === 'message' && m.frames !== frames) return `echo came in ${m.frames} frame(s), expected ${frames}`;
    return undefined;
  });
}
const AUTO: [string, number, number, boolean][] = [
  ['text of 64 KiB', 64 * KiB, 1300, false],
  ['binary of 64 KiB', 64 * KiB, 1300, true],
  ['binary of 1 MiB', MiB, 64 * KiB, true],
  ['text of 4 KiB with multi-byte characters split across frames', 4 * KiB, 7, false],
];
AUTO.forEach(([title, n, frag, binary], i) =>
  add({
    id: `10.2.${i + 1}`,
    title: `the peer auto-fragments its echo (${title}, frames of ${frag} bytes)`,
    rfc: R('5.4'),
    expect: echo,
    fragment: frag,
    run: (t) => {
      const p = binary ? randomBinary(n) : utf8Text(n);
      t.send({ opcode: binary ? OP.BINARY : OP.TEXT, payload: p });
      t.expectMessage(p, binary);
      framesOf(t, Math.ceil(n / frag));
    },
  }),
);

export const PERF_CASES: readonly Case[] = cases;
