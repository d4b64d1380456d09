/**
 * Close frame bodies (RFC 6455 §5.5.1, §7.4).
 *
 * Accepted on receive (and allowed on send): 1000–1003, 1007–1014, 3000–4999.
 * 1012–1014 (service restart, try again later, bad gateway) are IANA-registered after RFC 6455;
 * Autobahn's strict mode and browsers accept them, so we do too.
 * Rejected (protocol error 1002): below 1000, 1004 (reserved), 1005/1006/1015 (local-only,
 * must never be sent), 1015–2999 (unassigned or reserved for future RFCs), 5000 and above.
 */
import { CloseCode, WsError } from './errors';
import { isValidUtf8 } from './utf8';

/** Maximum reason length in bytes: a control payload is at most 125 bytes, 2 go to the code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/** Whether `code` may appear in a close frame (sent or received). */
export function isValidCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 1000 && code <= 1014) return code !== 1004 && code !== 1005 && code !== 1006;
  return code >= 3000 && code <= 4999;
}

/** A decoded close frame body. `code` is undefined for an empty body (1005, no status). */
export interface CloseBody {
  code: number | undefined;
  reason: string;
}

/**
 * Decodes a close frame payload. Returns a {@link WsError} (never throws) for a 1-byte body or an
 * invalid code (1002) or a reason that is not UTF-8 (1007).
 */
export function decodeCloseBody(payload: Uint8Array): CloseBody | WsError {
  if (payload.length === 0) return { code: undefined, reason: '' };
  if (payload.length === 1) {
    return new WsError('WS_BAD_CLOSE_PAYLOAD', CloseCode.PROTOCOL_ERROR, 'Close frame body of 1 byte');
  }
  if (payload.length > 125) {
    return new WsError('WS_CONTROL_TOO_LONG', CloseCode.PROTOCOL_ERROR, 'Close frame body over 125 bytes');
  }
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidCloseCode(code)) {
    return new WsError('WS_BAD_CLOSE_CODE', CloseCode.PROTOCOL_ERROR, `Invalid close code ${code}`);
  }
  const reasonBytes = payload.subarray(2);
  if (!isValidUtf8(reasonBytes)) {
    return new WsError('WS_INVALID_UTF8', CloseCode.INVALID_PAYLOAD, 'Close reason is not valid UTF-8');
  }
  return { code, reason: Buffer.from(reasonBytes.buffer, reasonBytes.byteOffset, reasonBytes.length).toString('utf8') };
}

/**
 * Cuts UTF-8 bytes to at most `max` bytes without splitting a character.
 * (Assumes `bytes` is valid UTF-8.)
 */
export function truncateUtf8(bytes: Buffer, max: number): Buffer {
  if (bytes.length <= max) return bytes;
  let end = max;
  // Back off over continuation bytes so the cut lands on a character boundary.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/**
 * Encodes a close frame body. No code → empty body (a reason then is not allowed by the RFC and is
 * ignored). The reason is truncated to 123 bytes on a character boundary.
 * Throws a {@link WsError} `WS_INVALID_ARGUMENT` for a code that may not be sent.
 */
export function encodeCloseBody(code?: number, reason?: string): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  if (!isValidCloseCode(code)) {
    throw new WsError('WS_INVALID_ARGUMENT', CloseCode.INTERNAL_ERROR, `Close code ${code} may not be sent`);
  }
  const reasonBytes = reason ? truncateUtf8(Buffer.from(reason, 'utf8'), MAX_CLOSE_REASON_BYTES) : undefined;
  const body = Buffer.allocUnsafe(2 + (reasonBytes ? reasonBytes.length : 0));
  body.writeUInt16BE(code, 0);
  if (reasonBytes) reasonBytes.copy(body, 2);
  return body;
}
