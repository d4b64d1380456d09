import { ErrorCode } from './constants';
import { FrameError } from './errors';

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Scratch space reused by callers that must learn a string's byte length before copying it. */
let scratch = new Uint8Array(16 * 1024);
/** The scratch never grows past this: a bigger text gets its own array instead of pinning memory for good. */
const SCRATCH_MAX = 1024 * 1024;

/**
 * Encodes a string to UTF-8 into a shared scratch buffer and returns a view of it. The view is
 * valid until the next call: copy it out before encoding anything else.
 */
export function encodeToScratch(text: string): Uint8Array {
  // A UTF-16 code unit becomes at most 3 UTF-8 bytes.
  const worst = text.length * 3;
  if (worst > scratch.length) {
    if (worst > SCRATCH_MAX) return encoder.encode(text);
    scratch = new Uint8Array(Math.min(SCRATCH_MAX, Math.max(worst, scratch.length * 2)));
  }
  const { written } = encoder.encodeInto(text, scratch);
  return scratch.subarray(0, written);
}

/** UTF-8 bytes of a string (a fresh array). */
export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * Decodes strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
 * Pure-ASCII input, the usual case for event names, takes a fast path without TextDecoder.
 */
export function utf8Decode(bytes: Uint8Array, start = 0, end = bytes.length): string {
  const len = end - start;
  if (len === 0) return '';
  if (len <= 64) {
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (bytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      let s = '';
      for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
      return s;
    }
  }
  try {
    return strictDecoder.decode(bytes.subarray(start, end));
  } catch {
    throw new FrameError(ErrorCode.BAD_UTF8, 'invalid UTF-8');
  }
}

/* Event names repeat endlessly on a hot path: the last names decoded are kept with their bytes
   (a small direct-mapped table, bounded: NAME_SLOTS names of at most 255 bytes). A name whose
   bytes equal a kept one's is that string, with no decoding: the bytes are compared, never hashed
   past three of them. Only bytes that decoded as valid UTF-8 are kept, so a hit is as strict as
   decoding. Reusing the same string also lets a Map lookup by it use its cached hash. */
const NAME_SLOTS = 128;
const slotBytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(NAME_SLOTS).fill(undefined);
const slotNames: string[] = new Array<string>(NAME_SLOTS).fill('');

/**
 * `utf8Decode` for short strings that repeat (event and room names, at most 255 bytes): the same
 * string for the same bytes, strict UTF-8 either way.
 * @throws FrameError BAD_UTF8
 */
export function decodeName(bytes: Uint8Array, start: number, end: number): string {
  const len = end - start;
  if (len === 0) return '';
  const slot = (len * 31 + bytes[start]! * 7 + bytes[start + (len >> 1)]! * 3 + bytes[end - 1]!) & (NAME_SLOTS - 1);
  const kept = slotBytes[slot];
  if (kept !== undefined && kept.length === len) {
    let i = 0;
    while (i < len && kept[i] === bytes[start + i]) i++;
    if (i === len) return slotNames[slot]!;
  }
  const name = utf8Decode(bytes, start, end);
  // A copy of its own (a Buffer's `slice` would be a view pinning, and seeing changes to, the input).
  const own = new Uint8Array(len);
  for (let i = 0; i < len; i++) own[i] = bytes[start + i]!;
  slotBytes[slot] = own;
  slotNames[slot] = name;
  return name;
}

/** True when a JS string has no lone surrogates, so it round-trips through UTF-8. */
export function isWellFormed(text: string): boolean {
  const f = (text as { isWellFormed?: () => boolean }).isWellFormed;
  if (f) return f.call(text);
  // Fallback for engines before ES2024.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const n = text.charCodeAt(i + 1);
      if (!(n >= 0xdc00 && n <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return true;
}
