import { describe, expect, it } from 'vitest';
import {
  decodeFrame,
  decodeJson,
  encodeAckRequest,
  encodeAckRequestPayload,
  encodeAckResult,
  encodeJson,
  encodeJsonPayload,
  isBinaryValue,
  parseAckRequest,
  parseAckResponse,
} from '../src/index';
import { mayHoldBinary } from '../src/attachments';
import { concat, expectCode, hex, u32, utf8 } from './helpers';

const payloadOf = (frame: Uint8Array): Uint8Array => decodeFrame(frame).payload;
const roundTrip = (data: unknown): unknown => decodeJson(payloadOf(encodeJson('e', data)));

describe('binary values inside JSON data (docs/protocol.md §3)', () => {
  it('the issue-15 case: { bytes: Uint8Array [1,2,3] } arrives as bytes, not {"0":1,"1":2,"2":3}', () => {
    const got = roundTrip({ bytes: new Uint8Array([1, 2, 3]) }) as { bytes: unknown };
    expect(got.bytes).toBeInstanceOf(Uint8Array);
    expect([...(got.bytes as Uint8Array)]).toEqual([1, 2, 3]);
  });

  it('the exact bytes of the attachment form: 0x00, u32 JSON length, JSON, then u32 length + bytes per value', () => {
    const p = payloadOf(encodeJson('e', { a: new Uint8Array([0xaa, 0xbb]), b: [new Uint8Array(0)] }));
    const json = '{"a":{"$bin":0},"b":[{"$bin":1}]}';
    expect(p).toEqual(concat(hex('00'), u32(json.length), utf8(json), u32(2), hex('aa bb'), u32(0)));
  });

  it('every binary kind is sent as its bytes and received as a Uint8Array (never a Buffer)', () => {
    const ab = new Uint8Array([1, 2, 3, 4]).buffer;
    const big = new Uint8Array(10).map((_, i) => i);
    const data = {
      u8: new Uint8Array([9]),
      buf: Buffer.from([7, 8]),
      ab,
      dv: new DataView(big.buffer, 2, 3),
      i16: new Int16Array([0x0102]),
      f64: new Float64Array([1.5]),
      sub: big.subarray(8),
      sab: new SharedArrayBuffer(2),
    };
    const got = roundTrip(data) as Record<string, Uint8Array>;
    for (const [k, v] of Object.entries(got)) {
      expect(v, k).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(v), k).toBe(false);
    }
    expect([...got['u8']!]).toEqual([9]);
    expect([...got['buf']!]).toEqual([7, 8]);
    expect([...got['ab']!]).toEqual([1, 2, 3, 4]);
    expect([...got['dv']!]).toEqual([2, 3, 4]);
    expect([...got['i16']!]).toEqual([...new Uint8Array(new Int16Array([0x0102]).buffer)]);
    expect(new Float64Array(got['f64']!.slice().buffer)[0]).toBe(1.5);
    expect([...got['sub']!]).toEqual([8, 9]);
    expect([...got['sab']!]).toEqual([0, 0]);
  });

  it('binary at the top level, in arrays, deep, twice, empty, beside ordinary values', () => {
    expect([...(roundTrip(new Int8Array([-1])) as Uint8Array)]).toEqual([255]);
    const shared = new Uint8Array([5]);
    const got = roundTrip({ list: [1, shared, { deep: { deeper: [shared] } }], empty: new Uint8Array(0), s: 'x', n: null }) as {
      list: [number, Uint8Array, { deep: { deeper: Uint8Array[] } }];
      empty: Uint8Array;
      s: string;
      n: null;
    };
    expect(got.list[0]).toBe(1);
    expect([...got.list[1]]).toEqual([5]);
    expect([...got.list[2].deep.deeper[0]!]).toEqual([5]);
    expect(got.empty).toEqual(new Uint8Array(0));
    expect(got.s).toBe('x');
    expect(got.n).toBeNull();
  });

  it('received values are views of the payload (no copy)', () => {
    const p = payloadOf(encodeJson('e', { b: new Uint8Array([1, 2]) }));
    const got = decodeJson(p) as { b: Uint8Array };
    expect(got.b.buffer).toBe(p.buffer);
  });

  it('toJSON is honoured: a Buffer is bytes (not {type, data}), a toJSON that returns bytes is bytes, a Date stays a string', () => {
    class Blob {
      toJSON(): Uint8Array {
        return new Uint8Array([4, 2]);
      }
    }
    const got = roundTrip({ b: Buffer.from('hi'), blob: new Blob(), at: new Date(0) }) as { b: Uint8Array; blob: Uint8Array; at: string };
    expect(new TextDecoder().decode(got.b)).toBe('hi');
    expect([...got.blob]).toEqual([4, 2]);
    expect(got.at).toBe('1970-01-01T00:00:00.000Z');
  });

  it('plain data encodes exactly as before: plain JSON, no head', () => {
    for (const data of [{ t: 'hi' }, [1, { a: {} }], 'str', 3, null, { $bin: 0 }, { at: new Date(0) }, { toJSON: () => ({ x: 1 }) }]) {
      expect(payloadOf(encodeJson('e', data))).toEqual(utf8(JSON.stringify(data)));
    }
    // A user object shaped like a placeholder is only a placeholder in the attachment form.
    expect(roundTrip({ $bin: 0 })).toEqual({ $bin: 0 });
  });

  it('refuses (TypeError) a placeholder-shaped object in data that holds binary: never garbles', () => {
    expect(() => encodeJson('e', { a: new Uint8Array(1), b: { $bin: 0 } })).toThrow(TypeError);
    expect(() => encodeJson('e', { a: new Uint8Array(1), b: { $bin: 'x' } })).toThrow(/only key/);
    // Other keys beside it: an ordinary object.
    expect((roundTrip({ a: new Uint8Array(1), b: { $bin: 0, x: 1 } }) as { b: unknown }).b).toEqual({ $bin: 0, x: 1 });
  });

  it('cycles still throw what JSON.stringify throws, with or without binary', () => {
    const cyc: Record<string, unknown> = { b: new Uint8Array(1) };
    cyc['self'] = cyc;
    expect(() => encodeJson('e', cyc)).toThrow(TypeError);
    const plain: Record<string, unknown> = {};
    plain['self'] = plain;
    expect(() => encodeJson('e', plain)).toThrow(TypeError);
    expect(() => encodeJson('e', { n: 1n, b: new Uint8Array(1) })).toThrow(TypeError);
  });

  it('requests and replies carry binary too; encodeJsonPayload encodes data once for many ACK_REQ frames', () => {
    const req = parseAckRequest(payloadOf(encodeAckRequest(7, 'up', { file: new Uint8Array([1]) })));
    expect((decodeJson(req.data) as { file: Uint8Array }).file).toEqual(new Uint8Array([1]));
    const res = parseAckResponse(payloadOf(encodeAckResult(7, 'up', [new Uint8Array([2])])));
    expect(decodeJson(res.body)).toEqual([new Uint8Array([2])]);
    const body = encodeJsonPayload({ x: new Uint8Array([3]) });
    for (const id of [1, 2]) {
      const r = parseAckRequest(payloadOf(encodeAckRequestPayload(id, 'up', body)));
      expect(r.id).toBe(id);
      expect(decodeJson(r.data)).toEqual({ x: new Uint8Array([3]) });
    }
    expect(encodeJsonPayload(undefined).length).toBe(0);
    expect(encodeJsonPayload({ a: 1 })).toEqual(utf8('{"a":1}'));
  });

  it('a large binary value survives (1 MiB, every byte value)', () => {
    const big = new Uint8Array(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const got = roundTrip({ big }) as { big: Uint8Array };
    expect(got.big.length).toBe(big.length);
    expect(Buffer.compare(got.big, big)).toBe(0);
  });

  it('BAD_JSON for a malformed attachment form (the framing is intact)', () => {
    const j = utf8('{"$bin":0}');
    const cases: [string, Uint8Array][] = [
      ['short head', hex('00 00 00')],
      ['zero JSON length', concat(hex('00'), u32(0), u32(1), hex('aa'))],
      ['JSON length past end', concat(hex('00'), u32(99), j)],
      ['no attachment', concat(hex('00'), u32(j.length), j)],
      ['truncated length', concat(hex('00'), u32(j.length), j, hex('00 00'))],
      ['attachment past end', concat(hex('00'), u32(j.length), j, u32(5), hex('aa'))],
      ['index out of range', concat(hex('00'), u32(10), utf8('{"$bin":1}'), u32(1), hex('aa'))],
      ['index not an integer', concat(hex('00'), u32(12), utf8('{"$bin":0.5}'), u32(1), hex('aa'))],
      ['index a string', concat(hex('00'), u32(12), utf8('{"$bin":"0"}'), u32(1), hex('aa'))],
      ['JSON invalid', concat(hex('00'), u32(2), utf8('{x'), u32(1), hex('aa'))],
      ['JSON bad UTF-8', concat(hex('00'), u32(3), hex('22 ff 22'), u32(1), hex('aa'))],
    ];
    for (const [name, bytes] of cases) {
      const err = expectCode(() => decodeJson(bytes), 'BAD_JSON');
      expect(err.closeCode, name).toBe(1007);
    }
  });

  it('mutated attachment payloads give a value or BAD_JSON, never another error', () => {
    const good = payloadOf(encodeJson('e', { a: new Uint8Array([1, 2, 3]), b: ['x', new Uint8Array(5)], c: { d: 1 } }));
    let seed = 15;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 3000; i++) {
      const m = good.slice(0, good.length - (rand(4) === 0 ? rand(good.length) : 0));
      for (let k = rand(4); k >= 0; k--) if (m.length > 1) m[1 + rand(m.length - 1)] = rand(256);
      try {
        decodeJson(m);
      } catch (err) {
        expect((err as { code?: unknown }).code).toBe('BAD_JSON');
      }
    }
  });

  it('unreferenced attachments are ignored; one referenced twice is the same view', () => {
    const json = utf8('[{"$bin":0},{"$bin":0}]');
    const got = decodeJson(concat(hex('00'), u32(json.length), json, u32(1), hex('aa'), u32(1), hex('bb'))) as Uint8Array[];
    expect(got[0]).toBe(got[1]);
    expect([...got[0]!]).toEqual([0xaa]);
  });

  it('an empty binary value, or one with properties of its own, is still carried as bytes', () => {
    const odd = Object.assign(new Uint8Array(0), { x: 1 });
    expect(roundTrip({ odd })).toEqual({ odd: new Uint8Array(0) });
    expect(roundTrip({ odd: Object.assign(new Uint8Array([1]), { x: 1 }) })).toEqual({ odd: new Uint8Array([1]) });
  });

  it('a value whose toJSON gives binary is carried; plain data with a toJSON is sent as plain JSON', () => {
    const wrapped = { toJSON: () => new Uint8Array([4]) };
    expect(roundTrip({ w: wrapped })).toEqual({ w: new Uint8Array([4]) });
    const plain = { d: new Date(0), t: { toJSON: () => 'x' } };
    expect(payloadOf(encodeJson('e', plain))).toEqual(utf8(JSON.stringify(plain)));
  });

  it('a large binary value is never turned into JSON text first (encoding 1 MiB inside an object takes well under the time of stringifying it)', () => {
    const big = { b: new Uint8Array(1 << 20) };
    const t0 = performance.now();
    encodeJson('e', big);
    const withAttachments = performance.now() - t0;
    const t1 = performance.now();
    JSON.stringify(big);
    const asText = performance.now() - t1;
    expect(withAttachments).toBeLessThan(asText / 2);
  });

  it('isBinaryValue and the pre-check', () => {
    expect([new Uint8Array(0), new DataView(new ArrayBuffer(1)), new ArrayBuffer(0), Buffer.alloc(0)].every(isBinaryValue)).toBe(true);
    expect([[], {}, 'x', null, 1, new Date()].some(isBinaryValue)).toBe(false);
    expect(mayHoldBinary({ a: 1, b: [{ c: 'x' }], d: new Date() })).toBe(false);
    expect(mayHoldBinary({ a: [{ b: new Uint16Array(1) }] })).toBe(true);
    expect(mayHoldBinary(new Map())).toBe(false);
    expect(mayHoldBinary({ toJSON: () => 1 })).toBe(true);
    expect(mayHoldBinary(Object.create(null) as object)).toBe(false);
    let deep: object = {};
    for (let i = 0; i < 40; i++) deep = { deep };
    expect(mayHoldBinary(deep)).toBe(true); // too deep to tell: the replacer decides
    expect(payloadOf(encodeJson('e', deep))).toEqual(utf8(JSON.stringify(deep)));
  });
});
