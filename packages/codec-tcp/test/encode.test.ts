import { describe, it, expect } from 'vitest';
import {
  AckStatus,
  FrameType,
  FRAME_TYPE_NAMES,
  HEADER_SIZE,
  MAX_EVENT_LENGTH,
  MAX_PING_PAYLOAD,
  PROTOCOL_VERSION,
  decodeFrame,
  decodeJson,
  decodeMessage,
  encodeAckError,
  encodeAckRequest,
  encodeAckResult,
  encodeBinary,
  encodeClientConnect,
  encodeDisconnect,
  encodeError,
  encodeEventName,
  encodeFrame,
  encodeJoin,
  encodeJson,
  encodeLeave,
  encodePing,
  encodePong,
  encodeServerConnect,
  parseAckRequest,
  parseAckResponse,
  parseRoomRequestId,
} from '../src/index';
import { expectCode, hex, toHex, utf8 } from './helpers';

/** Header fields read straight from the bytes. */
function header(frame: Uint8Array): { totalLen: number; type: number; eventLen: number } {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  return { totalLen: v.getUint32(0), type: v.getUint8(4), eventLen: v.getUint16(5) };
}

/** Decodes a frame both ways (TCP and WebSocket form) and checks they agree. */
function both(frame: Uint8Array): ReturnType<typeof decodeFrame> {
  const tcp = decodeFrame(frame);
  const ws = decodeMessage(frame.subarray(4));
  expect(ws.type).toBe(tcp.type);
  expect(ws.event).toBe(tcp.event);
  expect(Array.from(ws.payload)).toEqual(Array.from(tcp.payload));
  expect(header(frame).totalLen).toBe(frame.length);
  return tcp;
}

describe('encode/decode of every frame type', () => {
  it('JSON (0x01): event and UTF-8 JSON; no data is an empty payload', () => {
    const f = encodeJson('chat', { t: 'hi' });
    expect(toHex(f)).toBe(toHex(hex('00000015 01 0004 63686174 7b2274223a226869227d')));
    const d = both(f);
    expect(d).toMatchObject({ type: FrameType.JSON, event: 'chat' });
    expect(decodeJson(d.payload)).toEqual({ t: 'hi' });

    const empty = encodeJson('tick');
    expect(empty.length).toBe(HEADER_SIZE + 4);
    expect(decodeJson(both(empty).payload)).toBeUndefined();
    // Whatever JSON.stringify drops is "no data" too; null is data.
    expect(encodeJson('tick', () => 1).length).toBe(HEADER_SIZE + 4);
    expect(decodeJson(both(encodeJson('n', null)).payload)).toBeNull();
    expect(decodeJson(both(encodeJson('s', 'é"\u{1F600}')).payload)).toBe('é"\u{1F600}');
  });

  it('JSON: a lone surrogate inside the data is escaped, so the payload stays valid UTF-8', () => {
    const d = both(encodeJson('x', { s: '\ud800' }));
    expect(decodeJson(d.payload)).toEqual({ s: '\ud800' });
  });

  it('JSON: values JSON.stringify cannot encode throw its own error', () => {
    expect(() => encodeJson('x', { n: 1n })).toThrow(TypeError);
  });

  it('BINARY (0x02): raw bytes, copied; may be empty', () => {
    const bytes = new Uint8Array([0, 1, 2, 255]);
    const f = encodeBinary('blob', bytes);
    expect(toHex(f)).toBe('00 00 00 0f 02 00 04 62 6c 6f 62 00 01 02 ff');
    bytes[0] = 9; // the frame owns a copy
    expect(f[11]).toBe(0);
    expect(both(f)).toMatchObject({ type: FrameType.BINARY, event: 'blob' });
    expect(both(encodeBinary('blob', new Uint8Array(0))).payload.length).toBe(0);
  });

  it('PING (0x03) / PONG (0x04): no event, up to 125 opaque bytes', () => {
    expect(toHex(encodePing())).toBe('00 00 00 07 03 00 00');
    expect(toHex(encodePong())).toBe('00 00 00 07 04 00 00');
    const max = new Uint8Array(MAX_PING_PAYLOAD).fill(0xab);
    const p = both(encodePing(max));
    expect(p).toMatchObject({ type: FrameType.PING, event: '' });
    expect(p.payload.length).toBe(125);
    expect(both(encodePong(max)).type).toBe(FrameType.PONG);
    expectCode(() => encodePing(new Uint8Array(126)), 'BAD_PAYLOAD');
    expectCode(() => encodePong(new Uint8Array(126)), 'BAD_PAYLOAD');
  });

  it('ACK_REQ (0x05): u32 id then JSON data', () => {
    const f = encodeAckRequest(0xfedcba98, 'sum', { a: 1 });
    const d = both(f);
    expect(d).toMatchObject({ type: FrameType.ACK_REQ, event: 'sum' });
    const { id, data } = parseAckRequest(d.payload);
    expect(id).toBe(0xfedcba98);
    expect(decodeJson(data)).toEqual({ a: 1 });
    const none = parseAckRequest(both(encodeAckRequest(0, 'sum')).payload);
    expect(none.id).toBe(0);
    expect(none.data.length).toBe(0);
  });

  it('ACK_RES (0x06): id, status 0 + result or status 1 + {code, message}; event may be empty', () => {
    const ok = both(encodeAckResult(7, 'sum', 3));
    expect(ok).toMatchObject({ type: FrameType.ACK_RES, event: 'sum' });
    const r = parseAckResponse(ok.payload);
    expect(r).toMatchObject({ id: 7, ok: true });
    expect(decodeJson(r.body)).toBe(3);
    expect(ok.payload[4]).toBe(AckStatus.OK);

    const err = both(encodeAckError(0xffffffff, '', 'NO_HANDLER', 'nobody'));
    expect(err.event).toBe('');
    const e = parseAckResponse(err.payload);
    expect(e).toMatchObject({ id: 0xffffffff, ok: false });
    expect(decodeJson(e.body)).toEqual({ code: 'NO_HANDLER', message: 'nobody' });

    const undef = parseAckResponse(both(encodeAckResult(1, '')).payload);
    expect(undef.body.length).toBe(0);
  });

  it('CONNECT (0x07): client hello {v, auth?}, server hello {v, id, heartbeat, maxFrame}', () => {
    const c = both(encodeClientConnect());
    expect(c).toMatchObject({ type: FrameType.CONNECT, event: '' });
    expect(decodeJson(c.payload)).toEqual({ v: PROTOCOL_VERSION });
    expect(decodeJson(both(encodeClientConnect({ token: 't' })).payload)).toEqual({ v: 1, auth: { token: 't' } });
    const s = both(encodeServerConnect({ v: 1, id: 'abc', heartbeat: 25000, maxFrame: 1 << 20, extra: true }));
    expect(decodeJson(s.payload)).toEqual({ v: 1, id: 'abc', heartbeat: 25000, maxFrame: 1 << 20, extra: true });
  });

  it('DISCONNECT (0x08): {code, reason}', () => {
    const d = both(encodeDisconnect(4001, 'bad token'));
    expect(d).toMatchObject({ type: FrameType.DISCONNECT, event: '' });
    expect(decodeJson(d.payload)).toEqual({ code: 4001, reason: 'bad token' });
    expect(decodeJson(both(encodeDisconnect(1000)).payload)).toEqual({ code: 1000, reason: '' });
  });

  it('JOIN (0x09) / LEAVE (0x0A): room name, optional u32 id', () => {
    const j = both(encodeJoin('lobby', 1));
    expect(j).toMatchObject({ type: FrameType.JOIN, event: 'lobby' });
    expect(parseRoomRequestId(j.payload)).toBe(1);
    expect(parseRoomRequestId(both(encodeJoin('lobby')).payload)).toBeUndefined();
    const l = both(encodeLeave('lobby', 0xffffffff));
    expect(l.type).toBe(FrameType.LEAVE);
    expect(parseRoomRequestId(l.payload)).toBe(0xffffffff);
    expect(both(encodeLeave('lobby')).payload.length).toBe(0);
  });

  it('ERROR (0x0B): {code, message}, event empty or the event concerned', () => {
    const e = both(encodeError('RATE_LIMITED', 'slow down', 'chat'));
    expect(e).toMatchObject({ type: FrameType.ERROR, event: 'chat' });
    expect(decodeJson(e.payload)).toEqual({ code: 'RATE_LIMITED', message: 'slow down' });
    expect(both(encodeError('UNAUTHORIZED', 'no')).event).toBe('');
  });

  it('encodeFrame builds any type, and the names table covers all 11', () => {
    for (let t = 1; t <= 11; t++) {
      expect(FRAME_TYPE_NAMES[t as FrameType]).toBeTypeOf('string');
    }
    const cases: Array<[FrameType, string, Uint8Array]> = [
      [FrameType.JSON, 'a', utf8('1')],
      [FrameType.BINARY, 'a', new Uint8Array([1])],
      [FrameType.PING, '', new Uint8Array([1])],
      [FrameType.PONG, '', new Uint8Array(0)],
      [FrameType.ACK_REQ, 'a', new Uint8Array(4)],
      [FrameType.ACK_RES, '', new Uint8Array([0, 0, 0, 1, 1])],
      [FrameType.CONNECT, '', utf8('{"v":1}')],
      [FrameType.DISCONNECT, '', new Uint8Array(0)],
      [FrameType.JOIN, 'r', new Uint8Array(0)],
      [FrameType.LEAVE, 'r', new Uint8Array(4)],
      [FrameType.ERROR, 'e', utf8('{}')],
    ];
    for (const [type, event, payload] of cases) {
      const d = both(encodeFrame(type, event, payload));
      expect(d.type).toBe(type);
      expect(d.event).toBe(event);
      expect(Array.from(d.payload)).toEqual(Array.from(payload));
    }
  });
});

describe('encoder refusals', () => {
  it('refuses unknown types, including non-integers', () => {
    for (const t of [0, 12, 0x0c, 255, 1.5, -1, NaN]) expectCode(() => encodeFrame(t as FrameType, 'a'), 'BAD_TYPE');
  });

  it('refuses an empty name where one is required and a name where none is allowed', () => {
    expectCode(() => encodeJson(''), 'BAD_EVENT');
    expectCode(() => encodeBinary('', new Uint8Array(1)), 'BAD_EVENT');
    expectCode(() => encodeAckRequest(1, ''), 'BAD_EVENT');
    expectCode(() => encodeJoin(''), 'BAD_EVENT');
    expectCode(() => encodeLeave('', 2), 'BAD_EVENT');
    for (const t of [FrameType.PING, FrameType.PONG, FrameType.CONNECT, FrameType.DISCONNECT]) {
      expectCode(() => encodeFrame(t, 'x'), 'BAD_EVENT');
    }
    expectCode(() => encodeJson(undefined as unknown as string), 'BAD_EVENT');
    expectCode(() => encodeJson(42 as unknown as string), 'BAD_EVENT');
  });

  it('encodeFrame refuses payload layouts a decoder would refuse', () => {
    expectCode(() => encodeFrame(FrameType.ACK_REQ, 'a', new Uint8Array(3)), 'BAD_PAYLOAD');
    expectCode(() => encodeFrame(FrameType.ACK_RES, 'a', new Uint8Array(4)), 'BAD_PAYLOAD');
    expectCode(() => encodeFrame(FrameType.ACK_RES, 'a', new Uint8Array([0, 0, 0, 0, 2])), 'BAD_PAYLOAD');
    expectCode(() => encodeFrame(FrameType.JOIN, 'r', new Uint8Array(3)), 'BAD_PAYLOAD');
    expectCode(() => encodeFrame(FrameType.LEAVE, 'r', new Uint8Array(5)), 'BAD_PAYLOAD');
    expectCode(() => encodeFrame(FrameType.PING, '', new Uint8Array(126)), 'BAD_PAYLOAD');
  });

  it('refuses request ids that are not u32', () => {
    for (const id of [-1, 0x1_0000_0000, 1.5, NaN, Infinity]) {
      expectCode(() => encodeAckRequest(id, 'a'), 'BAD_PAYLOAD');
      expectCode(() => encodeAckResult(id, 'a'), 'BAD_PAYLOAD');
      expectCode(() => encodeAckError(id, 'a', 'X', 'y'), 'BAD_PAYLOAD');
      expectCode(() => encodeJoin('r', id), 'BAD_PAYLOAD');
      expectCode(() => encodeLeave('r', id), 'BAD_PAYLOAD');
    }
  });

  it('refuses lone surrogates in names', () => {
    for (const name of ['\ud800', 'a\udc00', '\udbff\ud800', 'x\ud83d']) {
      expectCode(() => encodeJson(name), 'BAD_EVENT');
      expectCode(() => encodeEventName(name), 'BAD_EVENT');
    }
    expect(both(encodeJson('\ud83d\ude00')).event).toBe('😀'); // a proper pair is fine
  });
});

describe('event names up to 255 UTF-8 bytes', () => {
  // [name, its UTF-8 length]
  const names: Array<[string, number]> = [
    ['a'.repeat(255), 255],
    ['é'.repeat(127) + 'a', 255], // 2-byte chars
    ['€'.repeat(85), 255], // 3-byte chars
    ['😀'.repeat(63) + 'abc', 255], // 4-byte chars (surrogate pairs in JS)
    ['a' + '😀'.repeat(63) + 'bc', 255],
  ];
  it.each(names)('accepts a name of exactly 255 bytes (%#)', (name, len) => {
    expect(utf8(name).length).toBe(len);
    expect(encodeEventName(name).length).toBe(255);
    const f = encodeJson(name, 1);
    expect(header(f).eventLen).toBe(255);
    expect(both(f).event).toBe(name);
    expect(both(encodeJoin(name, 3)).event).toBe(name);
  });

  it('refuses 256 bytes and more, whatever the width of the characters', () => {
    for (const name of ['a'.repeat(256), 'é'.repeat(128), '€'.repeat(86), '😀'.repeat(64), 'a'.repeat(254) + 'é', 'x'.repeat(100_000)]) {
      expect(utf8(name).length).toBeGreaterThan(MAX_EVENT_LENGTH);
      expectCode(() => encodeJson(name), 'BAD_EVENT_LENGTH');
      expectCode(() => encodeEventName(name), 'BAD_EVENT_LENGTH');
    }
  });
});

describe('event name cache', () => {
  it('returns fresh bytes: a caller modifying them cannot corrupt later frames', () => {
    const a = encodeEventName('cached-name');
    expect(Array.from(a)).toEqual(Array.from(utf8('cached-name')));
    a.fill(0x41);
    expect(both(encodeJson('cached-name')).event).toBe('cached-name');
    expect(Array.from(encodeEventName('cached-name'))).toEqual(Array.from(utf8('cached-name')));
  });

  it('frames do not share the cached bytes', () => {
    const f1 = encodeJson('shared');
    f1.fill(0, 7, 13);
    expect(both(encodeJson('shared')).event).toBe('shared');
  });

  it('stays correct past its capacity and for names that differ only slightly', () => {
    const names = Array.from({ length: 2000 }, (_, i) => `ev-${i}-${'é'.repeat(i % 5)}`);
    for (let round = 0; round < 3; round++) {
      for (const n of names) expect(decodeFrame(encodeJson(n, round)).event).toBe(n);
    }
    // A refused name is never cached as valid.
    const bad = 'z'.repeat(256);
    expectCode(() => encodeJson(bad), 'BAD_EVENT_LENGTH');
    expectCode(() => encodeJson(bad), 'BAD_EVENT_LENGTH');
  });
});

describe('encoder scratch buffer', () => {
  it('frames encoded one after another do not share bytes', () => {
    const a = encodeJson('a', { x: 'first' });
    const b = encodeJson('a', { x: 'second, longer' });
    expect(decodeJson(decodeFrame(a).payload)).toEqual({ x: 'first' });
    expect(decodeJson(decodeFrame(b).payload)).toEqual({ x: 'second, longer' });
  });

  it('large JSON bodies (past the scratch size) encode correctly', () => {
    const big = { s: 'é'.repeat(600_000), t: 'x'.repeat(2_000_000) };
    const f = encodeJson('big', big);
    expect(decodeJson(decodeFrame(f).payload)).toEqual(big);
    expect(decodeJson(decodeFrame(encodeJson('small', [1])).payload)).toEqual([1]);
  });

  it('a toJSON that encodes frames itself does not corrupt the outer frame', () => {
    const inner: Uint8Array[] = [];
    const value = {
      toJSON() {
        inner.push(encodeJson('inner', { deep: 'x'.repeat(100) }));
        return { outer: true };
      },
    };
    const f = encodeJson('outer', value);
    expect(decodeJson(decodeFrame(f).payload)).toEqual({ outer: true });
    expect(decodeJson(decodeFrame(inner[0]!).payload)).toEqual({ deep: 'x'.repeat(100) });
  });
});
