import { describe, it, expect } from 'vitest';
import { isValidUtf8, Utf8Validator } from '../src/index';
import { hex } from './helpers';

/** Validates `data` split at every pair of points into up to 3 pieces. */
function splitsAgree(data: Buffer, expected: boolean): void {
  for (let a = 0; a <= data.length; a++) {
    for (let b = a; b <= data.length; b++) {
      const v = new Utf8Validator();
      const ok = v.write(data.subarray(0, a)) && v.write(data.subarray(a, b)) && v.write(data.subarray(b)) && v.end();
      expect(ok, `${data.toString('hex')} split ${a}/${b}`).toBe(expected);
    }
  }
}

const VALID = [
  '',
  'Hello',
  'κόσμε',
  '€',
  '𝄞', // U+1D11E, 4 bytes
  'ab\u0000cd',
  '\u007f\u0080\u07ff\u0800\uffff',
  '\u{10000}\u{10ffff}',
  'Hello-µ@ßöäüàá-UTF-8!!',
  '\ud7ff\ue000', // around the surrogate block
];

const INVALID: Array<[string, string]> = [
  ['c0 af', 'overlong 2-byte (C0)'],
  ['c1 bf', 'overlong 2-byte (C1)'],
  ['e0 80 af', 'overlong 3-byte'],
  ['e0 9f bf', 'overlong 3-byte (max)'],
  ['f0 80 80 af', 'overlong 4-byte'],
  ['f0 8f bf bf', 'overlong 4-byte (max)'],
  ['ed a0 80', 'surrogate U+D800'],
  ['ed bf bf', 'surrogate U+DFFF'],
  ['ed a0 80 ed b0 80', 'surrogate pair encoded as CESU'],
  ['f4 90 80 80', 'U+110000'],
  ['f5 80 80 80', 'lead F5'],
  ['ff', 'byte FF'],
  ['fe', 'byte FE'],
  ['80', 'lone continuation'],
  ['41 bf 41', 'continuation after ASCII'],
  ['c3 41', 'missing continuation'],
  ['e2 82 41', 'missing third byte'],
  ['f0 9d 84 41', 'missing fourth byte'],
  ['c3', 'truncated 2-byte at end'],
  ['e2 82', 'truncated 3-byte at end'],
  ['f0 9d 84', 'truncated 4-byte at end'],
  ['ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64', 'Autobahn 6.x: surrogate inside text'],
];

describe('UTF-8 validation', () => {
  it('accepts valid text, whole and split at every point', () => {
    for (const s of VALID) {
      const b = Buffer.from(s, 'utf8');
      expect(isValidUtf8(b)).toBe(true);
      splitsAgree(b, true);
    }
  });

  it('rejects overlong forms, surrogates, code points above U+10FFFF, bad continuations, truncations', () => {
    for (const [h, what] of INVALID) {
      const b = hex(h);
      expect(isValidUtf8(b), what).toBe(false);
      splitsAgree(b, false);
    }
  });

  it('agrees with buffer.isUtf8 on long inputs that take the native path, split anywhere', () => {
    const long = Buffer.from('ascii '.repeat(20) + '€𝄞κόσμε'.repeat(10), 'utf8');
    for (let cut = 0; cut <= long.length; cut++) {
      const v = new Utf8Validator();
      expect(v.write(long.subarray(0, cut)) && v.write(long.subarray(cut)) && v.end()).toBe(true);
    }
    const bad = Buffer.concat([long, hex('ed a0 80'), long]);
    for (let cut = 0; cut <= bad.length; cut += 7) {
      const v = new Utf8Validator();
      expect(v.write(bad.subarray(0, cut)) && v.write(bad.subarray(cut)) && v.end()).toBe(false);
    }
  });

  it('fails fast: the fragment that makes the text impossible is rejected, before the message ends', () => {
    const cases: Array<[string, string]> = [
      ['48 65 6c 6c 6f f4', '90 80 80'], // > U+10FFFF decided by the second byte
      ['48 65 6c 6c 6f ed', 'a0 80'], // surrogate
      ['48 65 6c 6c 6f e0', '80 80'], // overlong
      ['48 65 6c 6c 6f f0', '80 80 80'], // overlong 4-byte
      ['48 65 6c 6c 6f c3', 'c3'], // bad continuation
    ];
    for (const [first, second] of cases) {
      const v = new Utf8Validator();
      expect(v.write(hex(first))).toBe(true);
      expect(v.write(hex(second))).toBe(false);
      expect(v.write(hex('41'))).toBe(false); // stays failed
    }
    // Decided within the first fragment already, even though the sequence is incomplete.
    for (const first of ['48 f4 90', '48 ed a0', '48 e0 9f', '48 f5', '48 c0', '48 80']) {
      expect(new Utf8Validator().write(hex(first)), first).toBe(false);
    }
    // Same with a fragment long enough for the native path.
    const v = new Utf8Validator();
    expect(v.write(Buffer.concat([Buffer.alloc(100, 0x41), hex('f4 90')]))).toBe(false);
  });

  it('accepts a valid 4-byte sequence split across fragments byte by byte, then rejects truncation at end', () => {
    const v = new Utf8Validator();
    for (const b of [0xf0, 0x9d, 0x84, 0x9e]) expect(v.write(Buffer.from([b]))).toBe(true);
    expect(v.end()).toBe(true);
    v.reset();
    expect(v.write(hex('f0 9d 84'))).toBe(true);
    expect(v.end()).toBe(false);
    v.reset();
    expect(v.write(hex('41'))).toBe(true);
    expect(v.end()).toBe(true);
  });
});
