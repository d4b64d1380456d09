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
  return encode(random(ID_BYTES));
}

/** A random 24-character URL-safe secret (144 bits): connection-state recovery tokens. */
export function randomToken(): string {
  return encode(random(18));
}

/** Base64url of a multiple of 3 bytes. */
function encode(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    s += ALPHABET[(n >>> 18) & 63]! + ALPHABET[(n >>> 12) & 63]! + ALPHABET[(n >>> 6) & 63]! + ALPHABET[n & 63]!;
  }
  return s;
}
