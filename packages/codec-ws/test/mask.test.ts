import { afterEach, describe, it, expect } from 'vitest';
import { mask, maskImplementation, Receiver, unmask } from '../src/index';
import { setNativeMask, type NativeMask } from '../src/mask';
import { clientFrame } from './helpers';

function naive(src: Uint8Array, key: Uint8Array, keyOff = 0): Buffer {
  const out = Buffer.alloc(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! ^ key[keyOff + (i & 3)]!;
  return out;
}

/** bufferutil's API as byte loops, recording each call. */
function reference(): { impl: NativeMask; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    impl: {
      mask(source, m, output, offset, length) {
        calls.push(`mask ${length} @${offset}`);
        for (let i = 0; i < length; i++) output[offset + i] = source[i]! ^ m[i & 3]!;
      },
      unmask(buffer, m) {
        calls.push(`unmask ${buffer.length}`);
        for (let i = 0; i < buffer.length; i++) buffer[i]! ^= m[i & 3]!;
      },
    },
  };
}

afterEach(() => setNativeMask(undefined));

describe('masking', () => {
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

  it('matches the RFC example ("Hello" with 37 fa 21 3d)', () => {
    const out = Buffer.alloc(5);
    mask(Buffer.from('Hello'), key, out);
    expect(out.toString('hex')).toBe('7f9f4d5158');
    unmask(out, key);
    expect(out.toString()).toBe('Hello');
  });

  it.each(['js', 'native'] as const)('agrees with a byte loop for every length, alignment and key offset (%s path)', (path) => {
    // The native path is exercised with a stand-in of bufferutil's API (a byte loop): what is
    // tested is how codec-ws calls it (views, offsets, key position), not bufferutil itself.
    setNativeMask(path === 'js' ? undefined : reference().impl);
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

  it('a native helper, when loaded, gets payloads of 128 bytes or more (mask, unmask, the receiver), the JS loops the rest', () => {
    const ref = reference();
    setNativeMask(ref.impl);
    expect(maskImplementation()).toBe('bufferutil');
    const out = Buffer.alloc(200);
    mask(Buffer.alloc(127, 1), key, out);
    unmask(Buffer.alloc(100), key);
    expect(ref.calls).toEqual([]);
    mask(Buffer.alloc(128, 1), key, out, 3);
    unmask(Buffer.alloc(130), key);
    expect(ref.calls).toEqual(['mask 128 @3', 'unmask 130']);
    const got: string[] = [];
    const r = new Receiver({ role: 'server' }, { onMessage: (d) => got.push(d.toString()), onPing: () => {}, onPong: () => {}, onClose: () => {}, onError: () => {} });
    r.push(clientFrame(0x81, Buffer.from('x'.repeat(300)), Buffer.from([5, 6, 7, 8])));
    expect(got).toEqual(['x'.repeat(300)]);
    expect(ref.calls[2]).toBe('unmask 300');
  });

  it('JS path: masking into a buffer out of step with the source costs about what unmasking in place does (not the byte loop)', () => {
    setNativeMask(undefined);
    const src = Buffer.alloc(1024 * 1024 + 8, 0x5a);
    const out = Buffer.alloc(1024 * 1024 + 8);
    const time = (fn: () => void): number => {
      let best = Infinity;
      for (let r = 0; r < 7; r++) {
        const t = performance.now();
        for (let i = 0; i < 4; i++) fn();
        best = Math.min(best, performance.now() - t);
      }
      return best;
    };
    const inPlace = time(() => unmask(src.subarray(2, 2 + 1024 * 1024), key));
    const crossed = time(() => mask(src.subarray(1, 1 + 1024 * 1024), key, out, 2));
    expect(naive(src.subarray(1, 1 + 1024 * 1024), key).equals(out.subarray(2, 2 + 1024 * 1024))).toBe(true);
    // The byte loop took ~6x the word loop; a copy then the word loop about 1.2x.
    expect(crossed / inPlace).toBeLessThan(3);
  });

  it('is an involution', () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 255));
    const copy = Buffer.from(data);
    unmask(copy, key);
    unmask(copy, key);
    expect(copy.equals(data)).toBe(true);
  });
});

describe('a masked binary message across reads is unmasked once, into its own buffer', () => {
  /** A binary message of `size` bytes, masked with a key, cut into reads of the given sizes. */
  function deliver(size: number, cuts: number[], path: 'js' | 'native'): { got: Buffer[]; calls: string[]; sent: Buffer } {
    const ref = reference();
    setNativeMask(path === 'js' ? undefined : ref.impl);
    const sent = Buffer.alloc(size);
    for (let i = 0; i < size; i++) sent[i] = (i * 7 + 3) & 255;
    const wire = Buffer.concat([clientFrame(0x82, sent, Buffer.from([0x9a, 0x01, 0xfe, 0x37])), clientFrame(0x81, Buffer.from('after'))]);
    const got: Buffer[] = [];
    const r = new Receiver({ role: 'server' }, { onMessage: (d) => got.push(Buffer.from(d)), onPing: () => {}, onPong: () => {}, onClose: () => {}, onError: (e) => { throw e; } });
    let at = 0;
    for (const c of [...cuts, wire.length]) {
      if (c > at) r.push(Buffer.from(wire.subarray(at, c)));
      at = Math.max(at, c);
    }
    return { got, calls: ref.calls, sent };
  }

  for (const path of ['js', 'native'] as const) {
    it(`exact at every key phase and cut (${path})`, () => {
      for (const size of [1, 5, 130, 4099, 70_001]) {
        for (const cuts of [[3], [9, 10, 11], [20, 21 + (size >> 1)], [16 + (size >> 1) - 1, 16 + (size >> 1) + 2], Array.from({ length: 40 }, (_, i) => 7 + i * Math.ceil(size / 37))]) {
          const { got, sent } = deliver(size, cuts, path);
          expect(got.length, `${size} ${cuts.join(',')}`).toBe(2);
          expect(got[0]!.equals(sent), `${size} ${cuts.join(',')}`).toBe(true);
          expect(got[1]!.toString()).toBe('after');
        }
      }
    });
  }

  it('with bufferutil, each byte goes through one mask() into the message buffer: no unmask in place', () => {
    const { got, calls, sent } = deliver(256 * 1024, [1000, 64 * 1024, 128 * 1024, 192 * 1024], 'native');
    expect(got[0]!.equals(sent)).toBe(true);
    expect(calls.filter((c) => c.startsWith('unmask'))).toEqual([]);
    const masked = calls.filter((c) => c.startsWith('mask')).reduce((n, c) => n + Number(c.split(' ')[1]), 0);
    expect(masked).toBe(256 * 1024);
  });
});
