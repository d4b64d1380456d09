// The browser's small codec (src/wire.ts) against the reference, @stelar/codec-tcp: the same
// bytes out for every frame the client sends, and the same frame or the same error code for
// every message it may receive (docs/protocol.md §1–3).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeJson,
  decodeMessage,
  encodeAckError,
  encodeAckRequest,
  encodeAckResult,
  encodeBinary,
  encodeClientConnect,
  encodeFrame,
  encodeJoin,
  encodeJson,
  encodeLeave,
  encodePing,
  encodePong,
  parseErrorBody,
  type FrameType,
} from '@stelar/codec-tcp';
import { decode, errorOf, frame, json, obj, parse, u32be } from '../src/wire';

const RUNS = 400;
fc.configureGlobal({ interruptAfterTimeLimit: 15_000, markInterruptAsFailure: true });

const enc = new TextEncoder();
/** Well-formed names of 1..255 UTF-8 bytes. */
const nameArb = fc
  .oneof(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }))
  .filter((s) => enc.encode(s).length <= 255);
const idArb = fc.integer({ min: 0, max: 0xffff_ffff });
const jsonArb = fc.oneof(fc.constant(undefined), fc.jsonValue());
const bytesArb = fc.uint8Array({ maxLength: 300 });

/** What a decoder returned: the frame (this codec's tuple or codec-tcp's object), or the error code it threw. */
function outcome(fn: () => [number, string, Uint8Array] | { type: number; event: string; payload: Uint8Array }): unknown {
  try {
    const f = fn();
    const [type, event, payload] = Array.isArray(f) ? f : [f.type, f.event, f.payload];
    return { type, event, payload: [...payload] };
  } catch (err) {
    return (err as { code: string }).code;
  }
}
const thrown = (fn: () => unknown): unknown => {
  try {
    fn();
    return null;
  } catch (err) {
    return (err as { code: string }).code;
  }
};

describe('encoding: the same bytes as @stelar/codec-tcp', () => {
  it('JSON, BINARY, ACK_REQ, ACK_RES (result and error), JOIN, LEAVE, PING, PONG, CONNECT', () => {
    fc.assert(
      fc.property(nameArb, jsonArb, idArb, bytesArb, (name, data, id, bytes) => {
        const ping = bytes.subarray(0, 125);
        expect(frame(1, name, json(data))).toEqual(encodeJson(name, data));
        expect(frame(2, name, bytes)).toEqual(encodeBinary(name, bytes));
        expect(frame(5, name, json(data), u32be(id))).toEqual(encodeAckRequest(id, name, data));
        expect(frame(6, name, json(data), [...u32be(id), 0])).toEqual(encodeAckResult(id, name, data));
        expect(frame(6, '', json({ code: 'E', message: name }), [...u32be(id), 1])).toEqual(encodeAckError(id, '', 'E', name));
        expect(frame(9, name, u32be(id))).toEqual(encodeJoin(name, id));
        expect(frame(10, name, u32be(id))).toEqual(encodeLeave(name, id));
        expect(frame(3, '', ping)).toEqual(encodePing(ping));
        expect(frame(4, '', ping)).toEqual(encodePong(ping));
        expect(frame(7, '', json(data === undefined ? { v: 1 } : { v: 1, auth: data }))).toEqual(encodeClientConnect(data));
      }),
      { numRuns: RUNS },
    );
    expect(frame(7, '', json({ v: 1 }))).toEqual(encodeClientConnect());
  });

  it('refuses the names the reference refuses, with the same code', () => {
    const names = ['', 'x'.repeat(256), 'é'.repeat(128), 'a\ud800b', '\udc00', 12 as unknown as string];
    for (const name of names) {
      expect(thrown(() => frame(1, name, json(1)))).toBe(thrown(() => encodeJson(name, 1)));
      expect(thrown(() => frame(9, name, u32be(1)))).toBe(thrown(() => encodeJoin(name, 1)));
    }
    expect(thrown(() => frame(1, 'x'.repeat(255), json(1)))).toBeNull();
    // A name only the empty-name rule refuses, on a type that allows it: ACK_RES.
    expect(thrown(() => frame(6, '', json(1), [0, 0, 0, 1, 0]))).toBeNull();
  });
});

describe('decoding: the same frame or the same error code as @stelar/codec-tcp decodeMessage', () => {
  /** A frame as a WebSocket message (no totalLen), built from parts that may break any rule. */
  const messageArb = fc
    .record({
      type: fc.oneof(fc.integer({ min: 1, max: 11 }), fc.integer({ min: 0, max: 255 })),
      event: fc.oneof(fc.constant(''), nameArb),
      payload: fc.oneof(bytesArb, fc.uint8Array({ maxLength: 6 }), fc.constant(new Uint8Array([0, 0, 0, 1, 2]))),
      lenDelta: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: -3, max: 300 })),
      badUtf8: fc.boolean(),
    })
    .map(({ type, event, payload, lenDelta, badUtf8 }) => {
      const ev = badUtf8 && event ? new Uint8Array([...enc.encode(event).subarray(0, 254), 0xc0]) : enc.encode(event);
      const n = Math.max(0, Math.min(0xffff, ev.length + lenDelta));
      return new Uint8Array([type, n >> 8, n & 0xff, ...ev, ...payload]);
    });

  it('for messages built to break each rule of docs/protocol.md §1', () => {
    fc.assert(
      fc.property(messageArb, fc.constantFrom(64, 300, 1 << 24), (m, max) => {
        expect(outcome(() => decode(m, max))).toEqual(outcome(() => decodeMessage(m, { maxFrameSize: max })));
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it('for random bytes, and for every valid frame the reference encodes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (m) => {
        expect(outcome(() => decode(m, 1 << 24))).toEqual(outcome(() => decodeMessage(m)));
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 11 }), nameArb, bytesArb, (type, name, payload) => {
        let f: Uint8Array;
        try {
          f = encodeFrame(type as FrameType, [3, 4, 7, 8].includes(type) ? '' : name, type === 3 || type === 4 ? payload.subarray(0, 125) : type === 9 || type === 10 ? payload.subarray(0, 0) : type === 5 || type === 6 ? new Uint8Array([0, 0, 0, 9, 0, ...payload]) : payload);
        } catch {
          return;
        }
        const m = f.subarray(4);
        const got = outcome(() => decode(m, 1 << 24));
        expect(got).toEqual(outcome(() => decodeMessage(m)));
        expect(typeof got).toBe('object');
      }),
      { numRuns: RUNS },
    );
  });

  it('the limit is on the whole frame, totalLen included (4 + message length)', () => {
    const m = new Uint8Array([1, 0, 1, 0x61, ...new Uint8Array(56)]); // 60 bytes: a 64-byte frame
    expect(outcome(() => decode(m, 64))).toMatchObject({ type: 1, event: 'a' });
    expect(outcome(() => decode(m, 63))).toBe('FRAME_TOO_LARGE');
    expect(() => decode(m, 63)).toThrow('frame of 64 bytes exceeds the limit of 63');
  });
});

describe('payload bodies', () => {
  it('JSON: the same value, or BAD_JSON where the reference says so', () => {
    const cases = [enc.encode('{"a":[1,2]}'), new Uint8Array(), enc.encode('nope'), new Uint8Array([0x22, 0xff, 0x22]), enc.encode('"\ufeffx"'), new Uint8Array([0xef, 0xbb, 0xbf, 0x31])];
    for (const b of cases) {
      const ref = (() => {
        try {
          return { v: decodeJson(b) };
        } catch (err) {
          return (err as { code: string }).code;
        }
      })();
      const mine = (() => {
        try {
          return { v: parse(b) };
        } catch (err) {
          return (err as { code: string }).code;
        }
      })();
      expect(mine).toEqual(ref);
    }
  });

  it('error bodies and the server CONNECT: malformed ones are BAD_PAYLOAD', () => {
    for (const text of ['{"code":"X","message":"m"}', '{"code":"X"}', '{"code":1}', '[1]', '"code"', 'null', '{}']) {
      const b = enc.encode(text);
      const ref = thrown(() => parseErrorBody(b)) ?? parseErrorBody(b);
      const mine = thrown(() => errorOf(b)) ?? { code: errorOf(b).code, message: errorOf(b).message };
      expect(mine).toEqual(ref);
    }
    expect(obj(enc.encode('{"v":1,"id":"s1"}'), 'id', 'string')).toEqual({ v: 1, id: 's1' });
    expect(thrown(() => obj(enc.encode('["id"]'), 'id', 'string'))).toBe('BAD_PAYLOAD');
    expect(thrown(() => obj(enc.encode('{"id":5}'), 'id', 'string'))).toBe('BAD_PAYLOAD');
  });
});
