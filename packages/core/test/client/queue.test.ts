import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../../src/client/queue';

describe('BoundedQueue (the offline queue)', () => {
  it('drop-oldest evicts; drop-newest and error refuse; bytes are counted', () => {
    const q = new BoundedQueue<{ size: number; n: number }>({ maxMessages: 2, maxBytes: 100 });
    expect(q.push({ size: 10, n: 1 })).toEqual([]);
    expect(q.push({ size: 10, n: 2 })).toEqual([]);
    expect(q.push({ size: 10, n: 3 })).toEqual([{ size: 10, n: 1 }]);
    expect(q.push({ size: 95, n: 4 })).toEqual([{ size: 10, n: 2 }, { size: 10, n: 3 }]);
    expect(q.byteLength).toBe(95);
    expect(q.push({ size: 101, n: 5 })).toBe(false); // larger than the whole queue: never queued
    const r = new BoundedQueue<{ size: number }>({ maxMessages: 1, policy: 'drop-newest' });
    r.push({ size: 1 });
    expect(r.push({ size: 1 })).toBe(false);
    expect(r.length).toBe(1);
    expect(new BoundedQueue({ maxMessages: 0 }).push({ size: 0 })).toBe(false);
    const e = new BoundedQueue<{ size: number }>({ maxMessages: 1, policy: 'error' });
    e.push({ size: 1 });
    expect(e.push({ size: 1 })).toBe(false);
  });

  it('FIFO through many pushes and shifts (the array is compacted), remove and clear', () => {
    const q = new BoundedQueue<{ size: number; n: number }>({ maxMessages: 1000 });
    for (let i = 0; i < 500; i++) q.push({ size: 1, n: i });
    for (let i = 0; i < 300; i++) expect(q.shift()!.n).toBe(i);
    expect([q.length, q.byteLength]).toEqual([200, 200]);
    q.remove((x) => x.n % 2 === 0);
    expect([q.length, q.byteLength, q.shift()!.n]).toEqual([100, 100, 301]);
    expect(q.clear()).toHaveLength(99);
    expect([q.length, q.byteLength, q.shift()]).toEqual([0, 0, undefined]);
  });
});
