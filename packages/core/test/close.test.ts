import { describe, expect, it } from 'vitest';
import { cutReason, isPeerCloseCode, MAX_CLOSE_REASON_BYTES } from '../src/close';

describe('close codes and reasons', () => {
  it('isPeerCloseCode: what protocol.md §5 lets a client send', () => {
    for (const ok of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4100, 4999]) expect(isPeerCloseCode(ok)).toBe(true);
    for (const bad of [0, -1, 1.5, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 2999, 4000, 4001, 4006, 4099, 5000, 1e308, Infinity, NaN]) {
      expect(isPeerCloseCode(bad)).toBe(false);
    }
  });

  it('cutReason: at most 123 bytes of UTF-8, never inside a character', () => {
    expect(cutReason('short')).toBe('short');
    expect(cutReason('a'.repeat(200))).toBe('a'.repeat(MAX_CLOSE_REASON_BYTES));
    expect(cutReason('é'.repeat(100))).toBe('é'.repeat(61));
    expect(cutReason('€'.repeat(100))).toBe('€'.repeat(41));
    const emoji = cutReason('😀'.repeat(100));
    expect(emoji).toBe('😀'.repeat(30));
    expect(new TextEncoder().encode(emoji).length).toBeLessThanOrEqual(123);
    expect(cutReason('abcdef', 4)).toBe('abcd');
    expect(cutReason('a\uD800b'.repeat(50)).length).toBeGreaterThan(0); // a lone surrogate counts as 3 bytes
  });
});
