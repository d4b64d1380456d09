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
  encodeJsonPayload,
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

describe('binary values inside JSON data (the attachment form, docs/protocol.md §3; BINARY of src/features.ts)', () => {
  /** Binary values of every kind the protocol names (SharedArrayBuffer too: Node has it). */
  const binArb = fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc.uint8Array({ maxLength: 40 }).map((u) => u.buffer.slice(0)),
    fc.uint8Array({ minLength: 2, maxLength: 40 }).map((u) => u.subarray(1)), // a view with an offset
    fc.int16Array({ maxLength: 8 }),
    fc.float64Array({ maxLength: 4 }),
    fc.uint8Array({ minLength: 3, maxLength: 40 }).map((u) => new DataView(u.buffer, 1, u.length - 2)),
    fc.uint8Array({ maxLength: 8 }).map((u) => {
      const s = new SharedArrayBuffer(u.length);
      new Uint8Array(s).set(u);
      return s;
    }),
  );
  const dataArb = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.jsonValue({ maxDepth: 1 }),
      binArb,
      fc.constant(new Date(0)),
      fc.array(tie('node'), { maxLength: 4 }),
      fc.dictionary(fc.string({ maxLength: 6 }), tie('node'), { maxKeys: 4 }),
    ),
  })).node;
  const result = (fn: () => Uint8Array): unknown => {
    try {
      return [...fn()];
    } catch (err) {
      return (err as Error).constructor.name;
    }
  };
  const value = (fn: () => unknown): unknown => {
    try {
      return { v: fn() };
    } catch (err) {
      return (err as { code: string }).code;
    }
  };

  it('encodes as codec-tcp does (JSON, ACK_REQ, ACK_RES, CONNECT), and decodes what codec-tcp encodes to the same data, binary values as Uint8Array views', () => {
    fc.assert(
      fc.property(nameArb, dataArb, idArb, (name, data, id) => {
        expect(result(() => frame(1, name, json(data)))).toEqual(result(() => encodeJson(name, data)));
        expect(result(() => frame(5, name, json(data), u32be(id)))).toEqual(result(() => encodeAckRequest(id, name, data)));
        expect(result(() => frame(6, name, json(data), [...u32be(id), 0]))).toEqual(result(() => encodeAckResult(id, name, data)));
        expect(result(() => frame(7, '', json({ v: 1, auth: data })))).toEqual(result(() => encodeClientConnect(data)));
        const payload = encodeJsonPayload(data);
        const mine = parse(payload);
        expect(mine).toEqual(decodeJson(payload));
        const views: unknown[] = [];
        JSON.stringify(mine, (_, v: unknown) => (v instanceof Uint8Array ? void views.push(v) : v));
        for (const v of views) expect([(v as Uint8Array).constructor, (v as Uint8Array).buffer]).toEqual([Uint8Array, payload.buffer]);
      }),
      { numRuns: RUNS },
    );
  });

  it("protocol.md §7's example, byte for byte; binary at the top of a request's data; plain data stays plain JSON", () => {
    const img = frame(1, 'img', json({ b: new Uint8Array([1, 2, 3]) }));
    expect(Buffer.from(img).toString('hex')).toBe('0000002601000369' + '6d67' + '00' + '00000010' + Buffer.from('{"b":{"$bin":0}}').toString('hex') + '00000003010203');
    expect([...json(new Uint8Array([7]))]).toEqual([0, 0, 0, 0, 10, ...enc.encode('{"$bin":0}'), 0, 0, 0, 1, 7]);
    expect(parse(json(new Uint8Array([7])))).toEqual(new Uint8Array([7]));
    expect(json({ d: new Date(0), a: [1, 'x', null] })).toEqual(enc.encode(JSON.stringify({ d: new Date(0), a: [1, 'x', null] })));
    // Without binary values, an object whose only key is "$bin" is ordinary data both ways.
    expect(parse(json({ $bin: 0 }))).toEqual({ $bin: 0 });
    // A Buffer polyfill (its toJSON gives {type, data}) is sent as its bytes.
    const poly = Object.assign(new Uint8Array([5, 6]), { toJSON: () => ({ type: 'Buffer', data: [5, 6] }) });
    expect(parse(json({ poly }))).toEqual({ poly: new Uint8Array([5, 6]) });
  });

  it('refuses an object whose only key is "$bin" beside binary values with a TypeError, as the codec does; cycles throw what JSON.stringify throws', () => {
    const cases: unknown[] = [
      { a: new Uint8Array(1), b: { $bin: 0 } },
      [{ $bin: 'x' }, new ArrayBuffer(2)],
      { b: new Uint8Array(1), c: { $bin: 0, d: 1 } }, // not a placeholder: sent
    ];
    for (const data of cases) expect(result(() => json(data))).toEqual(result(() => encodeJsonPayload(data)));
    expect(result(() => json(cases[0]))).toBe('TypeError');
    const cycle: Record<string, unknown> = { b: new Uint8Array(1) };
    cycle['self'] = cycle;
    expect(result(() => json(cycle))).toBe('TypeError');
    expect(result(() => json([cycle]))).toEqual(result(() => encodeJsonPayload([cycle])));
  });

  it('a malformed attachment form is BAD_JSON, as the reference says; any payload starting with 0x00 gives what the reference gives', () => {
    const head = (text: string, ...atts: number[][]): Uint8Array => {
      const j = enc.encode(text);
      return new Uint8Array([0, ...u32be(j.length), ...j, ...atts.flatMap((a) => [...u32be(a.length), ...a])]);
    };
    const bad = [
      new Uint8Array([0]),
      new Uint8Array([0, 0, 0, 0]),
      new Uint8Array([0, 0, 0, 0, 0, 1, 2, 3, 4]), // jsonLen 0
      new Uint8Array([0, 0, 0, 0, 9, 0x31]), // jsonLen past the end
      head('{"$bin":0}'), // no attachment
      new Uint8Array([...head('{"$bin":0}', [1]), 0, 0]), // a truncated attachment length
      new Uint8Array([...head('{"$bin":0}'), 0, 0, 0, 5, 1]), // an attachment past the end
      head('{"$bin":1}', [1]),
      head('{"$bin":"0"}', [1]),
      head('{"$bin":0.5}', [1]),
      head('{"$bin":-1}', [1]),
      head('[{"$bin":0}', [1]),
      new Uint8Array([0, 0, 0, 0, 2, 0x22, 0xff, 0, 0, 0, 0]), // invalid UTF-8
    ];
    for (const b of bad) {
      expect(value(() => parse(b))).toBe('BAD_JSON');
      expect(value(() => decodeJson(b))).toBe('BAD_JSON');
    }
    // Unnamed attachments are ignored; empty ones allowed; a plain {"$bin":…} key among others is data.
    const ok = head('[{"$bin":1},{"$bin":1,"n":2},{"$bin":0}]', [9], [], [7]);
    expect(value(() => parse(ok))).toEqual(value(() => decodeJson(ok)));
    expect(parse(ok)).toEqual([new Uint8Array(0), { $bin: 1, n: 2 }, new Uint8Array([9])]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 30 }), fc.jsonValue({ maxDepth: 2 }), fc.array(fc.uint8Array({ maxLength: 4 }), { maxLength: 3 }), fc.integer({ min: -3, max: 3 }), (junk, v, atts, cut) => {
        const text = JSON.stringify(v).replace(/"[^"]*"/, '{"$bin":0}');
        const well = head(text, ...atts.map((a) => [...a]));
        for (const b of [new Uint8Array([0, ...junk]), well.subarray(0, Math.max(1, well.length + Math.min(cut, 0)))]) expect(value(() => parse(b))).toEqual(value(() => decodeJson(b)));
      }),
      { numRuns: RUNS },
    );
  });
});
