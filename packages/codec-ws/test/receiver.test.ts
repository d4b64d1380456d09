import { describe, it, expect } from 'vitest';
import { Opcode, Receiver, encodeFrame } from '../src/index';
import { bytes, clientFrame, feed, feedBytewise, hex, recorder, serverFrame, text } from './helpers';

const ping = (s: string) => ({ type: 'ping', data: text(s) });
const msg = (s: string, binary = false) => ({ type: 'message', data: text(s), binary });
const err = (code: string, closeCode: number) => ({ type: 'error', code, closeCode });

describe('Receiver: RFC 6455 §5.7 examples', () => {
  it('unmasked "Hello" (client role)', () => {
    const { receiver, events } = recorder({ role: 'client' });
    feed(receiver, hex('81 05 48 65 6c 6c 6f'));
    expect(events).toEqual([msg('Hello')]);
  });
  it('masked "Hello" (server role)', () => {
    const { receiver, events } = recorder({ role: 'server' });
    feed(receiver, hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'));
    expect(events).toEqual([msg('Hello')]);
  });
  it('fragmented "Hel" + "lo"', () => {
    const { receiver, events } = recorder({ role: 'client' });
    feed(receiver, hex('01 03 48 65 6c'));
    expect(events).toEqual([]);
    feed(receiver, hex('80 02 6c 6f'));
    expect(events).toEqual([msg('Hello')]);
  });
  it('ping and masked pong', () => {
    const c = recorder({ role: 'client' });
    feed(c.receiver, hex('89 05 48 65 6c 6c 6f'));
    expect(c.events).toEqual([ping('Hello')]);
    const s = recorder({ role: 'server' });
    feed(s.receiver, hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'));
    expect(s.events).toEqual([{ type: 'pong', data: text('Hello') }]);
  });
  it('256-byte and 64 KiB binary messages (16- and 64-bit lengths)', () => {
    const { receiver, events } = recorder({ role: 'client' });
    const a = Buffer.alloc(256, 0xab);
    const b = Buffer.alloc(65536, 0xcd);
    feed(receiver, Buffer.concat([hex('82 7e 01 00'), a, hex('82 7f 00 00 00 00 00 01 00 00'), b]));
    expect(events).toEqual([
      { type: 'message', data: a.toString('hex'), binary: true },
      { type: 'message', data: b.toString('hex'), binary: true },
    ]);
  });
  it('the same stream fed one byte at a time gives the same events', () => {
    const stream = Buffer.concat([
      hex('01 03 48 65 6c'),
      hex('89 05 48 65 6c 6c 6f'),
      hex('80 02 6c 6f'),
      hex('82 7e 01 00'),
      Buffer.alloc(256, 1),
      hex('88 02 03 e8'),
    ]);
    const a = recorder({ role: 'client' });
    feed(a.receiver, stream);
    const b = recorder({ role: 'client' });
    feedBytewise(b.receiver, stream);
    expect(b.events).toEqual(a.events);
    expect(a.events.map((e) => e.type)).toEqual(['ping', 'message', 'message', 'close']);
  });
});

describe('Receiver: framing rules', () => {
  it('server role requires masking (1002), client role refuses masked frames (1002)', () => {
    const s = recorder({ role: 'server' });
    feed(s.receiver, hex('81 05 48 65 6c 6c 6f'));
    expect(s.events).toEqual([err('WS_UNMASKED_FRAME', 1002)]);
    const c = recorder({ role: 'client' });
    feed(c.receiver, hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'));
    expect(c.events).toEqual([err('WS_MASKED_FRAME', 1002)]);
  });

  it('reserved opcodes 3–7 and 0xB–0xF → 1002', () => {
    for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
      const { receiver, events } = recorder({ role: 'client' });
      feed(receiver, bytes(0x80 | op, 0));
      expect(events).toEqual([err('WS_BAD_OPCODE', 1002)]);
    }
  });

  it('RSV bits without an extension → 1002', () => {
    for (const rsv of [0x40, 0x20, 0x10, 0x70]) {
      const { receiver, events } = recorder({ role: 'client' });
      feed(receiver, bytes(0x81 | rsv, 1, 0x41));
      expect(events).toEqual([err('WS_RSV_BITS', 1002)]);
    }
  });

  it('control frames: FIN required, payload ≤ 125', () => {
    for (const op of [0x8, 0x9, 0xa]) {
      const a = recorder({ role: 'client' });
      feed(a.receiver, bytes(op, 0));
      expect(a.events).toEqual([err('WS_CONTROL_FRAGMENTED', 1002)]);
      const b = recorder({ role: 'client' });
      feed(b.receiver, bytes(0x80 | op, 126, 0, 126)); // rejected from the header
      expect(b.events).toEqual([err('WS_CONTROL_TOO_LONG', 1002)]);
    }
    const ok = recorder({ role: 'client' });
    feed(ok.receiver, Buffer.concat([bytes(0x89, 125), Buffer.alloc(125, 0x61)]));
    expect(ok.events).toEqual([{ type: 'ping', data: Buffer.alloc(125, 0x61).toString('hex') }]);
  });

  it('64-bit length with the MSB set → 1002', () => {
    const { receiver, events } = recorder({ role: 'client' });
    feed(receiver, hex('82 7f 80 00 00 00 00 00 00 00'));
    expect(events).toEqual([err('WS_BAD_LENGTH', 1002)]);
  });

  it('oversized frames are rejected from the header alone (1009), before the payload arrives', () => {
    const { receiver, events } = recorder({ role: 'client', maxFrameSize: 1000, maxMessageSize: 5000 });
    feed(receiver, hex('82 7e 03 e9')); // 1001
    expect(events).toEqual([err('WS_FRAME_TOO_LARGE', 1009)]);
    expect(receiver.bufferedBytes).toBe(0);
    const huge = recorder({ role: 'client' });
    feed(huge.receiver, hex('82 7f 00 00 00 01 00 00 00 00')); // 4 GiB
    expect(huge.events).toEqual([err('WS_FRAME_TOO_LARGE', 1009)]);
  });

  it('message size: the sum of fragments is checked from each header (1009)', () => {
    const { receiver, events } = recorder({ role: 'client', maxFrameSize: 100, maxMessageSize: 150 });
    feed(receiver, Buffer.concat([bytes(0x02, 100), Buffer.alloc(100)]));
    feed(receiver, bytes(0x00, 51));
    expect(events).toEqual([err('WS_MESSAGE_TOO_LARGE', 1009)]);
    const ok = recorder({ role: 'client', maxFrameSize: 100, maxMessageSize: 150 });
    feed(ok.receiver, Buffer.concat([bytes(0x02, 100), Buffer.alloc(100), bytes(0x80, 50), Buffer.alloc(50)]));
    expect(ok.events).toHaveLength(1);
  });

  it('ignores all input after an error', () => {
    const { receiver, events } = recorder({ role: 'client' });
    feed(receiver, Buffer.concat([bytes(0x83, 0), hex('81 01 41')]));
    feed(receiver, hex('81 01 41'));
    expect(events).toEqual([err('WS_BAD_OPCODE', 1002)]);
    expect(receiver.isErrored).toBe(true);
    expect(receiver.bufferedBytes).toBe(0);
  });

  it('payloads of zero length', () => {
    const { receiver, events } = recorder({ role: 'server' });
    feed(receiver, Buffer.concat([clientFrame(0x81, Buffer.alloc(0)), clientFrame(0x89, Buffer.alloc(0)), clientFrame(0x82, Buffer.alloc(0))]));
    expect(events).toEqual([msg(''), { type: 'ping', data: '' }, { type: 'message', data: '', binary: true }]);
  });
});

describe('Receiver: fragmentation', () => {
  it('assembles many fragments with control frames interleaved', () => {
    const { receiver, events } = recorder({ role: 'server' });
    feed(
      receiver,
      Buffer.concat([
        clientFrame(0x01, Buffer.from('fra')),
        clientFrame(0x89, Buffer.from('p1')),
        clientFrame(0x00, Buffer.from('gm')),
        clientFrame(0x8a, Buffer.from('p2')),
        clientFrame(0x00, Buffer.alloc(0)),
        clientFrame(0x80, Buffer.from('ent')),
      ]),
    );
    expect(events).toEqual([ping('p1'), { type: 'pong', data: text('p2') }, msg('fragment')]);
  });

  it('a continuation without a start → 1002', () => {
    for (const b0 of [0x80, 0x00]) {
      const { receiver, events } = recorder({ role: 'client' });
      feed(receiver, bytes(b0, 1, 0x41));
      expect(events).toEqual([err('WS_UNEXPECTED_CONTINUATION', 1002)]);
    }
    // also right after a complete message
    const { receiver, events } = recorder({ role: 'client' });
    feed(receiver, hex('81 01 41 80 01 41'));
    expect(events).toEqual([msg('A'), err('WS_UNEXPECTED_CONTINUATION', 1002)]);
  });

  it('a new data frame inside a fragmented message → 1002', () => {
    for (const b0 of [0x81, 0x82, 0x01, 0x02]) {
      const { receiver, events } = recorder({ role: 'client' });
      feed(receiver, Buffer.concat([hex('01 01 41'), bytes(b0, 1, 0x42)]));
      expect(events).toEqual([err('WS_EXPECTED_CONTINUATION', 1002)]);
    }
  });

  it('binary fragments keep the start opcode', () => {
    const { receiver, events } = recorder({ role: 'client' });
    feed(receiver, hex('02 01 ff 00 01 fe 80 01 fd'));
    expect(events).toEqual([{ type: 'message', data: 'fffefd', binary: true }]);
  });
});

describe('Receiver: text validation', () => {
  it('invalid UTF-8 in a single frame → 1007', () => {
    const { receiver, events } = recorder({ role: 'client' });
    feed(receiver, hex('81 03 ed a0 80'));
    expect(events).toEqual([err('WS_INVALID_UTF8', 1007)]);
  });

  it('fails fast across fragments: the error comes with the fragment, not at the end', () => {
    const { receiver, events } = recorder({ role: 'client' });
    feed(receiver, hex('01 02 41 f4'));
    expect(events).toEqual([]);
    feed(receiver, hex('00 01 90')); // F4 90 is above U+10FFFF whatever follows
    expect(events).toEqual([err('WS_INVALID_UTF8', 1007)]);
  });

  it('a valid 4-byte sequence split over 4 fragments is accepted', () => {
    const { receiver, events } = recorder({ role: 'client' });
    feed(receiver, hex('01 01 f0  00 01 9d  00 01 84  80 01 9e'));
    expect(events).toEqual([{ type: 'message', data: 'f09d849e', binary: false }]);
  });

  it('a truncated sequence at the end of the message → 1007', () => {
    const { receiver, events } = recorder({ role: 'client' });
    feed(receiver, hex('01 02 41 e2  80 01 82'));
    expect(events).toEqual([err('WS_INVALID_UTF8', 1007)]);
  });

  it('binary messages are not validated', () => {
    const { receiver, events } = recorder({ role: 'client' });
    feed(receiver, hex('82 02 ed a0'));
    expect(events).toEqual([{ type: 'message', data: 'eda0', binary: true }]);
  });
});

describe('Receiver: close frames', () => {
  it('reports code and reason, then ignores further input', () => {
    const { receiver, events } = recorder({ role: 'server' });
    const close = clientFrame(0x88, Buffer.concat([hex('0fa0'), Buffer.from('bye')]));
    feed(receiver, Buffer.concat([close, clientFrame(0x81, Buffer.from('late'))]));
    expect(events).toEqual([{ type: 'close', code: 4000, reason: 'bye' }]);
    expect(receiver.isDone).toBe(true);
  });
  it('empty body → code undefined', () => {
    const { receiver, events } = recorder({ role: 'client' });
    feed(receiver, hex('88 00'));
    expect(events).toEqual([{ type: 'close', code: undefined, reason: '' }]);
  });
  it('1-byte body, bad codes, bad reason', () => {
    const cases: Array<[string, string, number]> = [
      ['88 01 03', 'WS_BAD_CLOSE_PAYLOAD', 1002],
      ['88 02 03 ec', 'WS_BAD_CLOSE_CODE', 1002], // 1004
      ['88 02 03 ed', 'WS_BAD_CLOSE_CODE', 1002], // 1005
      ['88 02 03 ee', 'WS_BAD_CLOSE_CODE', 1002], // 1006
      ['88 02 03 f7', 'WS_BAD_CLOSE_CODE', 1002], // 1015
      ['88 02 07 d0', 'WS_BAD_CLOSE_CODE', 1002], // 2000
      ['88 02 13 88', 'WS_BAD_CLOSE_CODE', 1002], // 5000
      ['88 02 00 00', 'WS_BAD_CLOSE_CODE', 1002], // 0
      ['88 04 03 e8 c3 28', 'WS_INVALID_UTF8', 1007],
    ];
    for (const [h, code, cc] of cases) {
      const { receiver, events } = recorder({ role: 'client' });
      feed(receiver, hex(h));
      expect(events, h).toEqual([err(code, cc)]);
    }
    for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]) {
      const { receiver, events } = recorder({ role: 'client' });
      const b = Buffer.alloc(4);
      b[0] = 0x88;
      b[1] = 2;
      b.writeUInt16BE(code, 2);
      feed(receiver, b);
      expect(events).toEqual([{ type: 'close', code, reason: '' }]);
    }
  });
});

describe('Receiver: buffering and re-entrancy', () => {
  it('large frames split in many chunks are assembled without quadratic work', () => {
    const { receiver, events } = recorder({ role: 'server' });
    const payload = Buffer.alloc(1 << 20, 0x61);
    const frame = Buffer.concat(encodeFrame(payload, { opcode: Opcode.BINARY, role: 'client' }));
    const t0 = performance.now();
    for (let i = 0; i < frame.length; i += 100) receiver.push(frame.subarray(i, i + 100));
    const ms = performance.now() - t0;
    expect(events).toHaveLength(1);
    expect(ms).toBeLessThan(1500);
  });

  it('many tiny frames in one chunk', () => {
    const { receiver, events } = recorder({ role: 'client' });
    const frames = Buffer.concat(Array.from({ length: 10000 }, () => hex('82 01 00')));
    receiver.push(frames);
    expect(events).toHaveLength(10000);
    expect(receiver.bufferedBytes).toBe(0);
  });

  it('uncompressed data payloads are consumed as they arrive (nothing left buffered)', () => {
    const { receiver, events } = recorder({ role: 'client', maxFrameSize: 100 });
    receiver.push(hex('82 64'));
    for (let i = 0; i < 99; i++) receiver.push(bytes(i));
    expect(receiver.bufferedBytes).toBe(0);
    expect(events).toEqual([]);
    receiver.push(bytes(99));
    expect(events).toEqual([{ type: 'message', data: Buffer.from(Array.from({ length: 100 }, (_, i) => i)).toString('hex'), binary: true }]);
  });

  it('masked payloads split at every offset unmask correctly', () => {
    const payload = Buffer.from('The masking key phase must carry over between chunks.');
    const frame = clientFrame(0x81, payload, bytes(0xde, 0xad, 0xbe, 0xef));
    for (let a = 1; a < frame.length; a++) {
      for (const b of [a + 1, a + 3, a + 5]) {
        const { receiver, events } = recorder({ role: 'server' });
        feed(receiver, frame.subarray(0, a));
        feed(receiver, frame.subarray(a, b));
        feed(receiver, frame.subarray(b));
        expect(events).toEqual([msg(payload.toString())]);
      }
    }
  });

  it('invalid UTF-8 fails before the frame is complete', () => {
    const { receiver, events } = recorder({ role: 'client' });
    feed(receiver, hex('81 7e 01 00 48 65 6c 6c 6f ed a0'));
    expect(events).toEqual([err('WS_INVALID_UTF8', 1007)]);
  });

  it('a push from inside a handler is processed in order', () => {
    const order: string[] = [];
    const r: Receiver = new Receiver(
      { role: 'client' },
      {
        onMessage: (d) => {
          order.push(d.toString());
          if (d.toString() === 'a') r.push(hex('81 01 63'));
        },
        onPing: () => {},
        onPong: () => {},
        onClose: () => {},
        onError: (e) => order.push(e.code),
      },
    );
    r.push(hex('81 01 61 81 01 62'));
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('serverFrame helper sanity', () => {
    const { receiver, events } = recorder({ role: 'client' });
    feed(receiver, serverFrame(0x82, Buffer.alloc(70000, 1)));
    expect(events).toHaveLength(1);
  });
});

describe('many small fragments', () => {
  it('a message of thousands of 1-byte fragments (mixed with a large one) assembles exactly', () => {
    const { receiver, events } = recorder({ role: 'server' });
    const big = Buffer.alloc(5000, 0x61);
    const parts: Buffer[] = [clientFrame(0x02, Buffer.from([0]))];
    const expected: number[] = [0];
    for (let i = 1; i < 3000; i++) {
      const b = i === 1500 ? big : Buffer.from([i & 255]);
      parts.push(clientFrame(0x00, b));
      expected.push(...b);
    }
    parts.push(clientFrame(0x80, Buffer.from([7])));
    expected.push(7);
    feed(receiver, Buffer.concat(parts));
    expect(events).toEqual([{ type: 'message', data: Buffer.from(expected).toString('hex'), binary: true }]);
  });
});
