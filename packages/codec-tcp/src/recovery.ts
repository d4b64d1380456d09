import { ErrorCode, FrameType, HEADER_SIZE, MAX_FRAME_SIZE_LIMIT } from './constants';
import { allocFrame } from './encode';
import { FrameError } from './errors';

/**
 * Connection-state recovery on the wire (docs/protocol.md §8): the `recover` field of the
 * client's CONNECT, the `recovery` field of the server's answer, and the 8-byte offset that
 * starts the payload of every JSON and BINARY frame sent to a session that opted in.
 */

/** Bytes of the offset prefix. */
export const OFFSET_SIZE = 8;
/** Shortest and longest session token accepted (characters of `[A-Za-z0-9_-]`). */
export const MIN_TOKEN_LENGTH = 16;
export const MAX_TOKEN_LENGTH = 64;

/**
 * A u64 offset as two u32 halves (`hi · 2^32 + lo`): opaque to clients, monotonic in delivery
 * order on the server. All zero means "not recoverable".
 */
export interface Offset {
  readonly hi: number;
  readonly lo: number;
}

export const ZERO_OFFSET: Offset = Object.freeze({ hi: 0, lo: 0 });

/** The `recover` field of a client's CONNECT: `{}` opts in; a token and offset ask to resume. */
export interface ClientRecover {
  token?: string;
  offset?: Offset;
}

/** The `recovery` field of a server's CONNECT answer. */
export interface RecoveryAnswer {
  /** The secret to present in the next CONNECT (a new one on every answer). */
  token: string;
  /** The session was resumed (same id, rooms, data, missed messages replayed). */
  recovered: boolean;
  /** Client frames (JSON, BINARY, ACK_REQ, JOIN, LEAVE) the server has received in this session. */
  rx: number;
}

const TOKEN_CHARS = /^[A-Za-z0-9_-]+$/;
const OFFSET_HEX = /^[0-9a-f]{16}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(message: string): FrameError {
  return new FrameError(ErrorCode.BAD_PAYLOAD, message);
}

/** Whether `s` is a well-formed session token (length and alphabet). */
export function isToken(s: unknown): s is string {
  return typeof s === 'string' && s.length >= MIN_TOKEN_LENGTH && s.length <= MAX_TOKEN_LENGTH && TOKEN_CHARS.test(s);
}

/** The 16 lowercase hex digits of an offset. */
export function offsetToHex(o: Offset): string {
  return (o.hi >>> 0).toString(16).padStart(8, '0') + (o.lo >>> 0).toString(16).padStart(8, '0');
}

/**
 * Parses 16 lowercase hex digits.
 * @throws FrameError BAD_PAYLOAD for anything else
 */
export function parseOffsetHex(s: unknown): Offset {
  if (typeof s !== 'string' || !OFFSET_HEX.test(s)) throw bad('recover.offset must be 16 lowercase hex digits');
  return { hi: Number.parseInt(s.slice(0, 8), 16), lo: Number.parseInt(s.slice(8), 16) };
}

/**
 * The `recover` field of a client's CONNECT, checked: an object, empty or with a token (16–64
 * characters of `[A-Za-z0-9_-]`) and an offset (16 hex digits). Other fields are ignored.
 * @throws FrameError BAD_PAYLOAD
 */
export function parseRecover(v: unknown): ClientRecover {
  if (!isObject(v)) throw bad('recover must be an object');
  const token = v['token'];
  if (token === undefined) return {};
  if (!isToken(token)) throw bad(`recover.token must be ${MIN_TOKEN_LENGTH}–${MAX_TOKEN_LENGTH} characters of [A-Za-z0-9_-]`);
  return { token, offset: parseOffsetHex(v['offset']) };
}

/** The JSON value of a `recover` field. */
export function recoverJson(r: ClientRecover): Record<string, string> {
  if (r.token === undefined) return {};
  return { token: r.token, offset: offsetToHex(r.offset ?? ZERO_OFFSET) };
}

/**
 * The `recovery` field of a server's CONNECT answer (the parsed hello's extra fields), checked;
 * `undefined` when the server sent none (recovery off, or the client did not opt in).
 * @throws FrameError BAD_PAYLOAD when present but malformed
 */
export function parseRecoveryAnswer(hello: Record<string, unknown>): RecoveryAnswer | undefined {
  const v = hello['recovery'];
  if (v === undefined) return undefined;
  if (!isObject(v) || !isToken(v['token']) || typeof v['recovered'] !== 'boolean') throw bad('recovery must be {token, recovered, rx}');
  const rx = v['rx'];
  if (typeof rx !== 'number' || !Number.isSafeInteger(rx) || rx < 0) throw bad('recovery.rx must be a non-negative integer');
  return { token: v['token'], recovered: v['recovered'], rx };
}

/** True for the frame types that carry the offset prefix (JSON, BINARY), from a whole frame's type byte. */
export function carriesOffset(frame: Uint8Array): boolean {
  const t = frame[4];
  return t === FrameType.JSON || t === FrameType.BINARY;
}

/**
 * A copy of a JSON or BINARY frame (with its totalLen) whose payload starts with `offset`
 * (u64 big-endian): totalLen grows by 8, the event field is unchanged. `pooled`: carve a small
 * copy from the encoder's shared slab (for frames sent and forgotten); by default the copy has an
 * array of its own (for frames kept for a while, which must not hold a slab alive).
 * @throws FrameError FRAME_TOO_LARGE past the u32 length field
 */
export function withOffset(frame: Uint8Array, offset: Offset, pooled = false): Uint8Array {
  const total = frame.length + OFFSET_SIZE;
  if (total > MAX_FRAME_SIZE_LIMIT) throw new FrameError(ErrorCode.FRAME_TOO_LARGE, `frame of ${total} bytes exceeds the u32 length field`);
  const at = HEADER_SIZE + ((frame[5]! << 8) | frame[6]!);
  const out = pooled ? allocFrame(total) : new Uint8Array(total);
  out[0] = total >>> 24;
  out[1] = (total >>> 16) & 0xff;
  out[2] = (total >>> 8) & 0xff;
  out[3] = total & 0xff;
  out.set(frame.subarray(4, at), 4);
  const { hi, lo } = offset;
  out[at] = hi >>> 24;
  out[at + 1] = (hi >>> 16) & 0xff;
  out[at + 2] = (hi >>> 8) & 0xff;
  out[at + 3] = hi & 0xff;
  out[at + 4] = lo >>> 24;
  out[at + 5] = (lo >>> 16) & 0xff;
  out[at + 6] = (lo >>> 8) & 0xff;
  out[at + 7] = lo & 0xff;
  out.set(frame.subarray(at), at + OFFSET_SIZE);
  return out;
}

/**
 * Reads the offset that starts a payload of a session that opted in.
 * @throws FrameError BAD_PAYLOAD when the payload is shorter than 8 bytes
 */
export function readOffset(payload: Uint8Array): Offset {
  if (payload.length < OFFSET_SIZE) throw bad('a JSON or BINARY payload of a recoverable session starts with an 8-byte offset');
  const hi = ((payload[0]! << 24) >>> 0) + ((payload[1]! << 16) | (payload[2]! << 8) | payload[3]!);
  const lo = ((payload[4]! << 24) >>> 0) + ((payload[5]! << 16) | (payload[6]! << 8) | payload[7]!);
  return { hi, lo };
}

/** `a` compared with `b`: negative, 0 or positive. */
export function compareOffsets(a: Offset, b: Offset): number {
  return a.hi !== b.hi ? a.hi - b.hi : a.lo - b.lo;
}

/** Whether an offset is all zero ("not recoverable"). */
export function isZeroOffset(o: Offset): boolean {
  return o.hi === 0 && o.lo === 0;
}
