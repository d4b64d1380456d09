import { describe, expect, it } from 'vitest';
import {
  compareOffsets,
  decodeFrame,
  decodeJson,
  decodeMessage,
  encodeBinary,
  encodeClientConnect,
  encodeJson,
  encodeServerConnect,
  FrameType,
  isToken,
  OFFSET_SIZE,
  offsetToHex,
  parseClientHello,
  parseOffsetHex,
  parseRecoveryAnswer,
  parseServerHello,
  readOffset,
  withOffset,
} from '../src/index';
import { expectCode, toHex, utf8 } from './helpers';

const TOKEN = 'AbCdEfGh_-0123456789xyz';

describe('connection-state recovery on the wire (protocol.md §8)', () => {
  it('CONNECT: no recover field unless asked; {} opts in; a token and offset ask to resume', () => {
    expect(decodeJson(decodeFrame(encodeClientConnect()).payload)).toEqual({ v: 1 });
    expect(decodeJson(decodeFrame(encodeClientConnect(undefined, {})).payload)).toEqual({ v: 1, recover: {} });
    const resume = encodeClientConnect({ t: 1 }, { token: TOKEN, offset: { hi: 1, lo: 0xfffffffe } });
    expect(decodeJson(decodeFrame(resume).payload)).toEqual({ v: 1, auth: { t: 1 }, recover: { token: TOKEN, offset: '00000001fffffffe' } });
    expect(parseClientHello(decodeFrame(resume).payload)).toEqual({ v: 1, auth: { t: 1 }, recover: { token: TOKEN, offset: { hi: 1, lo: 0xfffffffe } } });
    expect(parseClientHello(utf8('{"v":1,"recover":{}}'))).toEqual({ v: 1, recover: {} });
    // Unknown fields of recover are ignored (room for later additions).
    expect(parseClientHello(utf8('{"v":1,"recover":{"x":1}}'))).toEqual({ v: 1, recover: {} });
    expect('recover' in parseClientHello(utf8('{"v":1}'))).toBe(false);
  });

  it('CONNECT: a malformed recover field is BAD_PAYLOAD (bounded token, exact offset format)', () => {
    const bad = [
      '{"v":1,"recover":null}',
      '{"v":1,"recover":[]}',
      '{"v":1,"recover":"x"}',
      `{"v":1,"recover":{"token":"short","offset":"0000000000000000"}}`,
      `{"v":1,"recover":{"token":"${'a'.repeat(65)}","offset":"0000000000000000"}}`,
      `{"v":1,"recover":{"token":"${'a'.repeat(100_000)}","offset":"0000000000000000"}}`,
      `{"v":1,"recover":{"token":"aaaaaaaaaaaaaaaa aaaa","offset":"0000000000000000"}}`,
      `{"v":1,"recover":{"token":7,"offset":"0000000000000000"}}`,
      `{"v":1,"recover":{"token":"${TOKEN}"}}`,
      `{"v":1,"recover":{"token":"${TOKEN}","offset":"000000000000000"}}`,
      `{"v":1,"recover":{"token":"${TOKEN}","offset":"00000000000000000"}}`,
      `{"v":1,"recover":{"token":"${TOKEN}","offset":"000000000000000G"}}`,
      `{"v":1,"recover":{"token":"${TOKEN}","offset":"00000000000000AB"}}`,
      `{"v":1,"recover":{"token":"${TOKEN}","offset":12}}`,
    ];
    for (const text of bad) expectCode(() => parseClientHello(utf8(text)), 'BAD_PAYLOAD');
    expect(isToken('a'.repeat(16))).toBe(true);
    expect(isToken('a'.repeat(64))).toBe(true);
    expect(isToken('a'.repeat(15))).toBe(false);
  });

  it("the server's answer: recovery {token, recovered, rx}, checked", () => {
    const frame = encodeServerConnect({ v: 1, id: 'x', heartbeat: 0, maxFrame: 0, recovery: { token: TOKEN, recovered: true, rx: 12 } });
    expect(parseRecoveryAnswer(parseServerHello(decodeFrame(frame).payload))).toEqual({ token: TOKEN, recovered: true, rx: 12 });
    expect(parseRecoveryAnswer(parseServerHello(utf8('{"v":1,"id":"x"}')))).toBeUndefined();
    for (const r of [null, {}, { token: TOKEN, recovered: 1, rx: 0 }, { token: 'x', recovered: true, rx: 0 }, { token: TOKEN, recovered: true, rx: -1 }, { token: TOKEN, recovered: true, rx: 1.5 }]) {
      expectCode(() => parseRecoveryAnswer({ recovery: r }), 'BAD_PAYLOAD');
    }
  });

  it('offsets: 16 hex digits both ways, compared as u64', () => {
    for (const o of [
      { hi: 0, lo: 0 },
      { hi: 0, lo: 1 },
      { hi: 0xffffffff, lo: 0xffffffff },
      { hi: 0x0001_86a0, lo: 0x8000_0000 },
    ]) {
      expect(parseOffsetHex(offsetToHex(o))).toEqual(o);
    }
    expect(offsetToHex({ hi: 0, lo: 1000 })).toBe('00000000000003e8');
    expect(compareOffsets({ hi: 1, lo: 0 }, { hi: 0, lo: 0xffffffff })).toBeGreaterThan(0);
    expect(compareOffsets({ hi: 0, lo: 5 }, { hi: 0, lo: 7 })).toBeLessThan(0);
    expect(compareOffsets({ hi: 3, lo: 7 }, { hi: 3, lo: 7 })).toBe(0);
  });

  it('withOffset: the payload starts with the u64 offset, totalLen + 8, the rest unchanged; both transports decode it', () => {
    const plain = encodeJson('chat', { t: 'hi' });
    for (const pooled of [false, true]) {
      const stamped = withOffset(plain, { hi: 0, lo: 1000 }, pooled);
      expect(stamped.length).toBe(plain.length + OFFSET_SIZE);
      expect(toHex(stamped)).toBe('00 00 00 1d 01 00 04 63 68 61 74 00 00 00 00 00 00 03 e8 7b 22 74 22 3a 22 68 69 22 7d');
      const f = decodeFrame(stamped);
      expect(f.type).toBe(FrameType.JSON);
      expect(readOffset(f.payload)).toEqual({ hi: 0, lo: 1000 });
      expect(decodeJson(f.payload.subarray(OFFSET_SIZE))).toEqual({ t: 'hi' });
      expect(decodeMessage(stamped.subarray(4)).event).toBe('chat');
    }
    const bin = withOffset(encodeBinary('b', new Uint8Array([9, 8])), { hi: 0xdeadbeef, lo: 2 });
    const f = decodeFrame(bin);
    expect(readOffset(f.payload)).toEqual({ hi: 0xdeadbeef, lo: 2 });
    expect([...f.payload.subarray(8)]).toEqual([9, 8]);
    // The original frame is untouched.
    expect(decodeJson(decodeFrame(plain).payload)).toEqual({ t: 'hi' });
  });

  it('readOffset refuses a payload shorter than the prefix (BAD_PAYLOAD)', () => {
    expectCode(() => readOffset(new Uint8Array(7)), 'BAD_PAYLOAD');
  });
});
