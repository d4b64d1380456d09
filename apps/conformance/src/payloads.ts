/** Test payloads: deterministic text (ASCII or mixed UTF-8), binary, compressible data. */
import { randomBytes } from 'node:crypto';

const MIXED = 'Hello-µ@ßöäüàá-UTF-8!! κόσμε 𝄞 ';

/** `n` bytes of ASCII text ('*' like Autobahn, with a varying letter every 64 bytes). */
export function asciiText(n: number): string {
  let s = '';
  const line = '*'.repeat(63);
  while (s.length < n) s += line + String.fromCharCode(97 + ((s.length >> 6) % 26));
  return s.slice(0, n);
}

/** Exactly `n` bytes of valid UTF-8 with 1- to 4-byte characters (padded with ASCII). */
export function utf8Text(n: number): Buffer {
  const unit = Buffer.from(MIXED, 'utf8');
  const out = Buffer.alloc(n, 0x2a);
  let off = 0;
  while (off + unit.length <= n) {
    unit.copy(out, off);
    off += unit.length;
  }
  return out;
}

let seed = randomBytes(4).readUInt32LE(0) | 1;
/** `n` pseudo-random bytes (incompressible; xorshift32, far cheaper than crypto for megabytes). */
export function randomBinary(n: number): Buffer {
  const out = Buffer.allocUnsafeSlow(n);
  const words = new Uint32Array(out.buffer, 0, n >>> 2);
  let x = seed;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  for (let i = words.length * 4; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  seed = x | 1;
  return out;
}

/** `n` bytes with structure: a random block repeated, so deflate finds matches `period` apart. */
export function repetitive(n: number, period = 2048, seedBlock?: Buffer): Buffer {
  const block = seedBlock ?? randomBytes(Math.min(period, n || 1));
  const out = Buffer.alloc(n);
  for (let off = 0; off < n; off += block.length) block.copy(out, off, 0, Math.min(block.length, n - off));
  return out;
}

/** Compressible text of `n` bytes: words from a small vocabulary (valid ASCII). */
export function wordsText(n: number, seed = 1): string {
  const words = ['stelar', 'frame', 'deflate', 'window', 'socket', 'message', 'context', 'ping', 'room', 'ack', 'κόσμε'];
  let x = seed >>> 0 || 1;
  const parts: string[] = [];
  let bytes = 0;
  while (bytes < n) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const w = words[(x >>> 0) % words.length]!;
    parts.push(w);
    bytes += Buffer.byteLength(w) + 1;
  }
  const b = Buffer.from(parts.join(' ') + ' ', 'utf8');
  // Cut on a character boundary, pad with spaces to exactly n bytes.
  let end = n;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  return b.subarray(0, end).toString('utf8') + ' '.repeat(n - end);
}

export const KiB = 1024;
export const MiB = 1024 * 1024;

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}
