import type { Frame, FrameType } from '@stelar/codec-tcp';
import { StelarError } from '@stelar/core/client';

/**
 * The part of the Stelar codec a browser client needs (docs/protocol.md §1–3), written for size:
 * `@stelar/codec-tcp` is the reference, and test/wire.test.ts checks this file against it
 * (same bytes out, same frames or the same error code in).
 *
 * Frames are built complete with their 4-byte totalLen, as core's `Link.send` takes them; the
 * WebSocket link sends them from offset 4.
 */

export type { Frame };

/** The frame type bytes (docs/protocol.md §2) the client uses. */
export const enum T {
  JSON = 1,
  BINARY = 2,
  PING = 3,
  PONG = 4,
  ACK_REQ = 5,
  ACK_RES = 6,
  CONNECT = 7,
  DISCONNECT = 8,
  JOIN = 9,
  LEAVE = 10,
  ERROR = 11,
}

export const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Types whose event field must be a name (bit per type byte), and those where it must be empty. */
const NAMED = (1 << T.JSON) | (1 << T.BINARY) | (1 << T.ACK_REQ) | (1 << T.JOIN) | (1 << T.LEAVE);
const UNNAMED = (1 << T.PING) | (1 << T.PONG) | (1 << T.CONNECT) | (1 << T.DISCONNECT);

export const fail = (code: string, message: string): never => {
  throw new StelarError(code, message);
};

/** UTF-8 JSON of a value; `undefined` (or what JSON drops, like a function) is empty: no data. */
export const json = (data: unknown): Uint8Array => (data === undefined ? EMPTY : encoder.encode(JSON.stringify(data) ?? ''));

/**
 * One frame: header, event, then the optional u32 request `id` and u8 `status`, then `body`.
 * @throws StelarError BAD_EVENT / BAD_EVENT_LENGTH for a name the peer would refuse
 */
export function frame(type: number, event: string, body: Uint8Array = EMPTY, id?: number, status?: number): Uint8Array {
  const ev = encoder.encode(event);
  const n = ev.length;
  // In a /u regex a surrogate range matches lone surrogates only: pairs are one code point.
  if (typeof event != 'string' || /[\ud800-\udfff]/u.test(event) || (!n && (NAMED >> type) & 1)) fail('BAD_EVENT', `bad event name "${event}"`);
  if (n > 255) fail('BAD_EVENT_LENGTH', `event name of ${n} bytes (limit 255)`);
  const head = id === undefined ? 0 : status === undefined ? 4 : 5;
  const total = 7 + n + head + body.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, total);
  out[4] = type;
  view.setUint16(5, n);
  out.set(ev, 7);
  if (head) view.setUint32(7 + n, id!);
  if (head > 4) out[11 + n] = status!;
  out.set(body, 7 + n + head);
  return out;
}

/** The u32 at `at`. */
export const u32 = (b: Uint8Array, at = 0): number => new DataView(b.buffer, b.byteOffset).getUint32(at);

/** Parses a JSON payload; empty gives `undefined`. @throws StelarError BAD_JSON */
export function parse(bytes: Uint8Array): unknown {
  if (!bytes.length) return undefined;
  try {
    return JSON.parse(decoder.decode(bytes)) as unknown;
  } catch {
    return fail('BAD_JSON', 'invalid JSON');
  }
}

/**
 * The JSON object of a payload with `key` of type `kind`, else BAD_PAYLOAD (a malformed CONNECT
 * or error body). An array never passes: it has no such key.
 */
export function obj(bytes: Uint8Array, key: string, kind: string): Record<string, unknown> {
  const v = parse(bytes) as Record<string, unknown> | null;
  return typeof v?.[key] == kind ? v! : fail('BAD_PAYLOAD', `no "${key}" in the body`);
}

/** An ERROR frame's or ACK_RES error's `{code, message}` as a StelarError. */
export function errorOf(bytes: Uint8Array): StelarError {
  const v = obj(bytes, 'code', 'string');
  return new StelarError(v['code'] as string, typeof v['message'] == 'string' ? v['message'] : '');
}

/** Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF); `null` when invalid. */
const utf8 = (b: Uint8Array): string | null => {
  try {
    return decoder.decode(b);
  } catch {
    return null;
  }
};

/**
 * Decodes one WebSocket message: a frame without its 4-byte totalLen. The checks run in the
 * order of `@stelar/codec-tcp`'s `decodeMessage`, so a bad frame gets the same error code.
 * @throws StelarError with the codes of docs/protocol.md §1
 */
export function decode(b: Uint8Array, max: number): Frame {
  const total = b.length + 4;
  const type = b[0]!;
  const n = (b[1]! << 8) | b[2]!;
  const payload = b.subarray(3 + n);
  const p = payload.length;
  let event: string | null = '';
  const code =
    total < 7 ? 'FRAME_TOO_SHORT'
    : total > max ? 'FRAME_TOO_LARGE'
    : !(type > 0 && type < 12) ? 'BAD_TYPE'
    : n > 255 || 3 + n > b.length ? 'BAD_EVENT_LENGTH'
    : (event = utf8(b.subarray(3, 3 + n))) === null ? 'BAD_UTF8'
    : (event ? UNNAMED >> type : NAMED >> type) & 1 ? 'BAD_EVENT'
    : (type == T.ACK_REQ && p < 4) ||
        (type == T.ACK_RES && (p < 5 || payload[4]! > 1)) ||
        ((type == T.PING || type == T.PONG) && p > 125) ||
        ((type == T.JOIN || type == T.LEAVE) && p && p != 4)
      ? 'BAD_PAYLOAD'
      : '';
  if (code) fail(code, code == 'FRAME_TOO_LARGE' ? `frame of ${total} bytes exceeds the limit of ${max}` : `invalid frame (${code})`);
  return { type: type as FrameType, event: event!, payload };
}
