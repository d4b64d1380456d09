const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const POOL = 4096;
const ID_BYTES = 12;
let pool = new Uint8Array(0);
let offset = POOL;

function random(n: number): Uint8Array {
  const c = globalThis.crypto;
  if (!c || typeof c.getRandomValues !== 'function') throw new Error('Stelar needs globalThis.crypto.getRandomValues');
  if (offset + n > pool.length) {
    pool = new Uint8Array(POOL);
    c.getRandomValues(pool);
    offset = 0;
  }
  const out = pool.subarray(offset, offset + n);
  offset += n;
  return out;
}

/** A random 16-character URL-safe id (96 bits), from a pooled CSPRNG buffer. */
export function randomId(): string {
  const b = random(ID_BYTES);
  let s = '';
  for (let i = 0; i < ID_BYTES; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    s += ALPHABET[(n >>> 18) & 63]! + ALPHABET[(n >>> 12) & 63]! + ALPHABET[(n >>> 6) & 63]! + ALPHABET[n & 63]!;
  }
  return s;
}
