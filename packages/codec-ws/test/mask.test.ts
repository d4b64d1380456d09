import { describe, it, expect } from 'vitest';
import { mask, unmask } from '../src/index.js';

function naive(src: Uint8Array, key: Uint8Array, keyOff = 0): Buffer {
  const out = Buffer.alloc(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! ^ key[keyOff + (i & 3)]!;
  return out;
}

describe('masking', () => {
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

  it('matches the RFC example ("Hello" with 37 fa 21 3d)', () => {
    const out = Buffer.alloc(5);
    mask(Buffer.from('Hello'), key, out);
    expect(out.toString('hex')).toBe('7f9f4d5158');
    unmask(out, key);
    expect(out.toString()).toBe('Hello');
  });

  it('agrees with a byte loop for every length, alignment and key offset (word and unrolled paths)', () => {
    const backing = Buffer.alloc(600);
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 131 + 7) & 255;
    const keyBacking = Buffer.from([9, 0x37, 0xfa, 0x21, 0x3d, 9]);
    for (const len of [0, 1, 3, 4, 5, 63, 64, 65, 127, 128, 129, 255, 300, 517]) {
      for (let srcAlign = 0; srcAlign < 4; srcAlign++) {
        for (let dstAlign = 0; dstAlign < 4; dstAlign++) {
          const src = backing.subarray(srcAlign, srcAlign + len);
          const out = new Uint8Array(len + 8);
          mask(src, keyBacking, out, dstAlign, 1);
          expect(Buffer.from(out.subarray(dstAlign, dstAlign + len)).equals(naive(src, keyBacking, 1))).toBe(true);
        }
        const copy = Buffer.from(backing);
        const view = copy.subarray(srcAlign, srcAlign + len);
        unmask(view, key);
        expect(view.equals(naive(backing.subarray(srcAlign, srcAlign + len), key))).toBe(true);
        // Bytes outside the view are untouched.
        expect(copy.subarray(0, srcAlign).equals(backing.subarray(0, srcAlign))).toBe(true);
        expect(copy.subarray(srcAlign + len).equals(backing.subarray(srcAlign + len))).toBe(true);
      }
    }
  });

  it('is an involution', () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 255));
    const copy = Buffer.from(data);
    unmask(copy, key);
    unmask(copy, key);
    expect(copy.equals(data)).toBe(true);
  });
});
