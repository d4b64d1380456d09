/**
 * log-window.ts on its own: entries numbered without gaps (also when building one throws), found by
 * seq and by offset, trimmed by age and by bytes, cleared with the numbering going on.
 */
import { compareOffsets, type Offset } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import { ENTRY_OVERHEAD, LogWindow } from '../src/log-window';
import { LogEntry } from '../src/recovery-log';

const target = { room: 'r' } as unknown as ConstructorParameters<typeof LogEntry>[3];
const off = (n: number): Offset => ({ hi: 0, lo: n * 10 });
const add = (w: LogWindow, n: number, at: number, bytes = 4) => w.add((seq) => new LogEntry(seq, off(n), new Uint8Array(bytes), target, at));

describe('LogWindow', () => {
  it('numbers entries 1, 2, 3… with no gap, even when building one throws; finds them by seq and by offset', () => {
    const w = new LogWindow(1000);
    add(w, 1, 0);
    expect(() =>
      w.add(() => {
        throw new Error('cannot stamp');
      }),
    ).toThrow('cannot stamp');
    add(w, 2, 0);
    add(w, 3, 0);
    expect([...w.after(0)].map((e) => e.seq)).toEqual([1, 2, 3]);
    expect([...w.after(2)].map((e) => e.seq)).toEqual([3]);
    expect(w.entry(2)?.offset).toEqual(off(2));
    expect(w.entry(4)).toBeUndefined();
    expect(w.seqAtOrBefore(off(2))).toBe(2);
    expect(w.seqAtOrBefore({ hi: 0, lo: 25 })).toBe(2);
    expect(w.seqAtOrBefore({ hi: 0, lo: 5 })).toBe(0);
    expect(w.afterOffset(off(1)).map((e) => e.seq)).toEqual([2, 3]);
    expect(w.afterOffset(off(1)).every((e) => compareOffsets(e.offset, off(1)) > 0)).toBe(true);
    expect([w.entries, w.last, w.trimmed, w.bytes]).toEqual([3, 3, 0, 3 * (4 + ENTRY_OVERHEAD)]);
  });

  it('trims the oldest by age and by bytes, and says which was the newest dropped', () => {
    const w = new LogWindow(100);
    for (let i = 1; i <= 5; i++) add(w, i, i * 10);
    expect(w.trim(125, Infinity)?.seq).toBe(2); // older than 25: seqs 1 and 2
    expect([w.entries, w.trimmed]).toEqual([3, 2]);
    expect(w.trim(125, 2 * (4 + ENTRY_OVERHEAD))?.seq).toBe(3);
    expect(w.trim(125, Infinity)).toBeUndefined();
    expect(w.entry(3)).toBeUndefined();
    expect(w.seqAtOrBefore(off(3))).toBe(3); // dropped: the newest dropped seq
    expect([...w.after(0)].map((e) => e.seq)).toEqual([4, 5]);
  });

  it('clear drops everything as trimmed; the numbering goes on', () => {
    const w = new LogWindow(100);
    add(w, 1, 0);
    add(w, 2, 0);
    w.clear();
    expect([w.entries, w.bytes, w.trimmed, w.last]).toEqual([0, 0, 2, 2]);
    expect(add(w, 3, 0).seq).toBe(3);
  });

  it('compacts its array once the head has moved far', () => {
    const w = new LogWindow(10);
    for (let i = 1; i <= 3000; i++) add(w, i, i);
    w.trim(3000, Infinity);
    expect(w.entries).toBe(11);
    expect([...w.after(0)].map((e) => e.seq)).toEqual(Array.from({ length: 11 }, (_, i) => 2990 + i));
  });
});
