/**
 * Masking (RFC 6455 §5.3): XOR of the payload with a 4-byte key, repeated.
 *
 * Fast path: when source and destination have the same alignment modulo 4, the bulk is done a
 * 32-bit word at a time through `Uint32Array` views (the key word is built in memory order, so it
 * works whatever the platform's endianness). Otherwise a 4-byte unrolled loop is used.
 */

import { createRequire } from 'node:module';

/** The masking functions of the optional `bufferutil` package (what `ws` uses too). */
export interface NativeMask {
  /** `output[offset + i] = source[i] ^ mask[i & 3]` for `i < length`. */
  mask(source: Uint8Array, mask: Uint8Array, output: Uint8Array, offset: number, length: number): void;
  /** `buffer[i] ^= mask[i & 3]`. */
  unmask(buffer: Uint8Array, mask: Uint8Array): void;
}

/** From this many bytes on, a native helper beats the JS loops (one call's overhead included). */
const NATIVE_MIN = 128;

declare const __filename: string | undefined;

/**
 * `bufferutil` when it is installed and loads (a native addon with prebuilt binaries; masking
 * 1 MiB takes ~4-6x less CPU than the 32-bit-word JS loop below), unless STELAR_NO_BUFFERUTIL is
 * set. It is optional: without it, the pure JS path is used and behaves the same.
 */
function loadNative(): NativeMask | undefined {
  if (process.env['STELAR_NO_BUFFERUTIL']) return undefined;
  try {
    // Resolved from this package's location (CommonJS build: __filename; ESM: import.meta.url).
    const from = typeof __filename === 'string' ? __filename : import.meta.url;
    const mod = createRequire(from)('bufferutil') as Partial<NativeMask>;
    return typeof mod.mask === 'function' && typeof mod.unmask === 'function' ? (mod as NativeMask) : undefined;
  } catch {
    return undefined;
  }
}

let native: NativeMask | undefined = loadNative();

/** Which masking code runs for payloads of 128 bytes or more: `bufferutil` or the JS loops. */
export function maskImplementation(): 'bufferutil' | 'js' {
  return native === undefined ? 'js' : 'bufferutil';
}

/** @internal Replaces the native helper (tests: `undefined` forces the JS path). */
export function setNativeMask(impl: NativeMask | undefined): void {
  native = impl;
}

/** Below this many bytes the unrolled byte loop beats creating typed-array views. */
const WORD_PATH_MIN = 64;

const scratch = new Uint8Array(4);
const scratchWord = new Uint32Array(scratch.buffer);

/**
 * XOR of `src[srcOff..+len)` with the key at `key[keyOff..+4)` into `dst[dstOff..)` (may be the
 * same bytes, not otherwise overlapping): the native helper for 128 bytes or more when loaded.
 */
export function xorMask(
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
  len: number,
  key: Uint8Array,
  keyOff: number,
): void {
  const n = native;
  if (n === undefined || len < NATIVE_MIN) {
    jsXorMask(src, srcOff, dst, dstOff, len, key, keyOff);
    return;
  }
  const k = keyOff === 0 && key.length === 4 ? key : key.subarray(keyOff, keyOff + 4);
  const s = srcOff === 0 && src.length === len ? src : src.subarray(srcOff, srcOff + len);
  if (src === dst && srcOff === dstOff) n.unmask(s, k);
  else n.mask(s, k, dst, dstOff, len);
}

/** The pure JS path of {@link xorMask} (exported for tests). */
export function jsXorMask(
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
  len: number,
  key: Uint8Array,
  keyOff: number,
): void {
  const m0 = key[keyOff]!;
  const m1 = key[keyOff + 1]!;
  const m2 = key[keyOff + 2]!;
  const m3 = key[keyOff + 3]!;
  let i = 0;
  const dstAbs = dst.byteOffset + dstOff;
  const aligned = ((src.byteOffset + srcOff) & 3) === (dstAbs & 3);
  if (len >= WORD_PATH_MIN && !aligned) {
    // Source and destination out of step: copy (memcpy), then the word loop in place; two fast
    // passes cost several times less than the byte loop.
    dst.set(src.subarray(srcOff, srcOff + len), dstOff);
    jsXorMask(dst, dstOff, dst, dstOff, len, key, keyOff);
    return;
  }
  if (len >= WORD_PATH_MIN) {
    const head = (4 - (dstAbs & 3)) & 3;
    for (; i < head; i++) dst[dstOff + i] = src[srcOff + i]! ^ key[keyOff + (i & 3)]!;
    // Key rotated so that word lane 0 lines up with payload index `head`.
    scratch[0] = key[keyOff + (head & 3)]!;
    scratch[1] = key[keyOff + ((head + 1) & 3)]!;
    scratch[2] = key[keyOff + ((head + 2) & 3)]!;
    scratch[3] = key[keyOff + ((head + 3) & 3)]!;
    const word = scratchWord[0]!;
    const words = (len - head) >>> 2;
    const s32 = new Uint32Array(src.buffer, src.byteOffset + srcOff + head, words);
    const d32 = src === dst && srcOff === dstOff ? s32 : new Uint32Array(dst.buffer, dstAbs + head, words);
    let w = 0;
    const words4 = words - (words & 3);
    for (; w < words4; w += 4) {
      d32[w] = s32[w]! ^ word;
      d32[w + 1] = s32[w + 1]! ^ word;
      d32[w + 2] = s32[w + 2]! ^ word;
      d32[w + 3] = s32[w + 3]! ^ word;
    }
    for (; w < words; w++) d32[w] = s32[w]! ^ word;
    i = head + (words << 2);
    for (; i < len; i++) dst[dstOff + i] = src[srcOff + i]! ^ key[keyOff + (i & 3)]!;
    return;
  }
  const end4 = len - (len & 3);
  for (; i < end4; i += 4) {
    dst[dstOff + i] = src[srcOff + i]! ^ m0;
    dst[dstOff + i + 1] = src[srcOff + i + 1]! ^ m1;
    dst[dstOff + i + 2] = src[srcOff + i + 2]! ^ m2;
    dst[dstOff + i + 3] = src[srcOff + i + 3]! ^ m3;
  }
  for (; i < len; i++) dst[dstOff + i] = src[srcOff + i]! ^ key[keyOff + (i & 3)]!;
}

/**
 * Writes `source` XOR the 4-byte `maskKey` (starting at `maskOffset`) into `output` at
 * `outputOffset`. `output` must have room for `source.length` bytes.
 */
export function mask(
  source: Uint8Array,
  maskKey: Uint8Array,
  output: Uint8Array,
  outputOffset = 0,
  maskOffset = 0,
): void {
  xorMask(source, 0, output, outputOffset, source.length, maskKey, maskOffset);
}

/** Unmasks (or masks: the operation is its own inverse) `buffer` in place. */
export function unmask(buffer: Uint8Array, maskKey: Uint8Array, maskOffset = 0): void {
  xorMask(buffer, 0, buffer, 0, buffer.length, maskKey, maskOffset);
}

/** The key of the unmask in progress (see `keyAtPhase`): one for every receiver. */
const SCRATCH_KEY = Buffer.allocUnsafeSlow(4);

/**
 * The masking key `key` (its 4 bytes big-endian in one number) rotated to start at byte `phase`
 * of the payload, in a shared scratch buffer: valid until the next call (unmasking is synchronous).
 */
export function keyAtPhase(key: number, phase: number): Buffer {
  const r = SCRATCH_KEY;
  for (let i = 0; i < 4; i++) r[i] = (key >>> (24 - 8 * ((phase + i) & 3))) & 0xff;
  return r;
}
