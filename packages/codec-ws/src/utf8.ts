/**
 * UTF-8 validation (RFC 3629) for text messages and close reasons.
 *
 * {@link Utf8Validator} is incremental: it carries the state of an incomplete trailing sequence
 * from one fragment to the next and rejects as soon as a byte makes the sequence impossible
 * (overlong forms, surrogates U+D800–U+DFFF, code points above U+10FFFF, bad continuation bytes),
 * without waiting for the end of the message. The bulk of each fragment is checked with
 * `buffer.isUtf8` (simdutf in Node); only the few bytes around fragment edges use the byte-wise
 * state machine.
 */
import { isUtf8 } from 'node:buffer';

/** Fragments shorter than this are checked byte-wise (cheaper than the native call). */
const NATIVE_MIN = 32;

/** Whether `data` is entirely valid UTF-8 (complete sequences only). */
export function isValidUtf8(data: Uint8Array): boolean {
  return data.length === 0 || isUtf8(data);
}

/**
 * Incremental, fail-fast UTF-8 validator. `write` returns false the moment the input can no
 * longer be valid; `end` returns false if the message ends inside a sequence.
 */
export class Utf8Validator {
  /** Continuation bytes still expected. */
  private need = 0;
  /** Allowed range of the next continuation byte (narrowed after E0, ED, F0, F4). */
  private lo = 0x80;
  private hi = 0xbf;
  private failed = false;

  /** Validates the next piece of the stream; false once invalid (and for ever after). */
  write(data: Uint8Array): boolean {
    if (this.failed) return false;
    const len = data.length;
    let i = 0;
    // Finish a sequence left open by the previous piece.
    while (this.need > 0 && i < len) {
      if (!this.step(data[i]!)) return this.fail();
      i++;
    }
    if (i === len) return true;
    if (len - i < NATIVE_MIN) {
      for (; i < len; i++) if (!this.step(data[i]!)) return this.fail();
      return true;
    }
    // Split off a trailing incomplete sequence: find the last lead byte in the last 4 bytes.
    let cut = len;
    for (let j = len - 1; j >= i && j >= len - 4; j--) {
      const b = data[j]!;
      if ((b & 0xc0) === 0x80) continue; // continuation byte
      const seq = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      if (len - j < seq) cut = j;
      break;
    }
    if (cut > i && !isUtf8(i === 0 && cut === len ? data : data.subarray(i, cut))) return this.fail();
    for (i = cut; i < len; i++) if (!this.step(data[i]!)) return this.fail();
    return true;
  }

  /** True if the stream ended on a sequence boundary (and nothing invalid was seen). */
  end(): boolean {
    return !this.failed && this.need === 0;
  }

  /** Forgets all state, ready for the next message. */
  reset(): void {
    this.need = 0;
    this.lo = 0x80;
    this.hi = 0xbf;
    this.failed = false;
  }

  private fail(): false {
    this.failed = true;
    return false;
  }

  private step(b: number): boolean {
    if (this.need > 0) {
      if (b < this.lo || b > this.hi) return false;
      this.need--;
      this.lo = 0x80;
      this.hi = 0xbf;
      return true;
    }
    if (b < 0x80) return true;
    if (b < 0xc2) return false; // stray continuation byte, or overlong C0/C1 lead
    if (b < 0xe0) {
      this.need = 1;
      return true;
    }
    if (b < 0xf0) {
      this.need = 2;
      if (b === 0xe0) this.lo = 0xa0; // overlong 3-byte forms
      else if (b === 0xed) this.hi = 0x9f; // surrogates U+D800..U+DFFF
      return true;
    }
    if (b < 0xf5) {
      this.need = 3;
      if (b === 0xf0) this.lo = 0x90; // overlong 4-byte forms
      else if (b === 0xf4) this.hi = 0x8f; // above U+10FFFF
      return true;
    }
    return false; // F5..FF never appear in UTF-8
  }
}
