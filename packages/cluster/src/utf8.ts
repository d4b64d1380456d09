/**
 * UTF-8 for the envelope's short strings (node ids, room names, connection ids) without Node's
 * Buffer: a plain loop for ASCII, which these almost always are, TextEncoder / TextDecoder
 * otherwise. Unpaired surrogates become U+FFFD (3 bytes), as with TextEncoder.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes of `s` in UTF-8. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a pair: 2 UTF-16 units, 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}

/** Writes `s` at `off` (room for it checked by the caller); returns the bytes written. */
export function writeUtf8(buf: Uint8Array, off: number, s: string): number {
  const len = s.length;
  let i = 0;
  for (; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) break;
    buf[off + i] = c;
  }
  if (i === len) return len;
  const rest = encoder.encodeInto(s.slice(i), buf.subarray(off + i));
  return i + rest.written;
}

/** The string of `buf[start, end)`. */
export function readUtf8(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= 64) {
    let s = '';
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      if (c >= 0x80) return decoder.decode(buf.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decoder.decode(buf.subarray(start, end));
}

/** The UTF-8 bytes of a (long) string, e.g. a JSON body. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}
