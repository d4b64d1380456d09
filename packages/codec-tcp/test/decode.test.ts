import { describe, it, expect } from 'vitest';
import {
  DEFAULT_MAX_FRAME_SIZE,
  DisconnectCode,
  ErrorCode,
  FrameError,
  FrameType,
  checkHeader,
  decodeFrame,
  decodeMessage,
  encodeJson,
  utf8Decode,
  utf8Encode,
  type FrameErrorCode,
} from '../src/index';
import { decodeName } from '../src/utf8';
import { collector, concat, expectCode, hex, raw, u32 } from './helpers';

/** Every way of decoding: whole TCP frame, WebSocket message, and the stream decoder (whole and byte by byte). */
function expectRefused(frame: Uint8Array, code: FrameErrorCode, maxFrameSize?: number): void {
  const opts = maxFrameSize === undefined ? {} : { maxFrameSize };
  expectCode(() => decodeFrame(frame, opts), code);
  if (frame.length >= 4) {
    const total = new DataView(frame.buffer, frame.byteOffset).getUint32(0);
    // The WebSocket form has no totalLen: only meaningful when the frame's own length is right.
    if (total === frame.length) expectCode(() => decodeMessage(frame.subarray(4), opts), code);
  }
  const whole = collector(opts);
  expectCode(() => whole.decoder.push(frame), code);
  expect(whole.frames).toEqual([]);
  const bytewise = collector(opts);
  expectCode(() => {
    for (let i = 0; i < frame.length; i++) bytewise.decoder.push(frame.subarray(i, i + 1));
  }, code);
  expect(bytewise.frames).toEqual([]);
  expect(bytewise.decoder.bufferedBytes).toBe(0);
}

describe('section 1 rules and their error codes', () => {
  it('FRAME_TOO_SHORT: totalLen below 7', () => {
    for (let len = 0; len < 7; len++) expectRefused(raw(FrameType.PING, '', new Uint8Array(0), len), 'FRAME_TOO_SHORT');
    expectCode(() => decodeFrame(new Uint8Array(6)), 'FRAME_TOO_SHORT');
    expectCode(() => decodeFrame(new Uint8Array(0)), 'FRAME_TOO_SHORT');
    expectCode(() => decodeMessage(new Uint8Array(2)), 'FRAME_TOO_SHORT');
    expectCode(() => decodeMessage(new Uint8Array(0)), 'FRAME_TOO_SHORT');
  });

  it('FRAME_TOO_LARGE: above maxFrameSize (default 16 MiB)', () => {
    expectRefused(raw(FrameType.BINARY, 'a', new Uint8Array(100)), 'FRAME_TOO_LARGE', 107);
    // exactly the limit is fine
    expect(decodeFrame(raw(FrameType.BINARY, 'a', new Uint8Array(100)), { maxFrameSize: 108 }).payload.length).toBe(100);
    expect(DEFAULT_MAX_FRAME_SIZE).toBe(16 * 1024 * 1024);
    const hdr = hex('01 00 00 01  02  00 01'); // announces 16 MiB + 1
    expectCode(() => decodeFrame(hdr), 'FRAME_TOO_LARGE');
    // WebSocket messages: totalLen = 4 + message length
    expectCode(() => decodeMessage(new Uint8Array([2, 0, 1, 0x61, 0]), { maxFrameSize: 8 }), 'FRAME_TOO_LARGE');
    expect(decodeMessage(new Uint8Array([2, 0, 1, 0x61]), { maxFrameSize: 8 }).event).toBe('a');
  });

  it('FRAME_TOO_LARGE is refused from the header alone, before anything is buffered', () => {
    const { decoder } = collector();
    // 4 GiB - 1 announced: refused on the 7th byte, never buffered.
    const err = expectCode(() => decoder.push(hex('ff ff ff ff  02  00 01')), 'FRAME_TOO_LARGE');
    expect(err.closeCode).toBe(1009);
    expect(decoder.bufferedBytes).toBe(0);

    const small = collector({ maxFrameSize: 1024 });
    small.decoder.push(hex('00 00 04'));
    expect(small.decoder.bufferedBytes).toBe(3);
    expectCode(() => small.decoder.push(hex('01 02 00 01')), 'FRAME_TOO_LARGE'); // 1025
    expect(small.decoder.bufferedBytes).toBe(0);
  });

  it('BAD_TYPE: 0x00, 0x0C and above', () => {
    for (const t of [0x00, 0x0c, 0x0d, 0x7f, 0x80, 0xff]) expectRefused(raw(t, 'a', new Uint8Array(1)), 'BAD_TYPE');
    for (let t = 1; t <= 11; t++) expect(() => checkHeader(7, t, 0, 100)).not.toThrow();
  });

  it('BAD_EVENT_LENGTH: above 255, or running past the frame end', () => {
    expectRefused(raw(FrameType.JSON, 'a'.repeat(256)), 'BAD_EVENT_LENGTH');
    expectRefused(raw(FrameType.JSON, 'a'.repeat(0xffff - 7 - 100)), 'BAD_EVENT_LENGTH');
    // eventLen 4 in a frame of 10 bytes: runs 1 byte past the end
    const past = hex('00 00 00 0a  01  00 04  61 62 63');
    expectRefused(past, 'BAD_EVENT_LENGTH');
    // eventLen 255 but totalLen 7
    expectRefused(hex('00 00 00 07  02  00 ff'), 'BAD_EVENT_LENGTH');
    // 255 exactly, filling the frame: fine
    expect(decodeFrame(raw(FrameType.JSON, 'b'.repeat(255))).event).toBe('b'.repeat(255));
  });

  it('BAD_UTF8: overlong forms, surrogates, code points above U+10FFFF, truncated and stray bytes', () => {
    const bad = [
      'c0 80', // overlong NUL
      'c1 bf', // overlong
      'e0 80 af', // overlong '/'
      'f0 80 80 af', // overlong 4-byte
      'ed a0 80', // U+D800 (high surrogate)
      'ed bf bf', // U+DFFF (low surrogate)
      'ed a0 bd ed b8 80', // CESU-8 pair for U+1F600
      'f4 90 80 80', // U+110000
      'f5 80 80 80', // lead byte past U+10FFFF
      'ff',
      'fe',
      '80', // stray continuation
      'e2 82', // truncated 3-byte
      'f0 9f 98', // truncated 4-byte
      'c3', // truncated 2-byte
      'c3 28', // bad continuation
      '61 62 e2 82', // truncated after ASCII
    ];
    for (const h of bad) {
      expectRefused(raw(FrameType.JSON, hex(h)), 'BAD_UTF8');
      expectRefused(raw(FrameType.JOIN, hex(h)), 'BAD_UTF8');
    }
    // long names take the TextDecoder path rather than the ASCII fast path
    expectRefused(raw(FrameType.JSON, concat(new Uint8Array(100).fill(0x61), hex('ed a0 80'))), 'BAD_UTF8');
    // Good multi-byte names, including the extremes
    for (const s of ['é', '€', '😀', '\u{10FFFF}', '\u{FFFF}', '\u0000', '\u{D7FF}', '\u{E000}', '\ufeffbom']) {
      expect(decodeFrame(raw(FrameType.JSON, s)).event).toBe(s);
    }
  });

  it('BAD_EVENT: empty where required, non-empty where forbidden', () => {
    for (const t of [FrameType.JSON, FrameType.BINARY, FrameType.JOIN, FrameType.LEAVE]) expectRefused(raw(t, ''), 'BAD_EVENT');
    expectRefused(raw(FrameType.ACK_REQ, '', u32(1)), 'BAD_EVENT');
    for (const t of [FrameType.PING, FrameType.PONG, FrameType.CONNECT, FrameType.DISCONNECT]) expectRefused(raw(t, 'x'), 'BAD_EVENT');
    // ACK_RES and ERROR accept both
    expect(decodeFrame(raw(FrameType.ACK_RES, '', hex('00 00 00 01 00'))).event).toBe('');
    expect(decodeFrame(raw(FrameType.ACK_RES, 'e', hex('00 00 00 01 01'))).event).toBe('e');
    expect(decodeFrame(raw(FrameType.ERROR, '')).event).toBe('');
    expect(decodeFrame(raw(FrameType.ERROR, 'e')).event).toBe('e');
  });

  it('BAD_PAYLOAD: ACK_REQ, ACK_RES, JOIN/LEAVE and PING/PONG layouts', () => {
    for (let n = 0; n < 4; n++) expectRefused(raw(FrameType.ACK_REQ, 'a', new Uint8Array(n)), 'BAD_PAYLOAD');
    expect(decodeFrame(raw(FrameType.ACK_REQ, 'a', u32(9))).payload.length).toBe(4);

    for (let n = 0; n < 5; n++) expectRefused(raw(FrameType.ACK_RES, 'a', new Uint8Array(n)), 'BAD_PAYLOAD');
    for (const status of [2, 3, 0x80, 0xff]) expectRefused(raw(FrameType.ACK_RES, 'a', concat(u32(1), new Uint8Array([status]))), 'BAD_PAYLOAD');
    for (const status of [0, 1]) expect(decodeFrame(raw(FrameType.ACK_RES, 'a', concat(u32(1), new Uint8Array([status])))).type).toBe(FrameType.ACK_RES);

    for (const t of [FrameType.JOIN, FrameType.LEAVE]) {
      for (const n of [1, 2, 3, 5, 8]) expectRefused(raw(t, 'room', new Uint8Array(n)), 'BAD_PAYLOAD');
      expect(decodeFrame(raw(t, 'room')).payload.length).toBe(0);
      expect(decodeFrame(raw(t, 'room', u32(1))).payload.length).toBe(4);
    }

    for (const t of [FrameType.PING, FrameType.PONG]) {
      expectRefused(raw(t, '', new Uint8Array(126)), 'BAD_PAYLOAD');
      expect(decodeFrame(raw(t, '', new Uint8Array(125))).payload.length).toBe(125);
    }
  });

  it('checks the rules in the order of the table', () => {
    // too short wins over a bad type
    expectCode(() => decodeFrame(raw(0, '', new Uint8Array(0), 6)), 'FRAME_TOO_SHORT');
    // too large wins over a bad type and a bad event length
    expectCode(() => decodeFrame(raw(0, 'x'.repeat(300)), { maxFrameSize: 100 }), 'FRAME_TOO_LARGE');
    // bad type wins over a bad event length
    expectCode(() => decodeFrame(raw(0x0c, 'x'.repeat(300))), 'BAD_TYPE');
    // bad UTF-8 wins over a forbidden event
    expectCode(() => decodeFrame(raw(FrameType.PING, hex('ff'))), 'BAD_UTF8');
    // bad event wins over a bad payload
    expectCode(() => decodeFrame(raw(FrameType.ACK_REQ, '', new Uint8Array(1))), 'BAD_EVENT');
  });

  it('decodeFrame refuses a buffer whose length is not totalLen', () => {
    const f = encodeJson('chat', 1);
    expectCode(() => decodeFrame(f.subarray(0, f.length - 1)), 'BAD_PAYLOAD');
    expectCode(() => decodeFrame(concat(f, new Uint8Array(1))), 'BAD_PAYLOAD');
  });

  it('decoded payloads are views of the input (zero-copy)', () => {
    const f = encodeJson('chat', { a: 1 });
    const d = decodeFrame(f);
    expect(d.payload.buffer).toBe(f.buffer);
    expect(d.payload.byteOffset).toBe(f.byteOffset + 11);
    const m = decodeMessage(f.subarray(4));
    expect(m.payload.buffer).toBe(f.buffer);
  });

  it('refuses invalid maxFrameSize options instead of silently disabling the limit', () => {
    for (const maxFrameSize of [NaN, 0, 6, -1]) {
      expect(() => decodeFrame(encodeJson('a'), { maxFrameSize })).toThrow(RangeError);
      expect(() => collector({ maxFrameSize })).toThrow(RangeError);
    }
  });
});

describe('decodeMessage (WebSocket form, no totalLen)', () => {
  it('decodes type, eventLen, event, payload', () => {
    const m = decodeMessage(hex('01 00 04 63 68 61 74 7b 7d'));
    expect(m).toMatchObject({ type: FrameType.JSON, event: 'chat' });
    expect(Array.from(m.payload)).toEqual([0x7b, 0x7d]);
    expect(decodeMessage(hex('03 00 00')).type).toBe(FrameType.PING);
  });

  it('applies the same rules', () => {
    expectCode(() => decodeMessage(hex('00 00 00')), 'BAD_TYPE');
    expectCode(() => decodeMessage(hex('0c 00 00')), 'BAD_TYPE');
    expectCode(() => decodeMessage(hex('01 00 05 61 62')), 'BAD_EVENT_LENGTH');
    expectCode(() => decodeMessage(hex('01 01 00')), 'BAD_EVENT_LENGTH');
    expectCode(() => decodeMessage(hex('01 00 01 ff')), 'BAD_UTF8');
    expectCode(() => decodeMessage(hex('01 00 00')), 'BAD_EVENT');
    expectCode(() => decodeMessage(hex('09 00 01 72 00')), 'BAD_PAYLOAD');
  });
});

describe('FrameError and closeCode', () => {
  it('maps codes to close codes: 1009 for FRAME_TOO_LARGE, 1007 for BAD_JSON, 1002 for the rest', () => {
    const expected: Record<FrameErrorCode, number> = {
      FRAME_TOO_SHORT: 1002,
      FRAME_TOO_LARGE: 1009,
      BAD_TYPE: 1002,
      BAD_EVENT_LENGTH: 1002,
      BAD_UTF8: 1002,
      BAD_EVENT: 1002,
      BAD_PAYLOAD: 1002,
      BAD_JSON: 1007,
    };
    for (const [code, close] of Object.entries(expected) as Array<[FrameErrorCode, number]>) {
      const e = new FrameError(code, 'm');
      expect(e.closeCode).toBe(close);
      expect(e.code).toBe(code);
      expect(e.name).toBe('FrameError');
      expect(e.message).toBe('m');
      expect(e).toBeInstanceOf(Error);
      expect(ErrorCode[code]).toBe(code);
    }
    expect(DisconnectCode.PROTOCOL_ERROR).toBe(1002);
    expect(DisconnectCode.MESSAGE_TOO_BIG).toBe(1009);
  });

  it('decoders raise them with the right close code', () => {
    expect(expectCode(() => decodeFrame(raw(0x0c, '')), 'BAD_TYPE').closeCode).toBe(1002);
    expect(expectCode(() => decodeFrame(encodeJson('a', 1), { maxFrameSize: 8 }), 'FRAME_TOO_LARGE').closeCode).toBe(1009);
  });
});

describe('utf8Encode / utf8Decode', () => {
  it('round-trips and honours start/end', () => {
    const s = 'aé€😀';
    const b = utf8Encode(s);
    expect(b.length).toBe(1 + 2 + 3 + 4);
    expect(utf8Decode(b)).toBe(s);
    expect(utf8Decode(b, 1, 3)).toBe('é');
    expect(utf8Decode(b, 3, 3)).toBe('');
    const ascii = utf8Encode('hello world');
    expect(utf8Decode(ascii, 6)).toBe('world');
    expect(utf8Decode(utf8Encode('x'.repeat(200)))).toBe('x'.repeat(200));
    expectCode(() => utf8Decode(hex('61 ff')), 'BAD_UTF8');
    expectCode(() => utf8Decode(hex('e2 82 ac e2'), 0, 4), 'BAD_UTF8');
    expect(utf8Decode(hex('e2 82 ac e2'), 0, 3)).toBe('€');
  });
});

describe('event names: the same bytes give the same string, decoded once (decodeName)', () => {
  const decodeAll = (events: (string | Uint8Array)[]): string[] => events.map((e) => decodeFrame(raw(FrameType.JSON, e)).event);

  it('a repeated name is the string decoded the first time, whatever buffer its bytes are in', () => {
    const names = ['chat:message', 'é€😀', 'x'.repeat(255), 'a', 'ab'];
    for (const name of names) {
      const first = decodeName(Buffer.from(`--${name}--`), 2, 2 + utf8Encode(name).length);
      expect(first).toBe(name);
      const again = decodeName(utf8Encode(name), 0, utf8Encode(name).length);
      expect(again).toBe(first);
    }
    expect(decodeName(utf8Encode('abc'), 1, 1)).toBe('');
  });

  it('names that share length, first, middle and last byte are told apart by their bytes', () => {
    // Same slot in the table: every lookup compares the bytes, so they replace each other.
    const names = ['a1b2c', 'a9b7c', 'a1b2c', 'a3b2c', 'a9b7c'];
    expect(decodeAll(names)).toEqual(names);
    expect(decodeAll(Array.from({ length: 500 }, (_, i) => `event-${i}`))).toEqual(Array.from({ length: 500 }, (_, i) => `event-${i}`));
  });

  it('is as strict as decoding: invalid UTF-8 is BAD_UTF8 even right after a valid name of the same shape', () => {
    expect(decodeAll([hex('61 c3 a9 62')])).toEqual(['aéb']);
    // Same length, first, middle and last byte; the middle pair is an overlong form.
    expectRefused(raw(FrameType.JSON, hex('61 c0 a9 62')), 'BAD_UTF8');
    expectRefused(raw(FrameType.JSON, hex('61 ed a0 80 62')), 'BAD_UTF8'); // a surrogate
    expect(decodeAll([hex('61 c3 a9 62')])).toEqual(['aéb']);
  });

  it('keeps a copy of the bytes: changing the input afterwards changes nothing', () => {
    const bytes = Buffer.from('mutable-name');
    expect(decodeName(bytes, 0, bytes.length)).toBe('mutable-name');
    bytes[0] = 0x4d; // 'M'
    expect(decodeName(bytes, 0, bytes.length)).toBe('Mutable-name');
    expect(decodeName(Buffer.from('mutable-name'), 0, 12)).toBe('mutable-name');
  });
});
