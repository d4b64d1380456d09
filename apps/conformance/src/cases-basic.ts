/**
 * Categories 1–5: framing, pings and pongs, reserved bits, opcodes, fragmentation.
 * Written from RFC 6455 §5; ids and grouping follow the Autobahn Testsuite's categories.
 */
import type { Case, Expectation } from './model';
import { asciiText, KiB, randomBinary } from './payloads';
import { sleep } from './tester';
import { closeBody, OP, RSV1, RSV2, RSV3 } from './wire';

const echo: Expectation = { kind: 'echo' };
const fail1002: Expectation = { kind: 'fail', codes: [1002] };
const R = (s: string): string => `RFC 6455 §${s}`;

const cases: Case[] = [];
const add = (c: Case): void => {
  cases.push(c);
};

// ── 1 framing ──────────────────────────────────────────────────────────────────
const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];
for (const [g, binary] of [
  [1, false],
  [2, true],
] as const) {
  LENGTHS.forEach((n, i) =>
    add({
      id: `1.${g}.${i + 1}`,
      title: `${binary ? 'binary' : 'text'} message of ${n} bytes (${n < 126 ? '7' : n < 65536 ? '16' : '64'}-bit length)`,
      rfc: R('5.2, 5.6'),
      expect: echo,
      run: (t) => {
        const p = binary ? randomBinary(n) : asciiText(n);
        t.send({ opcode: binary ? OP.BINARY : OP.TEXT, payload: p });
        t.expectMessage(p, binary);
      },
    }),
  );
  add({
    id: `1.${g}.8`,
    title: `${binary ? 'binary' : 'text'} message of 65536 bytes written in chops of 997 bytes`,
    rfc: R('5.2'),
    expect: echo,
    run: async (t) => {
      const p = binary ? randomBinary(65536) : asciiText(65536);
      await t.writeChopped(t.frame({ opcode: binary ? OP.BINARY : OP.TEXT, payload: p }), 997);
      t.expectMessage(p, binary);
    },
  });
}
add({
  id: '1.3.1',
  title: '5-byte text message with a non-minimal 16-bit length',
  rfc: R('5.2 (minimal length binds senders)'),
  expect: { kind: 'echo', alsoPass: { codes: [1002] } },
  run: (t) => {
    t.send({ opcode: OP.TEXT, payload: 'Hello', lengthForm: 16 });
    t.expectMessage('Hello');
  },
});
add({
  id: '1.3.2',
  title: '5-byte binary message with a non-minimal 64-bit length',
  rfc: R('5.2 (minimal length binds senders)'),
  expect: { kind: 'echo', alsoPass: { codes: [1002] } },
  run: (t) => {
    t.send({ opcode: OP.BINARY, payload: 'Hello', lengthForm: 64 });
    t.expectMessage(Buffer.from('Hello'), true);
  },
});
add({
  id: '1.3.3',
  title: '64-bit payload length with the most significant bit set',
  rfc: R('5.2'),
  expect: { kind: 'fail', codes: [1002], nonStrict: [1009] },
  run: (t) => {
    t.send({ opcode: OP.BINARY, payload: 'x', declaredLength: 1n << 63n });
  },
});
add({
  id: '1.4.1',
  title: 'frame masked the wrong way (unmasked from a client, masked from a server)',
  rfc: R('5.1, 5.3'),
  expect: fail1002,
  run: (t) => {
    t.send({ opcode: OP.TEXT, payload: 'Hello', mask: t.role === 'client' });
  },
});
add({
  id: '1.4.2',
  title: 'client frame masked with the all-zero key (valid)',
  rfc: R('5.3'),
  roles: ['server'],
  expect: echo,
  run: (t) => {
    t.send({ opcode: OP.TEXT, payload: 'Hello', maskKey: Buffer.alloc(4) });
    t.expectMessage('Hello');
  },
});
add({
  id: '1.4.3',
  title: 'a valid message, then one masked the wrong way',
  rfc: R('5.1'),
  expect: fail1002,
  run: (t) => {
    t.send({ opcode: OP.TEXT, payload: 'first' }, { opcode: OP.BINARY, payload: 'second', mask: t.role === 'client' });
    t.expectMessage('first');
  },
});
add({
  id: '1.5.1',
  title: '10 text messages coalesced in one write',
  rfc: R('5.2'),
  expect: echo,
  run: (t) => {
    const msgs = Array.from({ length: 10 }, (_, i) => `message ${i} ${asciiText(i * 13)}`);
    t.send(...msgs.map((m) => ({ opcode: OP.TEXT, payload: m })));
    for (const m of msgs) t.expectMessage(m);
  },
});
add({
  id: '1.5.2',
  title: 'text message of 256 bytes written one byte at a time',
  rfc: R('5.2'),
  expect: echo,
  run: async (t) => {
    const p = asciiText(256);
    await t.writeChopped(t.frame({ opcode: OP.TEXT, payload: p }), 1);
    t.expectMessage(p);
  },
});
add({
  id: '1.5.3',
  title: 'frame header split from its payload with pauses (2 bytes, 8 bytes, rest)',
  rfc: R('5.2'),
  expect: echo,
  run: async (t) => {
    const p = randomBinary(70000);
    const f = t.frame({ opcode: OP.BINARY, payload: p });
    t.write(f.subarray(0, 2));
    await sleep(20);
    t.write(f.subarray(2, 10));
    await sleep(20);
    t.write(f.subarray(10));
    t.expectMessage(p, true);
  },
});

// ── 2 pings and pongs ──────────────────────────────────────────────────────────
const pingCases: [string, string | Buffer][] = [
  ['ping without payload', ''],
  ['ping with a text payload', 'Hello, world!'],
  ['ping with a binary payload (bytes 0x00..0x7c)', Buffer.from(Array.from({ length: 125 }, (_, i) => i))],
  ['ping with a 125-byte payload', asciiText(125)],
];
pingCases.forEach(([title, p], i) =>
  add({
    id: `2.${i + 1}`,
    title: `${title} → pong with the same payload`,
    rfc: R('5.5.2, 5.5.3'),
    expect: echo,
    run: (t) => {
      t.ping(p);
      t.expectPong(p);
    },
  }),
);
add({
  id: '2.5',
  title: 'ping with a 126-byte payload (control frames carry at most 125)',
  rfc: R('5.5'),
  expect: fail1002,
  run: (t) => {
    t.ping(asciiText(126));
  },
});
add({
  id: '2.6',
  title: 'ping with a 125-byte payload written one byte at a time',
  rfc: R('5.5.2'),
  expect: echo,
  run: async (t) => {
    const p = asciiText(125);
    await t.writeChopped(t.frame({ opcode: OP.PING, payload: p }), 1);
    t.expectPong(p);
  },
});
add({
  id: '2.7',
  title: 'unsolicited pong without payload: no answer',
  rfc: R('5.5.3'),
  expect: echo,
  run: (t) => {
    t.pong();
  },
});
add({
  id: '2.8',
  title: 'unsolicited pong with payload: no answer',
  rfc: R('5.5.3'),
  expect: echo,
  run: (t) => {
    t.pong('unsolicited');
  },
});
add({
  id: '2.9',
  title: 'unsolicited pong, then a ping: one pong, for the ping',
  rfc: R('5.5.3'),
  expect: echo,
  run: (t) => {
    t.pong('unsolicited');
    t.ping('solicited');
    t.expectPong('solicited');
  },
});
add({
  id: '2.10',
  title: '10 pings back to back: 10 pongs, in order',
  rfc: R('5.5.2'),
  expect: echo,
  run: (t) => {
    const ps = Array.from({ length: 10 }, (_, i) => `ping ${i}`);
    t.send(...ps.map((p) => ({ opcode: OP.PING, payload: p })));
    for (const p of ps) t.expectPong(p);
  },
});
add({
  id: '2.11',
  title: '10 pings, each written one byte at a time',
  rfc: R('5.5.2'),
  expect: echo,
  run: async (t) => {
    for (let i = 0; i < 10; i++) {
      const p = `ping ${i}`;
      await t.writeChopped(t.frame({ opcode: OP.PING, payload: p }), 1);
      t.expectPong(p);
    }
  },
});
add({
  id: '2.12',
  title: 'ping after our close frame: the close is echoed, the ping is not answered',
  rfc: R('5.5.1'),
  expect: { kind: 'close', codes: [1000] },
  run: (t) => {
    t.close(1000);
    t.ping('too late');
  },
});

// ── 3 reserved bits ────────────────────────────────────────────────────────────
add({
  id: '3.1',
  title: 'text frame with RSV1 set, no extension negotiated',
  rfc: R('5.2'),
  expect: fail1002,
  run: (t) => t.send({ opcode: OP.TEXT, payload: 'Hello', rsv: RSV1 }),
});
add({
  id: '3.2',
  title: 'valid text, then text with RSV2, then a ping: echo, fail, no pong',
  rfc: R('5.2'),
  expect: fail1002,
  run: (t) => {
    t.send({ opcode: OP.TEXT, payload: 'Hello' });
    t.expectMessage('Hello');
    t.send({ opcode: OP.TEXT, payload: 'Hello', rsv: RSV2 });
    t.ping();
  },
});
add({
  id: '3.3',
  title: 'valid text, text with RSV3 and a ping in one write',
  rfc: R('5.2'),
  expect: fail1002,
  run: (t) => {
    t.send({ opcode: OP.TEXT, payload: 'Hello' }, { opcode: OP.TEXT, payload: 'Hello', rsv: RSV3 }, { opcode: OP.PING });
    t.expectMessage('Hello');
  },
});
add({
  id: '3.4',
  title: 'valid text, text with RSV1|RSV2, a ping, all one byte at a time',
  rfc: R('5.2'),
  expect: fail1002,
  run: async (t) => {
    const bytes = Buffer.concat([
      t.frame({ opcode: OP.TEXT, payload: 'Hello' }),
      t.frame({ opcode: OP.TEXT, payload: 'Hello', rsv: RSV1 | RSV2 }),
      t.frame({ opcode: OP.PING }),
    ]);
    t.expectMessage('Hello');
    await t.writeChopped(bytes, 1);
  },
});
add({
  id: '3.5',
  title: 'binary frame with RSV1|RSV3',
  rfc: R('5.2'),
  expect: fail1002,
  run: (t) => t.send({ opcode: OP.BINARY, payload: randomBinary(8), rsv: RSV1 | RSV3 }),
});
add({
  id: '3.6',
  title: 'ping with RSV2|RSV3',
  rfc: R('5.2'),
  expect: fail1002,
  run: (t) => t.send({ opcode: OP.PING, payload: 'Hello', rsv: RSV2 | RSV3 }),
});
add({
  id: '3.7',
  title: 'close frame with all RSV bits set',
  rfc: R('5.2'),
  expect: fail1002,
  run: (t) => t.send({ opcode: OP.CLOSE, payload: closeBody(1000), rsv: RSV1 | RSV2 | RSV3 }),
});
add({
  id: '3.8',
  title: 'continuation frame with RSV2 inside a fragmented message',
  rfc: R('5.2'),
  expect: fail1002,
  run: (t) =>
    t.send(
      { opcode: OP.TEXT, payload: 'frag1', fin: false },
      { opcode: OP.CONT, payload: 'frag2', fin: true, rsv: RSV2 },
    ),
});

// ── 4 opcodes ──────────────────────────────────────────────────────────────────
const reservedData = [3, 4, 5, 6, 7];
const reservedControl = [0xb, 0xc, 0xd, 0xe, 0xf];
for (const [g, ops] of [
  [1, reservedData],
  [2, reservedControl],
] as const) {
  ops.forEach((op, i) => {
    add({
      id: `4.${g}.${i + 1}`,
      title: `reserved ${g === 1 ? 'data' : 'control'} opcode 0x${op.toString(16)}, empty`,
      rfc: R('5.2'),
      expect: fail1002,
      run: (t) => t.send({ opcode: op }),
    });
    add({
      id: `4.${g}.${i + 6}`,
      title: `valid text, reserved opcode 0x${op.toString(16)} with payload, then a ping`,
      rfc: R('5.2'),
      expect: fail1002,
      run: (t) => {
        t.send({ opcode: OP.TEXT, payload: 'Hello' }, { opcode: op, payload: 'reserved' }, { opcode: OP.PING });
        t.expectMessage('Hello');
      },
    });
  });
}

// ── 5 fragmentation ────────────────────────────────────────────────────────────
add({
  id: '5.1',
  title: 'ping fragmented into 2 frames',
  rfc: R('5.4, 5.5'),
  expect: fail1002,
  run: (t) => t.send({ opcode: OP.PING, payload: 'frag1', fin: false }, { opcode: OP.CONT, payload: 'frag2' }),
});
add({
  id: '5.2',
  title: 'pong fragmented into 2 frames',
  rfc: R('5.4, 5.5'),
  expect: fail1002,
  run: (t) => t.send({ opcode: OP.PONG, payload: 'frag1', fin: false }, { opcode: OP.CONT, payload: 'frag2' }),
});
add({
  id: '5.3',
  title: 'text message in 2 fragments',
  rfc: R('5.4'),
  expect: echo,
  run: async (t) => {
    await t.message('fragment1fragment2', { fragments: [9, 9] });
    t.expectMessage('fragment1fragment2');
  },
});
add({
  id: '5.4',
  title: 'text message in 2 fragments, written one byte at a time',
  rfc: R('5.4'),
  expect: echo,
  run: async (t) => {
    const bytes = Buffer.concat([t.frame({ opcode: OP.TEXT, payload: 'fragment1', fin: false }), t.frame({ opcode: OP.CONT, payload: 'fragment2' })]);
    await t.writeChopped(bytes, 1);
    t.expectMessage('fragment1fragment2');
  },
});
add({
  id: '5.5',
  title: 'text message in 2 fragments with a ping between them',
  rfc: R('5.4, 5.5'),
  expect: echo,
  run: async (t) => {
    await t.message('fragment1fragment2', { fragments: [9, 9], between: { opcode: OP.PING, payload: 'in between' } });
    t.expectPong('in between');
    t.expectMessage('fragment1fragment2');
  },
});
add({
  id: '5.6',
  title: 'text in 2 fragments with a ping between, one byte at a time',
  rfc: R('5.4, 5.5'),
  expect: echo,
  run: async (t) => {
    const bytes = Buffer.concat([
      t.frame({ opcode: OP.TEXT, payload: 'fragment1', fin: false }),
      t.frame({ opcode: OP.PING, payload: 'in between' }),
      t.frame({ opcode: OP.CONT, payload: 'fragment2' }),
    ]);
    await t.writeChopped(bytes, 1);
    t.expectPong('in between');
    t.expectMessage('fragment1fragment2');
  },
});
add({
  id: '5.7',
  title: 'text in 2 fragments with an unsolicited pong between them',
  rfc: R('5.4, 5.5.3'),
  expect: echo,
  run: async (t) => {
    await t.message('fragment1fragment2', { fragments: [9, 9], between: { opcode: OP.PONG, payload: 'unsolicited' } });
    t.expectMessage('fragment1fragment2');
  },
});
add({
  id: '5.8',
  title: 'continuation frame (FIN) with no message started',
  rfc: R('5.4'),
  expect: fail1002,
  run: (t) => t.send({ opcode: OP.CONT, payload: 'orphan' }),
});
add({
  id: '5.9',
  title: 'continuation (no FIN) then continuation (FIN), no message started',
  rfc: R('5.4'),
  expect: fail1002,
  run: (t) => t.send({ opcode: OP.CONT, payload: 'orphan1', fin: false }, { opcode: OP.CONT, payload: 'orphan2' }),
});
add({
  id: '5.10',
  title: 'valid text, then an orphan continuation and a ping, one byte at a time',
  rfc: R('5.4'),
  expect: fail1002,
  run: async (t) => {
    t.expectMessage('Hello');
    await t.writeChopped(
      Buffer.concat([t.frame({ opcode: OP.TEXT, payload: 'Hello' }), t.frame({ opcode: OP.CONT, payload: 'orphan' }), t.frame({ opcode: OP.PING })]),
      1,
    );
  },
});
add({
  id: '5.11',
  title: 'text started (no FIN), then a new text frame (FIN)',
  rfc: R('5.4'),
  expect: fail1002,
  run: (t) => t.send({ opcode: OP.TEXT, payload: 'start', fin: false }, { opcode: OP.TEXT, payload: 'again' }),
});
add({
  id: '5.12',
  title: 'text started (no FIN), then a binary frame (no FIN)',
  rfc: R('5.4'),
  expect: fail1002,
  run: (t) => t.send({ opcode: OP.TEXT, payload: 'start', fin: false }, { opcode: OP.BINARY, payload: 'again', fin: false }),
});
add({
  id: '5.13',
  title: 'binary message in 5 fragments, a ping after each of the first 4',
  rfc: R('5.4, 5.5'),
  expect: echo,
  run: (t) => {
    const parts = Array.from({ length: 5 }, () => randomBinary(100));
    const frames = parts.flatMap((p, i) => [
      { opcode: i === 0 ? OP.BINARY : OP.CONT, payload: p, fin: i === 4 },
      ...(i < 4 ? [{ opcode: OP.PING, payload: `ping ${i}` }] : []),
    ]);
    t.send(...frames);
    for (let i = 0; i < 4; i++) t.expectPong(`ping ${i}`);
    t.expectMessage(Buffer.concat(parts), true);
  },
});
add({
  id: '5.14',
  title: 'text message with empty fragments (empty start, empty middle, empty end)',
  rfc: R('5.4'),
  expect: echo,
  run: (t) => {
    t.send(
      { opcode: OP.TEXT, payload: '', fin: false },
      { opcode: OP.CONT, payload: 'middle', fin: false },
      { opcode: OP.CONT, payload: '', fin: false },
      { opcode: OP.CONT, payload: '' },
    );
    t.expectMessage('middle');
  },
});
add({
  id: '5.15',
  title: 'text message of 1000 one-byte fragments',
  rfc: R('5.4'),
  expect: echo,
  run: async (t) => {
    const p = asciiText(1000);
    await t.message(p, { fragments: 1 });
    t.expectMessage(p);
  },
});
add({
  id: '5.16',
  title: 'fragmented ping inside a fragmented text message',
  rfc: R('5.4, 5.5'),
  expect: fail1002,
  run: (t) =>
    t.send(
      { opcode: OP.TEXT, payload: 'frag1', fin: false },
      { opcode: OP.PING, payload: 'p1', fin: false },
      { opcode: OP.CONT, payload: 'p2' },
      { opcode: OP.CONT, payload: 'frag2' },
    ),
});
add({
  id: '5.17',
  title: 'two fragmented messages back to back (text, then binary)',
  rfc: R('5.4'),
  expect: echo,
  run: async (t) => {
    const b = randomBinary(3 * KiB);
    await t.message('fragment1fragment2fragment3', { fragments: 9 });
    await t.message(b, { fragments: 1000 });
    t.expectMessage('fragment1fragment2fragment3');
    t.expectMessage(b, true);
  },
});
add({
  id: '5.18',
  title: 'complete text message, then a continuation (FIN)',
  rfc: R('5.4'),
  expect: fail1002,
  run: (t) => {
    t.send({ opcode: OP.TEXT, payload: 'complete' }, { opcode: OP.CONT, payload: 'orphan' });
    t.expectMessage('complete');
  },
});
add({
  id: '5.19',
  title: 'text started, then a close frame in the middle: the close is echoed, no message',
  rfc: R('5.4, 5.5.1'),
  expect: { kind: 'close', codes: [1000] },
  run: (t) => {
    t.send({ opcode: OP.TEXT, payload: 'unfinished', fin: false });
    t.close(1000);
  },
});
add({
  id: '5.20',
  title: 'fragmented text with pings between fragments, fragments 300 ms apart',
  rfc: R('5.4'),
  expect: echo,
  run: async (t) => {
    t.send({ opcode: OP.TEXT, payload: 'slow ', fin: false }, { opcode: OP.PING, payload: 'a' });
    await sleep(150);
    t.send({ opcode: OP.CONT, payload: 'fragmented ', fin: false }, { opcode: OP.PING, payload: 'b' });
    await sleep(150);
    t.send({ opcode: OP.CONT, payload: 'message' });
    t.expectPong('a');
    t.expectPong('b');
    t.expectMessage('slow fragmented message');
  },
});

export const BASIC_CASES: readonly Case[] = cases;
