import { describe, expect, it } from 'vitest';
import { HandlerRegistry } from '../src/registry';

type Fn = (x: number) => void;

describe('HandlerRegistry', () => {
  it('many handlers per event in order; off one or all; catch-alls apart', () => {
    const r = new HandlerRegistry<Fn, Fn>();
    const a: Fn = () => undefined;
    const b: Fn = () => undefined;
    r.on('e', a);
    r.on('e', b);
    r.on('e', a);
    expect(r.take('e')).toEqual([a, b, a]);
    r.off('e', a); // the first one only
    expect(r.take('e')).toEqual([b, a]);
    r.off('e', () => undefined); // unknown: nothing
    r.off('e');
    expect(r.has('e')).toBe(false);
    expect(r.take('e')).toBeUndefined();
    r.off('e', a); // nothing to remove from
    r.onAny(a);
    r.onAny(b);
    expect(r.any).toEqual([a, b]);
    expect(r.anyCount).toBe(2);
    r.offAny(a);
    expect(r.any).toEqual([b]);
    r.offAny();
    expect(r.anyCount).toBe(0);
  });

  it('once entries leave on the dispatch that takes them; an emptied event is dropped', () => {
    const r = new HandlerRegistry<Fn, Fn>();
    const a: Fn = () => undefined;
    const b: Fn = () => undefined;
    r.on('e', a, true);
    r.on('e', b);
    expect(r.take('e')).toEqual([a, b]);
    expect(r.take('e')).toEqual([b]);
    r.on('o', a, true);
    expect(r.take('o')).toEqual([a]);
    expect(r.has('o')).toBe(false);
  });

  it('lists are copied on write: changes during a dispatch apply to the next one', () => {
    const r = new HandlerRegistry<Fn, Fn>();
    const b: Fn = () => undefined;
    const a: Fn = () => {
      r.on('e', b);
      r.off('e', a);
    };
    r.on('e', a);
    const first = r.take('e')!;
    for (const fn of first) fn(0);
    expect(first).toEqual([a]);
    expect(r.take('e')).toEqual([b]);
    r.clear();
    expect(r.has('e')).toBe(false);
  });
});
