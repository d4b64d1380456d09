import { ATTACHMENT_MARK, decodeWithAttachments } from './attachments';
import { AckStatus, ErrorCode } from './constants';
import type { ClientHello, ServerHello } from './encode';
import { FrameError } from './errors';
import { parseRecover } from './recovery';
import { utf8Decode } from './utf8';

function u32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) >>> 0) + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
}

/**
 * Parses a JSON payload. Empty means "no data" and gives `undefined`. A payload in the
 * attachment form (first byte 0x00, docs/protocol.md §3) gives its binary values back as
 * `Uint8Array` views of `bytes`.
 * @throws FrameError BAD_JSON on invalid UTF-8 or JSON, or a malformed attachment form
 */
export function decodeJson(bytes: Uint8Array): unknown {
  if (bytes.length === 0) return undefined;
  if (bytes[0] === ATTACHMENT_MARK) return decodeWithAttachments(bytes);
  let text: string;
  try {
    text = utf8Decode(bytes);
  } catch {
    throw new FrameError(ErrorCode.BAD_JSON, 'JSON payload is not valid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new FrameError(ErrorCode.BAD_JSON, 'payload is not valid JSON');
  }
}

/** An ACK_REQ payload: the request id and a view of the JSON data. */
export interface AckRequestPayload {
  id: number;
  data: Uint8Array;
}
/** Splits an ACK_REQ payload (already length-checked by the decoder). */
export function parseAckRequest(payload: Uint8Array): AckRequestPayload {
  if (payload.length < 4) throw new FrameError(ErrorCode.BAD_PAYLOAD, 'ACK_REQ needs a 4-byte request id');
  return { id: u32(payload, 0), data: payload.subarray(4) };
}

/** An ACK_RES payload: id, whether it succeeded, and a view of the JSON body. */
export interface AckResponsePayload {
  id: number;
  ok: boolean;
  body: Uint8Array;
}
/** Splits an ACK_RES payload. */
export function parseAckResponse(payload: Uint8Array): AckResponsePayload {
  if (payload.length < 5) throw new FrameError(ErrorCode.BAD_PAYLOAD, 'ACK_RES needs a request id and a status');
  const status = payload[4];
  if (status !== AckStatus.OK && status !== AckStatus.ERROR) throw new FrameError(ErrorCode.BAD_PAYLOAD, `unknown ACK status ${status}`);
  return { id: u32(payload, 0), ok: status === AckStatus.OK, body: payload.subarray(5) };
}

/** The optional request id of a JOIN/LEAVE payload. */
export function parseRoomRequestId(payload: Uint8Array): number | undefined {
  if (payload.length === 0) return undefined;
  if (payload.length !== 4) throw new FrameError(ErrorCode.BAD_PAYLOAD, 'JOIN/LEAVE payload is empty or a 4-byte request id');
  return u32(payload, 0);
}

/** `{code, message}` of an ERROR frame or an ACK_RES error body. */
export interface ErrorBody {
  code: string;
  message: string;
}
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
/** Parses an error body; a malformed one becomes BAD_PAYLOAD. */
export function parseErrorBody(bytes: Uint8Array): ErrorBody {
  const v = decodeJson(bytes);
  if (!isObject(v) || typeof v['code'] !== 'string') throw new FrameError(ErrorCode.BAD_PAYLOAD, 'error body must be {code, message}');
  return { code: v['code'], message: typeof v['message'] === 'string' ? v['message'] : '' };
}

/** Parses a client's CONNECT payload. */
export function parseClientHello(payload: Uint8Array): ClientHello {
  const v = decodeJson(payload);
  if (!isObject(v) || typeof v['v'] !== 'number') throw new FrameError(ErrorCode.BAD_PAYLOAD, 'CONNECT must be a JSON object with a numeric "v"');
  const hello: ClientHello = 'auth' in v ? { v: v['v'], auth: v['auth'] } : { v: v['v'] };
  if (v['recover'] !== undefined) hello.recover = parseRecover(v['recover']);
  return hello;
}

/** Parses a server's CONNECT payload. */
export function parseServerHello(payload: Uint8Array): ServerHello {
  const v = decodeJson(payload);
  if (!isObject(v) || typeof v['v'] !== 'number' || typeof v['id'] !== 'string') {
    throw new FrameError(ErrorCode.BAD_PAYLOAD, 'server CONNECT must carry "v" and "id"');
  }
  return {
    ...v,
    v: v['v'],
    id: v['id'],
    heartbeat: typeof v['heartbeat'] === 'number' ? v['heartbeat'] : 0,
    maxFrame: typeof v['maxFrame'] === 'number' ? v['maxFrame'] : 0,
  };
}

/** `{code, reason}` of a DISCONNECT frame. */
export interface DisconnectBody {
  code: number;
  reason: string;
}
/** Parses a DISCONNECT payload; empty gives undefined. */
export function parseDisconnect(payload: Uint8Array): DisconnectBody | undefined {
  if (payload.length === 0) return undefined;
  const v = decodeJson(payload);
  if (!isObject(v) || typeof v['code'] !== 'number') throw new FrameError(ErrorCode.BAD_PAYLOAD, 'DISCONNECT body must be {code, reason}');
  return { code: v['code'], reason: typeof v['reason'] === 'string' ? v['reason'] : '' };
}
