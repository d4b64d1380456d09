/**
 * Categories 6 (UTF-8 handling, RFC 6455 §5.6 and §8.1 with RFC 3629) and 7 (closing handshake,
 * RFC 6455 §5.5.1, §7).
 */
import type { Case, Expectation } from './model';
import { asciiText, hex, KiB } from './payloads';
import { sleep, type Tester } from './tester';
import { closeBody, OP } from './wire';

const echo: Expectation = { kind: 'echo' };
const R = (s: string): string => `RFC 6455 §${s}`;
const cases: Case[] = [];
const add = (c: Case): void => {
  cases.push(c);
};

// ── 6 UTF-8 ────────────────────────────────────────────────────────────────────
const VALID: [string, Buffer][] = [
  ['empty text message', Buffer.alloc(0)],
  ['"Hello-µ@ßöäüàá-UTF-8!!"', Buffer.from('Hello-µ@ßöäüàá-UTF-8!!')],
  ['"κόσμε" (Greek)', hex('cebae1bdb9cf83cebcceb5')],
  ['U+0000 (NUL is valid)', hex('00')],
  ['first 2-byte sequence U+0080', hex('c280')],
  ['first 3-byte sequence U+0800', hex('e0a080')],
  ['first 4-byte sequence U+10000', hex('f0908080')],
  ['last 1-byte sequence U+007F', hex('7f')],
  ['last 2-byte sequence U+07FF', hex('dfbf')],
  ['last 3-byte sequence U+FFFF (noncharacter, valid)', hex('efbfbf')],
  ['last valid code point U+10FFFF', hex('f48fbfbf')],
  ['U+D7FF (just below the surrogates)', hex('ed9fbf')],
  ['U+E000 (just above the surrogates)', hex('ee8080')],
  ['U+FFFD replacement character', hex('efbfbd')],
  ['U+FEFF byte order mark (kept as data)', hex('efbbbf')],
  ['noncharacters U+FDD0 U+FFFE U+10FFFE', hex('efb790 efbfbe f48fbfbe')],
  ['every 1-byte code point U+0000..U+007F', Buffer.from(Array.from({ length: 128 }, (_, i) => i))],
  ['musical symbol G clef U+1D11E (4 bytes)', hex('f09d849e')],
];
VALID.forEach(([title, bytes], i) =>
  add({
    id: `6.1.${i + 1}`,
    title: `valid UTF-8: ${title}`,
    rfc: R('5.6, 8.1'),
    expect: echo,
    run: (t) => {
      t.send({ opcode: OP.TEXT, payload: bytes });
      t.expectMessage(bytes, false);
    },
  }),
);

const SPLIT = [
  ['"Hello-µ@ßöäüàá-UTF-8!!"', Buffer.from('Hello-µ@ßöäüàá-UTF-8!!')],
  ['"κόσμε"', hex('cebae1bdb9cf83cebcceb5')],
  ['4-byte characters U+10000 U+10FFFF U+1D11E', hex('f0908080 f48fbfbf f09d849e')],
] as const;
SPLIT.forEach(([title, bytes], i) => {
  add({
    id: `6.2.${i + 1}`,
    title: `valid UTF-8 ${title} in one fragment per byte (characters split across frames)`,
    rfc: R('5.4, 5.6'),
    expect: echo,
    run: async (t) => {
      await t.message(bytes, { binary: false, fragments: 1 });
      t.expectMessage(bytes, false);
    },
  });
  add({
    id: `6.2.${i + 4}`,
    title: `valid UTF-8 ${title} in one frame written one byte at a time`,
    rfc: R('5.6'),
    expect: echo,
    run: async (t) => {
      await t.writeChopped(t.frame({ opcode: OP.TEXT, payload: bytes }), 1);
      t.expectMessage(bytes, false);
    },
  });
});

const INVALID: [string, Buffer][] = [
  ['lone continuation byte 0x80', hex('80')],
  ['lone continuation byte 0xbf', hex('bf')],
  ['2 continuation bytes', hex('80bf')],
  ['start byte 0xc0 followed by a space', hex('c020')],
  ['start byte 0xe0 followed by a space', hex('e020')],
  ['start byte 0xf0 followed by a space', hex('f020')],
  ['impossible byte 0xfe', hex('fe')],
  ['impossible byte 0xff', hex('ff')],
  ['5-byte form 0xf8 0x88 0x80 0x80 0x80', hex('f888808080')],
  ['6-byte form 0xfc 0x84 0x80 0x80 0x80 0x80', hex('fc8480808080')],
  ['overlong "/" in 2 bytes (0xc0 0xaf)', hex('c0af')],
  ['overlong "/" in 3 bytes', hex('e080af')],
  ['overlong "/" in 4 bytes', hex('f08080af')],
  ['overlong NUL (0xc0 0x80)', hex('c080')],
  ['largest overlong 2-byte (0xc1 0xbf)', hex('c1bf')],
  ['largest overlong 3-byte (0xe0 0x9f 0xbf)', hex('e09fbf')],
  ['largest overlong 4-byte (0xf0 0x8f 0xbf 0xbf)', hex('f08fbfbf')],
  ['high surrogate U+D800', hex('eda080')],
  ['low surrogate U+DFFF', hex('edbfbf')],
  ['surrogate pair U+D800 U+DC00 (CESU-8)', hex('eda080 edb080')],
  ['above U+10FFFF (0xf4 0x90 0x80 0x80)', hex('f4908080')],
  ['0xf5 start byte', hex('f5808080')],
  ['valid text then a truncated 3-byte sequence at the end', Buffer.concat([Buffer.from('Hello '), hex('e282')])],
  ['truncated 4-byte sequence at the end', hex('f09d84')],
  ['"κόσμε" with an invalid byte in the middle', hex('cebae1bdb9cf83cebcceb5 ed a0 80 656469746564')],
];
INVALID.forEach(([title, bytes], i) =>
  add({
    id: `6.3.${i + 1}`,
    title: `invalid UTF-8: ${title}`,
    rfc: R('8.1'),
    expect: { kind: 'fail', codes: [1007] },
    run: (t) => t.send({ opcode: OP.TEXT, payload: bytes }),
  }),
);

/** Sends `parts` with pauses; the failure must come before the part after `breakAfter`. */
async function failFast(t: Tester, parts: Buffer[], breakAfter: number): Promise<void> {
  for (let i = 0; i < parts.length; i++) {
    if (i === breakAfter + 1) {
      // Give the peer time to fail before the rest arrives.
      await t.waitPeerGone(400);
      t.mark('rest');
    }
    if (t.peerClosed || t.tcpClosed) return;
    t.write(parts[i]!);
    await sleep(20);
  }
}

const kosme = hex('cebae1bdb9cf83cebcceb5');
const bad = hex('f4908080'); // above U+10FFFF
add({
  id: '6.4.1',
  title: 'fail-fast over fragments: valid frame, frame with an invalid sequence, then the rest',
  rfc: R('5.6, 8.1'),
  expect: { kind: 'fail', codes: [1007], failFastBefore: 'rest' },
  run: (t) =>
    failFast(
      t,
      [
        t.frame({ opcode: OP.TEXT, payload: kosme, fin: false }),
        t.frame({ opcode: OP.CONT, payload: bad, fin: false }),
        t.frame({ opcode: OP.CONT, payload: Buffer.from('edited') }),
      ],
      1,
    ),
});
add({
  id: '6.4.2',
  title: 'fail-fast over fragments: the invalid sequence split between two frames',
  rfc: R('5.6, 8.1'),
  expect: { kind: 'fail', codes: [1007], failFastBefore: 'rest' },
  run: (t) =>
    failFast(
      t,
      [
        t.frame({ opcode: OP.TEXT, payload: Buffer.concat([kosme, hex('f4')]), fin: false }),
        t.frame({ opcode: OP.CONT, payload: hex('90'), fin: false }),
        t.frame({ opcode: OP.CONT, payload: Buffer.from('8080edited') }),
      ],
      1,
    ),
});
add({
  id: '6.4.3',
  title: 'fail-fast inside one frame: its first bytes hold an invalid sequence, the rest comes later',
  rfc: R('5.6, 8.1'),
  expect: { kind: 'fail', codes: [1007], failFastBefore: 'rest' },
  run: (t) => {
    const f = t.frame({ opcode: OP.TEXT, payload: Buffer.concat([kosme, bad, Buffer.from(asciiText(4 * KiB))]) });
    const cut = f.length - 4 * KiB + 10;
    return failFast(t, [f.subarray(0, cut), f.subarray(cut)], 0);
  },
});
add({
  id: '6.4.4',
  title: 'fail-fast inside one frame: the sequence becomes invalid at its second byte',
  rfc: R('5.6, 8.1'),
  expect: { kind: 'fail', codes: [1007], failFastBefore: 'rest' },
  run: (t) => {
    const f = t.frame({ opcode: OP.TEXT, payload: Buffer.concat([kosme, hex('f490'), Buffer.from(asciiText(KiB))]) });
    const headerLen = f.length - (kosme.length + 2 + KiB);
    const cut = headerLen + kosme.length + 2;
    return failFast(t, [f.subarray(0, cut), f.subarray(cut)], 0);
  },
});
add({
  id: '6.5.1',
  title: 'valid fragments, then a fragment starting with a lone continuation byte',
  rfc: R('8.1'),
  expect: { kind: 'fail', codes: [1007], failFastBefore: 'rest' },
  run: (t) =>
    failFast(
      t,
      [
        t.frame({ opcode: OP.TEXT, payload: 'Hello', fin: false }),
        t.frame({ opcode: OP.CONT, payload: hex('80'), fin: false }),
        t.frame({ opcode: OP.CONT, payload: 'world' }),
      ],
      1,
    ),
});
add({
  id: '6.5.2',
  title: 'message whose last fragment ends inside a multi-byte character',
  rfc: R('8.1'),
  expect: { kind: 'fail', codes: [1007] },
  run: (t) => t.send({ opcode: OP.TEXT, payload: 'Hello', fin: false }, { opcode: OP.CONT, payload: hex('cebae1bd') }),
});
add({
  id: '6.5.3',
  title: 'message ending with an empty fragment after a truncated character',
  rfc: R('8.1'),
  expect: { kind: 'fail', codes: [1007] },
  run: (t) => t.send({ opcode: OP.TEXT, payload: hex('cebae1'), fin: false }, { opcode: OP.CONT, payload: '' }),
});
add({
  id: '6.5.4',
  title: 'invalid UTF-8 in a binary message is just data',
  rfc: R('5.6'),
  expect: echo,
  run: (t) => {
    const b = hex('c0af eda080 fe ff f4908080');
    t.send({ opcode: OP.BINARY, payload: b });
    t.expectMessage(b, true);
  },
});

// ── 7 close handling ───────────────────────────────────────────────────────────
add({
  id: '7.1.1',
  title: 'text message, then a clean close 1000',
  rfc: R('7.1.2, 5.5.1'),
  expect: { kind: 'close', codes: [1000] },
  run: (t) => {
    t.send({ opcode: OP.TEXT, payload: 'Hello' });
    t.expectMessage('Hello');
    t.close(1000);
  },
});
add({
  id: '7.1.2',
  title: 'two close frames: the second is ignored',
  rfc: R('5.5.1'),
  expect: { kind: 'close', codes: [1000] },
  run: (t) => {
    t.close(1000);
    t.send({ opcode: OP.CLOSE, payload: closeBody(1001) });
  },
});
add({
  id: '7.1.3',
  title: 'close, then a ping: not answered',
  rfc: R('5.5.1'),
  expect: { kind: 'close', codes: [1000] },
  run: (t) => {
    t.close(1000);
    t.ping('after close');
  },
});
add({
  id: '7.1.4',
  title: 'close, then a text message: not echoed',
  rfc: R('5.5.1'),
  expect: { kind: 'close', codes: [1000] },
  run: (t) => {
    t.close(1000);
    t.send({ opcode: OP.TEXT, payload: 'after close' });
  },
});
add({
  id: '7.1.5',
  title: 'text fragment, close, then the final continuation: the close wins',
  rfc: R('5.5.1'),
  expect: { kind: 'close', codes: [1000] },
  run: (t) => {
    t.send({ opcode: OP.TEXT, payload: 'frag1', fin: false });
    t.close(1000);
    t.send({ opcode: OP.CONT, payload: 'frag2' });
  },
});
add({
  id: '7.1.6',
  title: 'a 256 KiB message, then close and a ping at once: echo, then the close',
  rfc: R('5.5.1, 7.1.2'),
  expect: { kind: 'close', codes: [1000] },
  run: (t) => {
    const p = asciiText(256 * KiB);
    t.send({ opcode: OP.TEXT, payload: p }, { opcode: OP.CLOSE, payload: closeBody(1000) }, { opcode: OP.PING });
    t.closeSent = { code: 1000, at: t.now() };
    t.expectMessage(p);
  },
});
add({
  id: '7.1.7',
  title: 'close, then garbage bytes: ignored',
  rfc: R('5.5.1, 7.1.1'),
  expect: { kind: 'close', codes: [1000] },
  run: (t) => {
    t.close(1000);
    t.write(Buffer.from([0xff, 0x7f, 0x00, 0x01, 0x02, 0x03]));
  },
});
add({
  id: '7.3.1',
  title: 'close with an empty body: echoed empty (or 1000)',
  rfc: R('5.5.1, 7.1.5'),
  expect: { kind: 'close', codes: [null, 1000] },
  run: (t) => t.close(),
});
add({
  id: '7.3.2',
  title: 'close with a 1-byte body',
  rfc: R('5.5.1'),
  expect: { kind: 'fail', codes: [1002] },
  run: (t) => t.closeRaw(Buffer.from([0x03])),
});
add({
  id: '7.3.3',
  title: 'close 1000 without a reason',
  rfc: R('5.5.1'),
  expect: { kind: 'close', codes: [1000] },
  run: (t) => t.close(1000),
});
add({
  id: '7.3.4',
  title: 'close 1000 with a reason',
  rfc: R('5.5.1'),
  expect: { kind: 'close', codes: [1000] },
  run: (t) => t.close(1000, 'Hello World!'),
});
add({
  id: '7.3.5',
  title: 'close 1000 with a 123-byte reason (the largest)',
  rfc: R('5.5, 5.5.1'),
  expect: { kind: 'close', codes: [1000] },
  run: (t) => t.close(1000, asciiText(123)),
});
add({
  id: '7.3.6',
  title: 'close with a 124-byte reason (control payload of 126 bytes)',
  rfc: R('5.5'),
  expect: { kind: 'fail', codes: [1002] },
  run: (t) => t.closeRaw(closeBody(1000, asciiText(124))),
});
add({
  id: '7.5.1',
  title: 'close reason that is not valid UTF-8',
  rfc: R('5.5.1, 8.1'),
  expect: { kind: 'fail', codes: [1007] },
  run: (t) => t.closeRaw(closeBody(1000, Buffer.concat([kosme, hex('eda080'), Buffer.from('edited')]))),
});
add({
  id: '7.5.2',
  title: 'close reason with a truncated character at the end',
  rfc: R('5.5.1, 8.1'),
  expect: { kind: 'fail', codes: [1007] },
  run: (t) => t.closeRaw(closeBody(1000, hex('cebae1bd'))),
});
const VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
VALID_CODES.forEach((code, i) =>
  add({
    id: `7.7.${i + 1}`,
    title: `close with valid code ${code}: echoed with the same code`,
    rfc: R('7.4.1, 7.4.2; IANA WebSocket close codes'),
    expect: { kind: 'close', codes: [code] },
    run: (t) => t.close(code),
  }),
);
const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
INVALID_CODES.forEach((code, i) =>
  add({
    id: `7.9.${i + 1}`,
    title: `close with invalid code ${code}`,
    rfc: R('7.4.1, 7.4.2'),
    expect: { kind: 'fail', codes: [1002] },
    run: (t) => t.closeRaw(closeBody(code)),
  }),
);
add({
  id: '7.13.1',
  title: 'close frame written one byte at a time',
  rfc: R('5.5.1'),
  expect: { kind: 'close', codes: [3333] },
  run: async (t) => {
    t.closeSent = { code: 3333, at: t.now() };
    await t.writeChopped(t.frame({ opcode: OP.CLOSE, payload: closeBody(3333, 'bytewise') }), 1);
  },
});

export const UTF8_CLOSE_CASES: readonly Case[] = cases;
