import { describe, expect, it } from 'vitest';
import { now, unrefTimer } from '../src/clock';

describe('clock', () => {
  it('now() never goes back; unrefTimer lets a Node timer not hold the process and ignores other values', () => {
    let last = now();
    for (let i = 0; i < 1000; i++) {
      const t = now();
      expect(t).toBeGreaterThanOrEqual(last);
      last = t;
    }
    const timer = setTimeout(() => undefined, 10_000);
    unrefTimer(timer);
    expect(timer.hasRef()).toBe(false);
    clearTimeout(timer);
    expect(() => unrefTimer(7)).not.toThrow();
    expect(() => unrefTimer(null)).not.toThrow();
  });
});
