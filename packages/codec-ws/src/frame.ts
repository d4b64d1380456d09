/**
 * Frame layout (RFC 6455 §5.2): header encoding and parsing, one-shot frame encoding.
 */
import { randomFillSync } from 'node:crypto';
import { CloseCode, WsError } from './errors';
import { mask } from './mask';

/** Frame opcodes. 3–7 and 0xB–0xF are reserved and rejected. */
export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** One of the defined opcodes. */
export type OpcodeValue = (typeof Opcode)[keyof typeof Opcode];

/** Which end of the connection we are: servers receive masked frames, clients send them. */
export type Role = 'server' | 'client';

/** A frame ready to write: header and payload kept apart so the transport can `writev`/cork. */
export type EncodedFrame = [header: Buffer, payload: Buffer];

/** Largest payload of a control frame (ping, pong, close). */
export const MAX_CONTROL_PAYLOAD = 125;

/** Whether the opcode is a control opcode (close, ping, pong, or a reserved 0xB–0xF). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** Whether the opcode is one RFC 6455 defines. */
export function isKnownOpcode(opcode: number): boolean {
  return opcode <= 2 || (opcode >= 8 && opcode <= 10);
}

/** Options of {@link encodeFrameHeader}. */
export interface FrameHeaderOptions {
  /** Final fragment (default true). */
  fin?: boolean;
  /** RSV1: set on the first frame of a permessage-deflate compressed message. */
  rsv1?: boolean;
  /** 4-byte masking key to place in the header (client frames). */
  maskKey?: Uint8Array | undefined;
}

/** Header length in bytes for a payload length and masking. */
export function frameHeaderLength(payloadLength: number, masked: boolean): number {
  return (payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Encodes a frame header with the minimal length encoding. An unmasked header can be shared by
 * every recipient of a broadcast. Throws `WS_INVALID_ARGUMENT` for a bad opcode or length.
 */
export function encodeFrameHeader(opcode: number, payloadLength: number, options: FrameHeaderOptions = {}): Buffer {
  if (!isKnownOpcode(opcode)) {
    throw new WsError('WS_INVALID_ARGUMENT', CloseCode.INTERNAL_ERROR, `Unknown opcode ${opcode}`);
  }
  if (!Number.isSafeInteger(payloadLength) || payloadLength < 0) {
    throw new WsError('WS_INVALID_ARGUMENT', CloseCode.INTERNAL_ERROR, `Bad payload length ${payloadLength}`);
  }
  const fin = options.fin ?? true;
  if (isControlOpcode(opcode) && (payloadLength > MAX_CONTROL_PAYLOAD || !fin)) {
    throw new WsError('WS_INVALID_ARGUMENT', CloseCode.INTERNAL_ERROR, 'Control frames are unfragmented and carry at most 125 bytes');
  }
  const maskKey = options.maskKey;
  if (maskKey !== undefined && maskKey.length < 4) {
    throw new WsError('WS_INVALID_ARGUMENT', CloseCode.INTERNAL_ERROR, 'A masking key has 4 bytes');
  }
  const header = Buffer.allocUnsafe(frameHeaderLength(payloadLength, maskKey !== undefined));
  header[0] = (fin ? 0x80 : 0) | (options.rsv1 ? 0x40 : 0) | opcode;
  const maskBit = maskKey !== undefined ? 0x80 : 0;
  let offset: number;
  if (payloadLength < 126) {
    header[1] = maskBit | payloadLength;
    offset = 2;
  } else if (payloadLength < 0x10000) {
    header[1] = maskBit | 126;
    header.writeUInt16BE(payloadLength, 2);
    offset = 4;
  } else {
    header[1] = maskBit | 127;
    header.writeUInt32BE(Math.floor(payloadLength / 0x100000000), 2);
    header.writeUInt32BE(payloadLength >>> 0, 6);
    offset = 10;
  }
  if (maskKey !== undefined) {
    header[offset] = maskKey[0]!;
    header[offset + 1] = maskKey[1]!;
    header[offset + 2] = maskKey[2]!;
    header[offset + 3] = maskKey[3]!;
  }
  return header;
}

const MASK_POOL_SIZE = 8192;
let maskPool = Buffer.allocUnsafe(0);
let maskPoolOffset = MASK_POOL_SIZE;

/**
 * Returns 4 cryptographically random bytes for a masking key, taken from a pooled buffer filled
 * with `crypto.randomFillSync` (one system call per 2048 keys). The returned view is only valid
 * until the next call: copy it (encodeFrameHeader does) before calling again.
 */
export function randomMaskKey(): Buffer {
  if (maskPoolOffset + 4 > MASK_POOL_SIZE) {
    if (maskPool.length === 0) maskPool = Buffer.allocUnsafeSlow(MASK_POOL_SIZE);
    randomFillSync(maskPool);
    maskPoolOffset = 0;
  }
  const key = maskPool.subarray(maskPoolOffset, maskPoolOffset + 4);
  maskPoolOffset += 4;
  return key;
}

/** Options of {@link encodeFrame}. */
export interface EncodeFrameOptions {
  /** Frame opcode (see {@link Opcode}). */
  opcode: number;
  /** Our role: client frames are masked, server frames are not. */
  role: Role;
  /** Final fragment (default true). */
  fin?: boolean;
  /** RSV1 (permessage-deflate compressed, first frame of the message only). */
  rsv1?: boolean;
  /** Fixed masking key (tests); default: a fresh random key for client frames. */
  maskKey?: Uint8Array;
  /**
   * For clients: mask `payload` in place instead of into a copy. Only for buffers the caller owns
   * and will not reuse (e.g. freshly compressed data).
   */
  maskInPlace?: boolean;
}

/**
 * Encodes one frame as `[header, payload]`. Server frames return the original payload (no copy);
 * client frames return a masked copy (or mask in place with `maskInPlace`).
 */
export function encodeFrame(payload: Uint8Array, options: EncodeFrameOptions): EncodedFrame {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  if (options.role === 'server') {
    const header = encodeFrameHeader(options.opcode, data.length, {
      fin: options.fin ?? true,
      rsv1: options.rsv1 ?? false,
    });
    return [header, data];
  }
  const key = options.maskKey ?? randomMaskKey();
  const header = encodeFrameHeader(options.opcode, data.length, {
    fin: options.fin ?? true,
    rsv1: options.rsv1 ?? false,
    maskKey: key,
  });
  const keyOffset = header.length - 4;
  if (data.length === 0) return [header, data];
  const out = options.maskInPlace ? data : Buffer.allocUnsafe(data.length);
  mask(data, header, out, 0, keyOffset);
  return [header, out];
}

/** A parsed frame header (see {@link parseFrameHeader}). */
export interface FrameHeader {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  payloadLength: number;
  /** The masking key (a view into the input) when `masked`. */
  maskKey: Buffer | undefined;
  /** Bytes taken by the header. */
  headerLength: number;
}

/**
 * Parses the frame header at `offset` of `data` — syntax only (role, RSV and opcode rules are the
 * Receiver's job). Returns `undefined` when more bytes are needed, or a {@link WsError}
 * `WS_BAD_LENGTH` (1002) for a 64-bit length with its most significant bit set, or a length
 * beyond 2^53 - 1 (`WS_FRAME_TOO_LARGE`, 1009).
 */
export function parseFrameHeader(data: Buffer, offset = 0): FrameHeader | WsError | undefined {
  const available = data.length - offset;
  if (available < 2) return undefined;
  const b0 = data[offset]!;
  const b1 = data[offset + 1]!;
  const masked = (b1 & 0x80) !== 0;
  const len7 = b1 & 0x7f;
  let headerLength = 2;
  let payloadLength = len7;
  if (len7 === 126) {
    if (available < 4) return undefined;
    payloadLength = data.readUInt16BE(offset + 2);
    headerLength = 4;
  } else if (len7 === 127) {
    if (available < 10) return undefined;
    const hi = data.readUInt32BE(offset + 2);
    const r = checkLength64(hi);
    if (r) return r;
    payloadLength = hi * 0x100000000 + data.readUInt32BE(offset + 6);
    headerLength = 10;
  }
  let maskKey: Buffer | undefined;
  if (masked) {
    if (available < headerLength + 4) return undefined;
    maskKey = data.subarray(offset + headerLength, offset + headerLength + 4);
    headerLength += 4;
  }
  return {
    fin: (b0 & 0x80) !== 0,
    rsv1: (b0 & 0x40) !== 0,
    rsv2: (b0 & 0x20) !== 0,
    rsv3: (b0 & 0x10) !== 0,
    opcode: b0 & 0x0f,
    masked,
    payloadLength,
    maskKey,
    headerLength,
  };
}

/** Validates the high 32 bits of a 64-bit length; undefined when acceptable. */
export function checkLength64(hi: number): WsError | undefined {
  if (hi & 0x80000000) {
    return new WsError('WS_BAD_LENGTH', CloseCode.PROTOCOL_ERROR, '64-bit payload length with the most significant bit set');
  }
  if (hi > 0x1fffff) {
    return new WsError('WS_FRAME_TOO_LARGE', CloseCode.MESSAGE_TOO_BIG, 'Payload length beyond 2^53 - 1');
  }
  return undefined;
}
