/**
 * Masking (RFC 6455 §5.3): XOR of the payload with a 4-byte key, repeated.
 *
 * Fast path: when source and destination have the same alignment modulo 4, the bulk is done a
 * 32-bit word at a time through `Uint32Array` views (the key word is built in memory order, so it
 * works whatever the platform's endianness). Otherwise a 4-byte unrolled loop is used.
 */

/** Below this many bytes the unrolled byte loop beats creating typed-array views. */
const WORD_PATH_MIN = 64;

const scratch = new Uint8Array(4);
const scratchWord = new Uint32Array(scratch.buffer);

/** XOR of `src[srcOff..+len)` with the key at `key[keyOff..+4)` into `dst[dstOff..)` (may be the same bytes). */
export function xorMask(
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
  if (len >= WORD_PATH_MIN && ((src.byteOffset + srcOff) & 3) === (dstAbs & 3)) {
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
