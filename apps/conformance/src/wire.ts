/**
 * The tester's own RFC 6455 framing, written from the RFC and independent of `@stelar/codec-ws`:
 * a frame builder that can produce *invalid* frames on purpose (reserved bits and opcodes,
 * non-minimal or lying lengths, missing or wrong masks), and a strict incremental parser that
 * reports every way a frame sent by the peer under test breaks RFC 6455 §5.
 */
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';

export const OP = {
  CONT: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** RSV bits as a 3-bit number: 4 = RSV1, 2 = RSV2, 1 = RSV3. */
export const RSV1 = 4;
export const RSV2 = 2;
export const RSV3 = 1;

export type Bytes = Uint8Array | string;

export function toBuf(b: Bytes | undefined): Buffer {
  if (b === undefined) return Buffer.alloc(0);
  if (typeof b === 'string') return Buffer.from(b, 'utf8');
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** A frame to build. Anything may be wrong on purpose. */
export interface FrameSpec {
  opcode: number;
  payload?: Bytes;
  /** Default true. */
  fin?: boolean;
  /** 3 bits (RSV1 = 4, RSV2 = 2, RSV3 = 1). Default 0. */
  rsv?: number;
  /** Mask the payload. Default: decided by the sender's role (clients mask). */
  mask?: boolean;
  /** A fixed masking key (default: random). */
  maskKey?: Uint8Array;
  /** Length encoding: 7-bit, 16-bit or 64-bit (default: minimal). */
  lengthForm?: 7 | 16 | 64;
  /** A declared length other than the payload's (a lying header). */
  declaredLength?: bigint;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** XOR with a 4-byte key, starting at key phase 0. Returns a new buffer. */
export function xorMask(data: Buffer, key: Uint8Array): Buffer {
  const n = data.length;
  // Its own ArrayBuffer at offset 0, so the word view below is aligned.
  const out = Buffer.allocUnsafeSlow(n);
  data.copy(out, 0);
  const words = n >>> 2;
  let i = 0;
  if (LITTLE_ENDIAN && words > 16) {
    const kw = (key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24)) >>> 0;
    const w = new Uint32Array(out.buffer, out.byteOffset, words);
    for (let j = 0; j < words; j++) w[j] = w[j]! ^ kw;
    i = words * 4;
  }
  for (; i < n; i++) out[i] = out[i]! ^ key[i & 3]!;
  return out;
}

let keyPool = Buffer.alloc(0);
let keyOffset = 0;
/** A random 4-byte masking key (from a pooled `randomBytes` buffer). */
export function maskKey(): Buffer {
  if (keyOffset + 4 > keyPool.length) {
    keyPool = randomBytes(64 * 1024);
    keyOffset = 0;
  }
  keyOffset += 4;
  return keyPool.subarray(keyOffset - 4, keyOffset);
}

/** Builds the bytes of one frame (header and, masked if asked, payload). */
export function buildFrame(spec: FrameSpec, defaultMask: boolean): Buffer {
  const payload = toBuf(spec.payload);
  const fin = spec.fin ?? true;
  const rsv = spec.rsv ?? 0;
  const masked = spec.mask ?? defaultMask;
  const len = spec.declaredLength ?? BigInt(payload.length);
  const form = spec.lengthForm ?? (len < 126n ? 7 : len < 65536n ? 16 : 64);
  const extLen = form === 7 ? 0 : form === 16 ? 2 : 8;
  const header = Buffer.alloc(2 + extLen + (masked ? 4 : 0));
  header[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (spec.opcode & 0x0f);
  const maskBit = masked ? 0x80 : 0;
  if (form === 7) header[1] = maskBit | Number(len & 0x7fn);
  else if (form === 16) {
    header[1] = maskBit | 126;
    header.writeUInt16BE(Number(len & 0xffffn), 2);
  } else {
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(len & 0xffffffffffffffffn, 2);
  }
  if (!masked) return payload.length === 0 ? header : Buffer.concat([header, payload]);
  const key = spec.maskKey ?? maskKey();
  Buffer.from(key).copy(header, 2 + extLen, 0, 4);
  return Buffer.concat([header, xorMask(payload, key)]);
}

/** A close frame body: code (optional) and reason bytes. */
export function closeBody(code?: number, reason: Bytes = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const r = toBuf(reason);
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

/** One frame as the parser saw it (payload unmasked). */
export interface ParsedFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  maskKey: Buffer | undefined;
  payload: Buffer;
  /** The length field used the minimal encoding. */
  minimalLength: boolean;
}

/**
 * Strict incremental frame parser for the tester. It never enforces anything itself: it hands
 * out frames, and reports what it cannot parse (a 64-bit length with the top bit set, or a frame
 * larger than `maxFrame`) through `onError`.
 */
export class FrameParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed = false;
  constructor(
    private readonly onFrame: (f: ParsedFrame) => void,
    private readonly onError: (message: string) => void,
    private readonly maxFrame = 64 * 1024 * 1024,
  ) {}

  push(chunk: Buffer): void {
    if (this.failed) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.drain();
  }

  private flat(need: number): Buffer | undefined {
    if (this.buffered < need) return undefined;
    if (this.chunks[0]!.length < need) {
      const all = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [all];
    }
    return this.chunks[0]!;
  }

  private take(n: number): Buffer {
    const head = this.flat(n)!;
    const out = head.subarray(0, n);
    if (head.length === n) this.chunks.shift();
    else this.chunks[0] = head.subarray(n);
    this.buffered -= n;
    return out;
  }

  private drain(): void {
    for (;;) {
      const h = this.flat(2);
      if (!h) return;
      const b1 = h[1]!;
      const masked = (b1 & 0x80) !== 0;
      const len7 = b1 & 0x7f;
      const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
      const headLen = 2 + ext + (masked ? 4 : 0);
      const hh = this.flat(headLen);
      if (!hh) return;
      let len: number;
      let minimal = true;
      if (len7 === 126) {
        len = hh.readUInt16BE(2);
        minimal = len >= 126;
      } else if (len7 === 127) {
        const big = hh.readBigUInt64BE(2);
        if (big >> 63n) {
          this.failed = true;
          this.onError('64-bit length with the most significant bit set');
          return;
        }
        if (big > BigInt(this.maxFrame)) {
          this.failed = true;
          this.onError(`frame of ${big} bytes is over the tester's limit`);
          return;
        }
        len = Number(big);
        minimal = len >= 65536;
      } else len = len7;
      if (this.buffered < headLen + len) return;
      const head = this.take(headLen);
      const b0 = head[0]!;
      const key = masked ? Buffer.from(head.subarray(2 + ext, 6 + ext)) : undefined;
      const raw: Buffer = len === 0 ? Buffer.alloc(0) : this.take(len);
      const payload = key ? xorMask(raw, key) : raw;
      this.onFrame({
        fin: (b0 & 0x80) !== 0,
        rsv: (b0 >> 4) & 7,
        opcode: b0 & 0x0f,
        masked,
        maskKey: key,
        payload,
        minimalLength: minimal,
      });
      if (this.failed) return;
    }
  }
}

/** Strict UTF-8 check (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
export function isStrictUtf8(b: Uint8Array): boolean {
  return isUtf8(b);
}

/** RFC 6455 §7.4 plus the IANA registry: codes a close frame may carry. */
export function isSendableCloseCode(code: number): boolean {
  if (code >= 1000 && code <= 1014) return code !== 1004 && code !== 1005 && code !== 1006;
  return code >= 3000 && code <= 4999;
}

export const OPCODE_NAMES: Record<number, string> = { 0: 'continuation', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };
