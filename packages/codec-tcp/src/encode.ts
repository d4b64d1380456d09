import {
  AckStatus,
  ErrorCode,
  FrameType,
  HEADER_SIZE,
  MAX_EVENT_LENGTH,
  MAX_FRAME_SIZE_LIMIT,
  MAX_PING_PAYLOAD,
  PROTOCOL_VERSION,
} from './constants';
import { encodeWithAttachments, mayHoldBinary } from './attachments';
import { FrameError } from './errors';
import { recoverJson, type ClientRecover } from './recovery';
import { checkBody, isFrameType } from './rules';
import { encodeToScratch, isWellFormed, utf8Encode } from './utf8';

const EMPTY = new Uint8Array(0);

/* Event names repeat endlessly on a hot path; keep their UTF-8 bytes (bounded). The cached
   arrays never leave this module: frames get a copy of them, `encodeEventName` callers too. */
const NAME_CACHE_MAX = 512;
const nameCache = new Map<string, Uint8Array>();

/** Requires an event field to be empty, or a non-empty name, as its frame type says. */
function eventRequired(type: FrameType): boolean {
  return (
    type === FrameType.JSON ||
    type === FrameType.BINARY ||
    type === FrameType.ACK_REQ ||
    type === FrameType.JOIN ||
    type === FrameType.LEAVE
  );
}
function eventForbidden(type: FrameType): boolean {
  return (
    type === FrameType.PING ||
    type === FrameType.PONG ||
    type === FrameType.CONNECT ||
    type === FrameType.DISCONNECT
  );
}

/** UTF-8 bytes of a name, validated, from the cache (callers must not modify the result). */
function eventBytes(name: string): Uint8Array {
  const cached = nameCache.get(name);
  if (cached) return cached;
  if (typeof name !== 'string') throw new FrameError(ErrorCode.BAD_EVENT, 'event name must be a string');
  // Every UTF-16 unit is at least one UTF-8 byte: refuse a long string before encoding it.
  if (name.length > MAX_EVENT_LENGTH) {
    throw new FrameError(ErrorCode.BAD_EVENT_LENGTH, `event name is over ${MAX_EVENT_LENGTH} bytes; the limit is ${MAX_EVENT_LENGTH}`);
  }
  if (!isWellFormed(name)) throw new FrameError(ErrorCode.BAD_EVENT, 'event name has a lone surrogate');
  const bytes = utf8Encode(name);
  if (bytes.length > MAX_EVENT_LENGTH) {
    throw new FrameError(ErrorCode.BAD_EVENT_LENGTH, `event name is ${bytes.length} bytes; the limit is ${MAX_EVENT_LENGTH}`);
  }
  if (nameCache.size >= NAME_CACHE_MAX) nameCache.clear();
  nameCache.set(name, bytes);
  return bytes;
}

/**
 * Validates an event or room name and returns its UTF-8 bytes (a fresh array). The empty name
 * gives an empty array; whether a frame type accepts it is checked by the encoders.
 * @throws FrameError BAD_EVENT (not a string, lone surrogate) / BAD_EVENT_LENGTH (over 255 bytes)
 */
export function encodeEventName(name: string): Uint8Array {
  return eventBytes(name).slice();
}

/* Small frames are carved from a shared slab (like Node's Buffer pool): one allocation and one
   zero-fill per slab instead of per frame. A frame kept alive keeps its slab alive, so only small
   frames use it and the slab stays small. Frames may therefore share an ArrayBuffer: use the
   Uint8Array, never `frame.buffer` as a whole. */
const SLAB_SIZE = 16 * 1024;
const SLAB_MAX_FRAME = 2 * 1024;
let slab = new Uint8Array(0);
let slabUsed = 0;

/** A frame's bytes: small ones carved from the shared slab (internal to the codec). */
export function allocFrame(size: number): Uint8Array {
  if (size > SLAB_MAX_FRAME) return new Uint8Array(size);
  if (slabUsed + size > slab.length) {
    slab = new Uint8Array(SLAB_SIZE);
    slabUsed = 0;
  }
  // A view made directly on the slab's buffer: cheaper than `subarray` (no species lookup).
  const frame = new Uint8Array(slab.buffer, slabUsed, size);
  slabUsed += (size + 7) & ~7; // keep frames 8-byte aligned
  return frame;
}

function putU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/**
 * Lays out one frame: header, event, then the optional u32 request `id` and u8 `status` (ACK
 * layouts), then the body.
 */
function layout(type: FrameType, event: string, body: Uint8Array, id = -1, status = -1): Uint8Array {
  const ev = event === '' ? EMPTY : eventBytes(event);
  if (ev.length === 0 && eventRequired(type)) throw new FrameError(ErrorCode.BAD_EVENT, 'this frame type needs a non-empty event name');
  if (ev.length > 0 && eventForbidden(type)) throw new FrameError(ErrorCode.BAD_EVENT, 'this frame type carries no event name');
  const headLen = (id >= 0 ? 4 : 0) + (status >= 0 ? 1 : 0);
  const total = HEADER_SIZE + ev.length + headLen + body.length;
  if (total > MAX_FRAME_SIZE_LIMIT) throw new FrameError(ErrorCode.FRAME_TOO_LARGE, `frame of ${total} bytes exceeds the u32 length field`);
  const frame = allocFrame(total);
  putU32(frame, 0, total);
  frame[4] = type;
  frame[5] = ev.length >>> 8;
  frame[6] = ev.length & 0xff;
  if (ev.length > 16) frame.set(ev, HEADER_SIZE);
  else for (let i = 0; i < ev.length; i++) frame[HEADER_SIZE + i] = ev[i]!;
  let at = HEADER_SIZE + ev.length;
  if (id >= 0) {
    putU32(frame, at, id);
    at += 4;
  }
  if (status >= 0) frame[at++] = status;
  if (body.length > 0) frame.set(body, at);
  return frame;
}

/**
 * Encodes a complete frame (with its 4-byte totalLen; a WebSocket transport sends
 * `frame.subarray(4)`). The payload is copied once into the frame. The frame is checked
 * against the same rules as the decoders apply (event field and payload layout by type), so
 * it never emits what a peer would refuse.
 * @throws FrameError BAD_TYPE / BAD_EVENT / BAD_EVENT_LENGTH / BAD_PAYLOAD / FRAME_TOO_LARGE
 */
export function encodeFrame(type: FrameType, event: string, payload: Uint8Array = EMPTY): Uint8Array {
  if (!isFrameType(type)) throw new FrameError(ErrorCode.BAD_TYPE, `unknown frame type ${String(type)}`);
  checkBody(type, event, payload);
  return layout(type, event, payload);
}

/**
 * UTF-8 JSON of a value, in a shared scratch buffer (copy before the next call). `undefined`
 * (and anything JSON.stringify drops, like functions) encodes as empty: "no data". Data holding
 * binary values takes the attachment form (attachments.ts; a fresh array, not the scratch).
 */
function jsonScratch(data: unknown): Uint8Array {
  if (data === undefined) return EMPTY;
  let text: string | undefined;
  if (typeof data === 'object' && data !== null && mayHoldBinary(data)) {
    const out = encodeWithAttachments(data);
    if (typeof out !== 'string') return out ?? EMPTY;
    text = out;
  } else text = JSON.stringify(data) as string | undefined;
  return text === undefined ? EMPTY : encodeToScratch(text);
}

/** JSON (0x01) frame. Throws what JSON.stringify throws for values it cannot encode. */
export function encodeJson(event: string, data?: unknown): Uint8Array {
  return layout(FrameType.JSON, event, jsonScratch(data));
}

/** BINARY (0x02) frame. */
export function encodeBinary(event: string, bytes: Uint8Array): Uint8Array {
  return layout(FrameType.BINARY, event, bytes);
}

function pingLike(type: FrameType, bytes: Uint8Array): Uint8Array {
  if (bytes.length > MAX_PING_PAYLOAD) throw new FrameError(ErrorCode.BAD_PAYLOAD, `ping payload above ${MAX_PING_PAYLOAD} bytes`);
  return layout(type, '', bytes);
}
/** PING (0x03) frame with optional opaque bytes (≤ 125). */
export function encodePing(bytes: Uint8Array = EMPTY): Uint8Array {
  return pingLike(FrameType.PING, bytes);
}
/** PONG (0x04) frame echoing a PING's bytes. */
export function encodePong(bytes: Uint8Array = EMPTY): Uint8Array {
  return pingLike(FrameType.PONG, bytes);
}

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > 0xffff_ffff) throw new FrameError(ErrorCode.BAD_PAYLOAD, `request id must be a u32, got ${id}`);
}

/** ACK_REQ (0x05): a request `id` for `event` with JSON data. */
export function encodeAckRequest(id: number, event: string, data?: unknown): Uint8Array {
  checkId(id);
  return layout(FrameType.ACK_REQ, event, jsonScratch(data), id);
}

/**
 * The JSON payload of `data` as a fresh array (plain JSON, or the attachment form when it holds
 * binary values), to encode data once for many frames (`encodeAckRequestPayload`).
 */
export function encodeJsonPayload(data?: unknown): Uint8Array {
  return jsonScratch(data).slice();
}

/** ACK_REQ (0x05) whose data is already a JSON payload (from `encodeJsonPayload`); copied into the frame. */
export function encodeAckRequestPayload(id: number, event: string, payload: Uint8Array): Uint8Array {
  checkId(id);
  return layout(FrameType.ACK_REQ, event, payload, id);
}

/** ACK_RES (0x06) answering request `id` with a result. */
export function encodeAckResult(id: number, event: string, result?: unknown): Uint8Array {
  checkId(id);
  return layout(FrameType.ACK_RES, event, jsonScratch(result), id, AckStatus.OK);
}

/** ACK_RES (0x06) answering request `id` with an error `{code, message}`. */
export function encodeAckError(id: number, event: string, code: string, message: string): Uint8Array {
  checkId(id);
  return layout(FrameType.ACK_RES, event, jsonScratch({ code, message }), id, AckStatus.ERROR);
}

/** Fields of the client's CONNECT. */
export interface ClientHello {
  v: number;
  auth?: unknown;
  /** Connection-state recovery: present when the client opts in (docs/protocol.md §8). */
  recover?: ClientRecover;
}
/** Fields of the server's CONNECT. */
export interface ServerHello {
  v: number;
  id: string;
  heartbeat: number;
  maxFrame: number;
  [extra: string]: unknown;
}

/**
 * CONNECT (0x07), client → server: protocol version, optional credentials, and optionally the
 * opt-in to connection-state recovery (`{}`) or the session to resume (`{ token, offset }`).
 */
export function encodeClientConnect(auth?: unknown, recover?: ClientRecover): Uint8Array {
  const hello: Record<string, unknown> = auth === undefined ? { v: PROTOCOL_VERSION } : { v: PROTOCOL_VERSION, auth };
  if (recover !== undefined) hello['recover'] = recoverJson(recover);
  return layout(FrameType.CONNECT, '', jsonScratch(hello));
}

/** CONNECT (0x07), server → client: the accepted session. */
export function encodeServerConnect(hello: ServerHello): Uint8Array {
  return layout(FrameType.CONNECT, '', jsonScratch(hello));
}

/** DISCONNECT (0x08) with a close code and reason. */
export function encodeDisconnect(code: number, reason = ''): Uint8Array {
  return layout(FrameType.DISCONNECT, '', jsonScratch({ code, reason }));
}

function roomFrame(type: FrameType, room: string, requestId?: number): Uint8Array {
  if (requestId === undefined) return layout(type, room, EMPTY);
  checkId(requestId);
  return layout(type, room, EMPTY, requestId);
}
/** JOIN (0x09) a room; with a request id the server answers with ACK_RES. */
export function encodeJoin(room: string, requestId?: number): Uint8Array {
  return roomFrame(FrameType.JOIN, room, requestId);
}
/** LEAVE (0x0A) a room; with a request id the server answers with ACK_RES. */
export function encodeLeave(room: string, requestId?: number): Uint8Array {
  return roomFrame(FrameType.LEAVE, room, requestId);
}

/** ERROR (0x0B) `{code, message}`, optionally about an event. */
export function encodeError(code: string, message: string, event = ''): Uint8Array {
  return layout(FrameType.ERROR, event, jsonScratch({ code, message }));
}
