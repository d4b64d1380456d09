import { describe, expect, it } from 'vitest';
import { ConnectionBuckets, TokenBucket } from '../src/rate-limit';

describe('TokenBucket', () => {
  it('starts full at burst, refills at rate per second up to burst, from the clock it is given', () => {
    let t = 0;
    const b = new TokenBucket({ rate: 2, burst: 3 }, () => t);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    t = 499;
    expect(b.take()).toBe(false); // 0.998 tokens
    t = 500;
    expect(b.take()).toBe(true);
    t = 100_000; // long idle: capped at burst
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    expect(b.take(0)).toBe(true);
    const plain = new TokenBucket({ rate: 1 }, () => t); // burst defaults to rate
    expect([plain.take(), plain.take()]).toEqual([true, false]);
    const costly = new TokenBucket({ rate: 5 }, () => t);
    expect([costly.take(3), costly.take(3)]).toEqual([true, false]);
  });
});

describe('ConnectionBuckets', () => {
  it('the connection rule and the event rules both apply; only own keys are rules', () => {
    const b = new ConnectionBuckets({ rate: 1, burst: 3 }, { chat: { rate: 1, burst: 1 } });
    expect(b.take('chat', 1)).toBe(true);
    expect(b.take('chat', 1)).toBe(false); // the event's bucket
    expect(b.take('other', 1)).toBe(true);
    expect(b.take('constructor', 1)).toBe(false); // the connection's bucket is empty now
    const events = new ConnectionBuckets(undefined, { chat: { rate: 1, burst: 1 } });
    for (let i = 0; i < 10; i++) expect(events.take('constructor', 1) && events.take('__proto__', 1) && events.take('toString', 1)).toBe(true);
  });

  it('override replaces the connection rule (null lifts it) and starts a fresh bucket', () => {
    const b = new ConnectionBuckets({ rate: 1, burst: 1 }, undefined);
    expect([b.take('e', 1), b.take('e', 1)]).toEqual([true, false]);
    b.override(null);
    for (let i = 0; i < 100; i++) expect(b.take('e', 1)).toBe(true);
    b.override({ rate: 1, burst: 2 });
    expect([b.take('e', 1), b.take('e', 1), b.take('e', 1)]).toEqual([true, true, false]);
  });
});
