import { describe, it, expect } from 'vitest';
import { CloseCode, decodeCloseBody, encodeCloseBody, isValidCloseCode, truncateUtf8, WsError } from '../src/index';
import { hex } from './helpers';

const body = (code: number, reason = ''): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.from(reason)]);
};

describe('close codes', () => {
  it('constants', () => {
    expect(CloseCode.NORMAL).toBe(1000);
    expect(CloseCode.PROTOCOL_ERROR).toBe(1002);
    expect(CloseCode.INVALID_PAYLOAD).toBe(1007);
    expect(CloseCode.MESSAGE_TOO_BIG).toBe(1009);
    expect(CloseCode.TRY_AGAIN_LATER).toBe(1013);
  });

  it('valid classes: 1000–1003, 1007–1014, 3000–4999', () => {
    for (const c of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
      expect(isValidCloseCode(c), String(c)).toBe(true);
      const r = decodeCloseBody(body(c, 'why'));
      expect(r).toEqual({ code: c, reason: 'why' });
    }
  });

  it('invalid classes: <1000, 1004–1006, 1015, 1016–2999, ≥5000 → 1002', () => {
    for (const c of [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
      expect(isValidCloseCode(c), String(c)).toBe(false);
      const r = decodeCloseBody(body(c));
      expect(r).toBeInstanceOf(WsError);
      expect((r as WsError).code).toBe('WS_BAD_CLOSE_CODE');
      expect((r as WsError).closeCode).toBe(1002);
      expect(() => encodeCloseBody(c)).toThrow(WsError);
    }
  });

  it('empty body → no code; 1-byte body → 1002; invalid UTF-8 reason → 1007', () => {
    expect(decodeCloseBody(Buffer.alloc(0))).toEqual({ code: undefined, reason: '' });
    expect((decodeCloseBody(hex('03')) as WsError).code).toBe('WS_BAD_CLOSE_PAYLOAD');
    expect((decodeCloseBody(hex('03')) as WsError).closeCode).toBe(1002);
    const bad = decodeCloseBody(Buffer.concat([body(1000), hex('ce ba e1 bd b9 ed a0 80')])) as WsError;
    expect(bad.code).toBe('WS_INVALID_UTF8');
    expect(bad.closeCode).toBe(1007);
    expect(decodeCloseBody(Buffer.concat([body(1000), hex('e2 82')]))).toBeInstanceOf(WsError);
    expect(decodeCloseBody(body(1000, 'κόσμε'))).toEqual({ code: 1000, reason: 'κόσμε' });
  });

  it('encodes and truncates on a character boundary', () => {
    expect(encodeCloseBody().length).toBe(0);
    expect(encodeCloseBody(1000).toString('hex')).toBe('03e8');
    const b = encodeCloseBody(1000, '€'.repeat(50)); // 150 bytes of 3-byte chars
    expect(b.length).toBe(2 + 123);
    expect(b.subarray(2).toString()).toBe('€'.repeat(41));
    const c = encodeCloseBody(1000, 'a' + '𝄞'.repeat(40));
    expect(c.length).toBeLessThanOrEqual(125);
    expect(decodeCloseBody(c)).toEqual({ code: 1000, reason: 'a' + '𝄞'.repeat(30) });
    expect(truncateUtf8(Buffer.from('abc'), 10).toString()).toBe('abc');
  });
});
