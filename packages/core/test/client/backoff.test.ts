import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/client/backoff';

describe('backoffDelay', () => {
  it('full jitter stays within [0, min(cap, base·factor^n)]', () => {
    for (let n = 0; n < 40; n++) {
      const cap = Math.min(1000, 100 * 2 ** n);
      expect(backoffDelay(n, { baseDelay: 100, factor: 2, maxDelay: 1000 }, () => 0.999999)).toBeLessThanOrEqual(cap);
      expect(backoffDelay(n, { baseDelay: 100, maxDelay: 1000 }, () => 0)).toBe(0);
    }
    expect(backoffDelay(100, { baseDelay: 100, maxDelay: 1000 }, () => 1)).toBe(1000);
    expect(backoffDelay(0, {}, () => 1)).toBe(500); // defaults: base 500
    expect(backoffDelay(10_000, {}, () => 1)).toBe(10_000); // and a 10 s ceiling, even for huge attempts
    expect(backoffDelay(3, { baseDelay: 10, factor: 3, maxDelay: 1e9 }, () => 1)).toBe(270);
  });
});
