/**
 * Categories 12 (permessage-deflate: compressed echo of many sizes, fragmentation, invalid
 * compressed data, decompression bombs) and 13 (every parameter combination, and negotiation),
 * from RFC 7692 §5–§8.
 */
import { deflateOnce, type PmdParams } from './deflate';
import type { Case, DeflateSetup } from './model';
import { asciiText, hex, KiB, MiB, randomBinary, repetitive, wordsText } from './payloads';
import type { Tester } from './tester';
import { OP, RSV1 } from './wire';

const R = (s: string): string => `RFC 7692 §${s}`;
const cases: Case[] = [];
const add = (c: Case): void => {
  cases.push(c);
};
const size = (n: number): string => (n >= MiB ? `${n / MiB} MiB` : n >= KiB ? `${n / KiB} KiB` : `${n} B`);

/** The default offer (`permessage-deflate; client_max_window_bits`), accepted without parameters. */
const DEFAULT: DeflateSetup = { params: { clientMaxWindowBits: true } };

/** Sends each message compressed (in order) and expects every echo. */
async function compressedEcho(t: Tester, messages: (string | Buffer)[], fragments?: number): Promise<void> {
  for (const m of messages) {
    await t.message(m, { compress: true, ...(fragments ? { fragments } : {}) });
    t.expectMessage(m);
  }
}

// ── 12 permessage-deflate ──────────────────────────────────────────────────────
const SIZES = [16, 64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 128 * KiB, MiB];
for (const [g, binary] of [
  [1, false],
  [2, true],
] as const) {
  SIZES.forEach((n, i) =>
    add({
      id: `12.${g}.${i + 1}`,
      title: `10 compressed ${binary ? 'binary' : 'text'} messages of ${size(n)}`,
      rfc: R('6, 7.2'),
      deflate: DEFAULT,
      expect: { kind: 'echo' },
      timeout: 15_000,
      run: (t) =>
        compressedEcho(
          t,
          Array.from({ length: 10 }, (_, k) => (binary ? repetitive(n, 100 + k * 37) : wordsText(n, k + 1))),
        ),
    }),
  );
}
[1, 100, 4 * KiB].forEach((f, i) =>
  add({
    id: `12.3.${i + 1}`,
    title: `compressed text message of 64 KiB, its compressed payload in frames of ${size(f)} (RSV1 on the first only)`,
    rfc: R('6.1'),
    deflate: DEFAULT,
    expect: { kind: 'echo' },
    run: (t) => compressedEcho(t, [wordsText(64 * KiB, 7), wordsText(64 * KiB, 8)], f),
  }),
);
add({
  id: '12.3.4',
  title: 'compressed binary message of 1 MiB in frames of 64 KiB',
  rfc: R('6.1'),
  deflate: DEFAULT,
  expect: { kind: 'echo' },
  run: (t) => compressedEcho(t, [repetitive(MiB, 5000)], 64 * KiB),
});
add({
  id: '12.4.1',
  title: 'compressed empty text and binary messages (payload 0x00)',
  rfc: R('7.2.3.6'),
  deflate: DEFAULT,
  expect: { kind: 'echo' },
  run: (t) => {
    t.send({ opcode: OP.TEXT, rsv: RSV1, payload: hex('00') }, { opcode: OP.BINARY, rsv: RSV1, payload: hex('00') });
    t.expectMessage('');
    t.expectMessage(Buffer.alloc(0), true);
  },
});
add({
  id: '12.4.2',
  title: 'compressed and uncompressed messages interleaved',
  rfc: R('6'),
  deflate: DEFAULT,
  expect: { kind: 'echo' },
  run: async (t) => {
    for (let k = 0; k < 6; k++) {
      const m = wordsText(2000 + k, k + 1);
      if (k % 2 === 0) await t.message(m, { compress: true });
      else t.send({ opcode: OP.TEXT, payload: m });
      t.expectMessage(m);
    }
  },
});
add({
  id: '12.4.3',
  title: 'ping between the frames of a compressed message',
  rfc: R('6.1; RFC 6455 §5.4'),
  deflate: DEFAULT,
  expect: { kind: 'echo' },
  run: async (t) => {
    const m = wordsText(8 * KiB, 3);
    await t.message(m, { compress: true, fragments: 500, between: { opcode: OP.PING, payload: 'between' } });
    const frames = Math.ceil((await deflateLength(m)) / 500);
    for (let i = 0; i < frames - 1; i++) t.expectPong('between');
    t.expectMessage(m);
  },
});
/** Length of `m` compressed alone (the case's first message: a fresh context). */
async function deflateLength(m: string): Promise<number> {
  return deflateOnce(Buffer.from(m), { level: 6 }).length;
}
add({
  id: '12.4.4',
  title: 'the same 4 KiB message 5 times (the later ones reference the context)',
  rfc: R('7.2.1'),
  deflate: DEFAULT,
  expect: { kind: 'echo' },
  run: (t) => compressedEcho(t, Array.from({ length: 5 }, () => wordsText(4 * KiB, 99))),
});
add({
  id: '12.4.5',
  title: 'messages ending in a final (BFINAL) deflate block, twice',
  rfc: R('7.2.3.4'),
  deflate: DEFAULT,
  expect: { kind: 'echo' },
  run: (t) => {
    for (const m of [wordsText(3000, 1), wordsText(3000, 2)]) {
      t.send({ opcode: OP.TEXT, rsv: RSV1, payload: deflateOnce(Buffer.from(m), { final: true }) });
      t.expectMessage(m);
    }
  },
});
add({
  id: '12.4.6',
  title: 'messages compressed each with a fresh context while context takeover is allowed',
  rfc: R('7.2.1'),
  deflate: DEFAULT,
  expect: { kind: 'echo' },
  run: (t) => {
    for (const m of [wordsText(3000, 5), wordsText(3000, 5), asciiText(100)]) {
      t.send({ opcode: OP.TEXT, rsv: RSV1, payload: deflateOnce(Buffer.from(m)) });
      t.expectMessage(m);
    }
  },
});
add({
  id: '12.4.7',
  title: 'compressed payload using uncompressed (stored) blocks',
  rfc: R('7.2.3.3'),
  deflate: DEFAULT,
  expect: { kind: 'echo' },
  run: (t) => {
    const m = randomBinary(5000);
    t.send({ opcode: OP.BINARY, rsv: RSV1, payload: deflateOnce(m, { level: 0 }) });
    t.expectMessage(m, true);
  },
});
add({
  id: '12.5.1',
  title: 'compressed data that does not inflate',
  rfc: R('6.2, 8'),
  deflate: DEFAULT,
  expect: { kind: 'fail', codes: [1007], nonStrict: [1002] },
  run: (t) => t.send({ opcode: OP.BINARY, rsv: RSV1, payload: hex('ffffffff0000deadbeef') }),
});
add({
  id: '12.5.2',
  title: 'RSV1 on a continuation frame',
  rfc: R('6'),
  deflate: DEFAULT,
  expect: { kind: 'fail', codes: [1002] },
  run: async (t) => {
    const p = deflateOnce(Buffer.from(wordsText(2000)));
    t.send({ opcode: OP.TEXT, rsv: RSV1, payload: p.subarray(0, 10), fin: false }, { opcode: OP.CONT, rsv: RSV1, payload: p.subarray(10) });
  },
});
add({
  id: '12.5.3',
  title: 'RSV1 on a ping',
  rfc: R('6'),
  deflate: DEFAULT,
  expect: { kind: 'fail', codes: [1002] },
  run: (t) => t.send({ opcode: OP.PING, rsv: RSV1, payload: 'x' }),
});
add({
  id: '12.5.4',
  title: 'decompression bomb: 32 KiB inflating to 32 MiB (over the 16 MiB limit)',
  rfc: R('8.1; RFC 6455 §10.4'),
  deflate: DEFAULT,
  expect: { kind: 'fail', codes: [1009] },
  timeout: 10_000,
  run: (t) => {
    const bomb = deflateOnce(Buffer.alloc(32 * MiB));
    t.note(`bomb: ${bomb.length} bytes`);
    t.send({ opcode: OP.BINARY, rsv: RSV1, payload: bomb });
  },
});
add({
  id: '12.5.5',
  title: 'compressed text message inflating to invalid UTF-8',
  rfc: R('6.2; RFC 6455 §8.1'),
  deflate: DEFAULT,
  expect: { kind: 'fail', codes: [1007] },
  run: (t) => t.send({ opcode: OP.TEXT, rsv: RSV1, payload: deflateOnce(Buffer.concat([Buffer.from('Hello '), hex('eda080')])) }),
});
add({
  id: '12.5.6',
  title: 'bytes after a final (BFINAL) block: ignored, like the appended 00 00 ff ff (§6.2)',
  rfc: R('6.2, 7.2.3.4'),
  deflate: DEFAULT,
  expect: { kind: 'echo', alsoPass: { codes: [1007] } },
  run: (t) => {
    const p = Buffer.concat([deflateOnce(Buffer.from('Hello'), { final: true }), hex('ffffff')]);
    t.send({ opcode: OP.TEXT, rsv: RSV1, payload: p });
    t.expectMessage('Hello');
  },
});

add({
  id: '12.6.1',
  title: 'compressed message and a close frame in one write (the close waits for the inflate)',
  rfc: R('6.2; RFC 6455 §5.5.1, §7.1.2'),
  deflate: DEFAULT,
  expect: { kind: 'close', codes: [1000] },
  run: async (t) => {
    const m = wordsText(256 * KiB, 21);
    const p = deflateOnce(Buffer.from(m), { level: 6 });
    t.send({ opcode: OP.TEXT, rsv: RSV1, payload: p }, { opcode: OP.CLOSE, payload: Buffer.from([0x03, 0xe8]) });
    t.closeSent = { code: 1000, at: t.now() };
    t.expectMessage(m);
  },
});
add({
  id: '12.6.3',
  title: 'compressed message and a close in one write, then a pong: the server still ends at once',
  rfc: R('6.2; RFC 6455 §5.5.1, §7.1.1'),
  deflate: DEFAULT,
  expect: { kind: 'close', codes: [1000] },
  run: async (t) => {
    const m = wordsText(64 * KiB, 23);
    t.send({ opcode: OP.TEXT, rsv: RSV1, payload: deflateOnce(Buffer.from(m), { level: 6 }) }, { opcode: OP.CLOSE, payload: Buffer.from([0x03, 0xe8]) });
    t.closeSent = { code: 1000, at: t.now() };
    t.expectMessage(m);
    await t.waitData(1, 2000);
    t.pong('after close');
  },
});
add({
  id: '12.6.2',
  title: 'compressed message, then a ping and a text message while it inflates',
  rfc: R('6.2; RFC 6455 §5.4'),
  deflate: DEFAULT,
  expect: { kind: 'echo' },
  run: (t) => {
    const m = wordsText(512 * KiB, 22);
    t.send({ opcode: OP.TEXT, rsv: RSV1, payload: deflateOnce(Buffer.from(m), { level: 6 }) }, { opcode: OP.PING, payload: 'p' }, { opcode: OP.TEXT, payload: 'after' });
    t.expectMessage(m);
    t.expectPong('p');
    t.expectMessage('after');
  },
});

add({
  id: '12.6.4',
  title: 'a ping while a large, very compressible echo is being compressed: the pong is still sent',
  rfc: R('6; RFC 6455 §5.5.2'),
  deflate: DEFAULT,
  expect: { kind: 'echo' },
  timeout: 2500,
  run: (t) => {
    const m = Buffer.alloc(2 * MiB, 0x61);
    t.send({ opcode: OP.BINARY, rsv: RSV1, payload: deflateOnce(m) }, { opcode: OP.PING, payload: 'p' });
    t.expectMessage(m, true);
    t.expectPong('p');
  },
});
add({
  id: '12.7.1',
  title: 'incompressible binary message of exactly 16 MiB (the limit), compressed: its payload is 16 MiB + deflate overhead',
  rfc: R('6; RFC 6455 §10.4 (the limit is on the message)'),
  deflate: DEFAULT,
  expect: { kind: 'echo' },
  timeout: 30_000,
  run: async (t) => {
    const m = randomBinary(16 * MiB);
    await t.message(m, { compress: true });
    t.expectMessage(m, true);
  },
});
add({
  id: '12.7.2',
  title: 'compressed message inflating to exactly 16 MiB (the limit) is accepted',
  rfc: R('6; RFC 6455 §10.4'),
  deflate: DEFAULT,
  expect: { kind: 'echo' },
  timeout: 30_000,
  run: async (t) => {
    const m = repetitive(16 * MiB, 4096);
    await t.message(m, { compress: true });
    t.expectMessage(m, true);
  },
});

// ── 13 parameter combinations ──────────────────────────────────────────────────
/** Messages that exercise windows (repeats far apart) and contexts (sent twice). */
function mixFor(round: number): (string | Buffer)[] {
  const block = Buffer.from(wordsText(3000, 11));
  return [
    asciiText(64),
    wordsText(KiB, 2 + round),
    repetitive(16 * KiB, 1024),
    repetitive(64 * KiB, 3000, block).toString('latin1').replace(/[^\x20-\x7e]/g, '.'),
    repetitive(128 * KiB, 20_000),
  ];
}
function paramsCase(id: string, title: string, params: Partial<PmdParams>, extra: Partial<Case> = {}): void {
  add({
    id,
    title,
    rfc: R('7.1'),
    deflate: { params },
    expect: { kind: 'echo' },
    timeout: 15_000,
    ...extra,
    run: async (t) => {
      const block = mixFor(0);
      await compressedEcho(t, [...block, ...block, ...mixFor(1)]);
    },
  });
}
paramsCase('13.1.1', 'offer "permessage-deflate" without parameters', {});
paramsCase('13.1.2', 'offer with client_max_window_bits (no value)', { clientMaxWindowBits: true });
for (let w = 9; w <= 15; w++) {
  paramsCase(`13.2.${w - 8}`, `server_max_window_bits=${w}, client_max_window_bits=${w}`, {
    serverMaxWindowBits: w,
    clientMaxWindowBits: w,
  });
}
for (let w = 9; w <= 15; w++) {
  paramsCase(`13.3.${w - 8}`, `server and client_no_context_takeover, both window bits ${w}`, {
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    serverMaxWindowBits: w,
    clientMaxWindowBits: w,
  });
}
paramsCase('13.4.1', 'server_no_context_takeover', { serverNoContextTakeover: true, clientMaxWindowBits: true });
paramsCase('13.4.2', 'client_no_context_takeover', { clientNoContextTakeover: true, clientMaxWindowBits: true });
paramsCase('13.4.3', 'server and client_no_context_takeover, default windows', {
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
});
paramsCase('13.4.4', 'server_max_window_bits=9 only', { serverMaxWindowBits: 9 });
paramsCase('13.4.5', 'client_max_window_bits=9 only', { clientMaxWindowBits: 9 });
paramsCase('13.4.6', 'server_max_window_bits=9, client_max_window_bits=15, server_no_context_takeover', {
  serverMaxWindowBits: 9,
  clientMaxWindowBits: 15,
  serverNoContextTakeover: true,
});
paramsCase('13.4.7', 'server_max_window_bits=15, client_max_window_bits=9, client_no_context_takeover', {
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 9,
  clientNoContextTakeover: true,
});
paramsCase('13.4.8', 'window bits 8 (the codec compresses with 9, RFC 7692 §7.1.2.1 allows the peer a 256-byte window)', {
  serverMaxWindowBits: 8,
  clientMaxWindowBits: 8,
});

// Negotiation, server role: what the server must answer to odd offers.
const SERVER_NEG: [string, string, Partial<PmdParams> | null][] = [
  ['an invalid first offer (server_max_window_bits=16), a valid second one', 'permessage-deflate; server_max_window_bits=16, permessage-deflate; client_no_context_takeover', { clientNoContextTakeover: true }],
  ['server_max_window_bits=7 (out of range): declined', 'permessage-deflate; server_max_window_bits=7', null],
  ['an unknown parameter: declined', 'permessage-deflate; x_unknown=1', null],
  ['a duplicated parameter: declined', 'permessage-deflate; server_no_context_takeover; server_no_context_takeover', null],
  ['server_max_window_bits without a value: declined', 'permessage-deflate; server_max_window_bits', null],
  ['a window size with a leading zero (010): declined', 'permessage-deflate; client_max_window_bits=010', null],
  ['a flag with a value (server_no_context_takeover=1): declined', 'permessage-deflate; server_no_context_takeover=1', null],
  ['an unknown extension first, then permessage-deflate', 'x-unknown-extension; a=1, permessage-deflate', {}],
  ['a quoted window size (client_max_window_bits="10")', 'permessage-deflate; client_max_window_bits="10"', { clientMaxWindowBits: 10 }],
];
SERVER_NEG.forEach(([title, offer, answer], i) =>
  add({
    id: `13.5.${i + 1}`,
    title: `offer with ${title}`,
    rfc: R('5, 7.1'),
    roles: ['server'],
    deflate: { params: answer ?? {}, offer, expectResponse: answer },
    expect: { kind: 'echo' },
    run: async (t) => {
      const m = wordsText(4 * KiB, 4);
      if (t.pmd) await t.message(m, { compress: true });
      else t.send({ opcode: OP.TEXT, payload: m });
      t.expectMessage(m);
    },
  }),
);
add({
  id: '13.5.10',
  title: 'offer declined, then a frame with RSV1',
  rfc: R('6; RFC 6455 §5.2'),
  roles: ['server'],
  deflate: { params: {}, offer: 'permessage-deflate; x_unknown', expectResponse: null },
  expect: { kind: 'fail', codes: [1002] },
  run: (t) => t.send({ opcode: OP.TEXT, rsv: RSV1, payload: deflateOnce(Buffer.from('Hello')) }),
});

// Negotiation, client role: responses the Stelar client must refuse, and odd ones it must take.
const CLIENT_REFUSE: [string, string, NonNullable<DeflateSetup['clientOffer']>][] = [
  ['permessage-deflate that was not offered', 'permessage-deflate', false],
  ['server_max_window_bits=16', 'permessage-deflate; server_max_window_bits=16', true],
  ['an unknown parameter', 'permessage-deflate; x_unknown=1', true],
  ['a duplicated parameter', 'permessage-deflate; client_no_context_takeover; client_no_context_takeover', true],
  ['client_max_window_bits without a value', 'permessage-deflate; client_max_window_bits', true],
  ['server_max_window_bits=12 when 10 was asked for', 'permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 }],
  ['no server_no_context_takeover when it was asked for', 'permessage-deflate', { serverNoContextTakeover: true }],
  ['permessage-deflate accepted twice', 'permessage-deflate, permessage-deflate', true],
  ['client_max_window_bits when the client did not offer it', 'permessage-deflate; client_max_window_bits=10', { clientMaxWindowBits: false }],
  ['an extension that was not offered', 'x-unknown-extension', true],
];
CLIENT_REFUSE.forEach(([title, response, offer], i) =>
  add({
    id: `13.6.${i + 1}`,
    title: `server response with ${title}: refused`,
    rfc: R('5, 7.1; RFC 6455 §4.1'),
    roles: ['client'],
    deflate: { params: {}, response, clientOffer: offer },
    expect: { kind: 'refuse' },
    run: () => undefined,
  }),
);
const CLIENT_ACCEPT: [string, string, NonNullable<DeflateSetup['clientOffer']>][] = [
  ['client_max_window_bits=9 when 10 was offered', 'permessage-deflate; client_max_window_bits=9', { clientMaxWindowBits: 10 }],
  ['server_max_window_bits=10 that was not asked for', 'permessage-deflate; server_max_window_bits=10', true],
  ['server_no_context_takeover that was not asked for', 'permessage-deflate; server_no_context_takeover', true],
  ['client_no_context_takeover that was not offered', 'permessage-deflate; client_no_context_takeover', true],
];
CLIENT_ACCEPT.forEach(([title, response, offer], i) =>
  add({
    id: `13.7.${i + 1}`,
    title: `server response with ${title}: accepted and honoured`,
    rfc: R('7.1'),
    roles: ['client'],
    deflate: { params: {}, response, clientOffer: offer },
    expect: { kind: 'echo' },
    run: async (t) => {
      const block = mixFor(0);
      await compressedEcho(t, [...block, ...block]);
    },
  }),
);

export const DEFLATE_CASES: readonly Case[] = cases;
