import { describe, expect, it } from 'vitest';
import { asBytes, isBinary, isThenable } from '../src/types';

describe('types helpers', () => {
  it('isBinary: Uint8Array (Buffer included) and ArrayBuffer; asBytes views without copying', () => {
    const ab = new ArrayBuffer(4);
    expect([isBinary(new Uint8Array(1)), isBinary(Buffer.from('x')), isBinary(ab)]).toEqual([true, true, true]);
    expect([isBinary('x'), isBinary([1]), isBinary(new Uint16Array(1)), isBinary(null)]).toEqual([false, false, false, false]);
    const u = new Uint8Array(3);
    expect(asBytes(u)).toBe(u);
    const view = asBytes(ab);
    view[0] = 9;
    expect(new Uint8Array(ab)[0]).toBe(9);
  });

  it('isThenable: promises and objects with a then function', () => {
    expect(isThenable(Promise.resolve())).toBe(true);
    expect(isThenable({ then: () => undefined })).toBe(true);
    expect(isThenable({ then: 1 })).toBe(false);
    expect(isThenable(null)).toBe(false);
    expect(isThenable(() => undefined)).toBe(false);
  });
});
