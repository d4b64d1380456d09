import { StelarError } from '@stelar/core/client';
import { BINARY } from './features';

/**
 * The part of the Stelar codec a browser client needs (docs/protocol.md §1–3), written for size:
 * `@stelar/codec-tcp` is the reference, and test/wire.test.ts checks this file against it
 * (same bytes out, same frames or the same error code in).
 *
 * Frames are built complete with their 4-byte totalLen (as codec-tcp and core's `Link.send`
 * have them, and as the offline queue counts them); a WebSocket sends them from offset 4.
 */

/** A decoded frame: type byte, event name, payload. */
export type Frame = [type: number, event: string, payload: Uint8Array];

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

export const encoder = new TextEncoder();
/** UTF-8 (the default label), strict, a BOM kept as a character. */
const decoder = new TextDecoder(undefined, { fatal: true, ignoreBOM: true });

/** Types whose event field must be a name (bit per type byte), and those where it must be empty. */
const NAMED = (1 << T.JSON) | (1 << T.BINARY) | (1 << T.ACK_REQ) | (1 << T.JOIN) | (1 << T.LEAVE);
const UNNAMED = (1 << T.PING) | (1 << T.PONG) | (1 << T.CONNECT) | (1 << T.DISCONNECT);

export const E = (code: string, message: string): StelarError => new StelarError(code, message);
export const fail = (code: string, message: string): never => {
  throw E(code, message);
};
/** Runs `fn`: [its result, 1] or [what it threw, 0]. */
export const attempt = <T>(fn: () => T): [T, 1] | [unknown, 0] => {
  try {
    return [fn(), 1];
  } catch (e) {
    return [e, 0];
  }
};

/** The message of a frame above a size limit (received, or refused before sending). */
export const tooLarge = (size: number, max: number, whose = 'the'): never => fail('FRAME_TOO_LARGE', `frame of ${size} bytes exceeds ${whose} limit of ${max}`);

/**
 * A binary value of JSON data (docs/protocol.md §3): an ArrayBuffer view (typed array, DataView),
 * an ArrayBuffer or a SharedArrayBuffer (a page has that constructor only when cross-origin isolated).
 */
const isBin = (v: unknown): v is ArrayBufferView | ArrayBuffer => ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof (globalThis.SharedArrayBuffer || ArrayBuffer);

/** An object whose only key is "$bin": a placeholder (docs/protocol.md §3). */
const isPlaceholder = (v: unknown): v is { $bin: unknown } => typeof v == 'object' && !!v && Object.keys(v).join() == '$bin';

/**
 * The walk before `JSON.stringify` (codec-tcp's `mayHoldBinary`): false when `v` certainly holds no
 * binary value that JSON.stringify would reach; true when it does or may: a binary value, an
 * object with a `toJSON` other than Date's (its result is unknown until it runs), or nesting
 * deeper than 32 levels (JSON.stringify then decides, and reports a cycle).
 */
const holds = (v: unknown, depth = 0): boolean =>
  typeof v == 'object' &&
  !!v &&
  (depth > 32 || isBin(v) || (typeof (v as { toJSON?: unknown }).toJSON == 'function' && !(v instanceof Date)) || Object.values(v).some((x) => holds(x, depth + 1)));

/**
 * The attachment form of data that holds (or may hold: `holds`) binary values, as codec-tcp's
 * encoders give it (docs/protocol.md §3): 0x00, then the JSON with each binary value replaced by
 * `{"$bin": n}` and each value's bytes, each of these after its u32 length. Data that holds
 * none after all is plain JSON.
 */
const attach = (data: unknown): Uint8Array => {
  const parts: Uint8Array[] = [];
  const text = JSON.stringify(data, function (this: Record<string, unknown>, key: string, v: unknown): unknown {
    // `v` went through toJSON (a Buffer polyfill's gives {type, data}); the holder still has the value itself.
    const b = [this[key], v].find(isBin);
    // An ArrayBuffer has no `buffer`, and its bytes are all of it.
    if (b) return { $bin: parts.push(new Uint8Array((b as ArrayBufferView).buffer || b, (b as ArrayBufferView).byteOffset, b.byteLength)) - 1 };
    if (isPlaceholder(v)) throw new TypeError('an object whose only key is "$bin" cannot be sent with binary values');
    return v;
  });
  const head = encoder.encode(text);
  if (!parts.length) return head;
  parts.unshift(head);
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 1)); // out[0]: the mark 0x00
  parts.reduce((at, p) => (out.set(u32be(p.length), at), out.set(p, at + 4), at + 4 + p.length), 1);
  return out;
};

/**
 * The JSON payload of a value: UTF-8 JSON; `undefined` (or what JSON drops, like a function) is
 * empty: no data (`JSON.stringify` gives `undefined`, which `encode` takes as its default, '').
 * With BINARY (src/features.ts), data holding binary values takes the attachment form (`attach`).
 * Without BINARY (stelar.min.js) a binary value in data is refused (`refuse`).
 * @throws TypeError for an object whose only key is "$bin" in data that holds binary values (the
 *   receiver could not tell it from a placeholder), for a binary value without BINARY; and what
 *   JSON.stringify throws (cycles, BigInt)
 */
export const json = (data: unknown): Uint8Array => (BINARY && holds(data) ? attach(data) : encoder.encode(BINARY ? JSON.stringify(data) : JSON.stringify(data, refuse)));

/**
 * Without BINARY (stelar.min.js): a binary value in data is refused, never garbled by
 * JSON.stringify (a typed array as an object of its indices, an ArrayBuffer as {}). A
 * SharedArrayBuffer itself is not checked (README, Binary data: it would cost bytes the file has not).
 */
const refuse = (_: string, v: unknown): unknown => {
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) throw new TypeError('binary data needs stelar.full.min.js');
  return v;
};

/** A u32 as its 4 big-endian bytes (a typed array keeps the low 8 bits of each). */
export const u32be = (n: number): number[] => [n >>> 24, n >> 16, n >> 8, n];

/**
 * One frame: header, event, then `pre` (a request id, and a status: bytes) and `body`.
 * @throws StelarError BAD_EVENT / BAD_EVENT_LENGTH for a name the peer would refuse
 */
export const frame = (type: number, event: string, body: ArrayLike<number> = [], pre: Iterable<number> = []): Uint8Array => {
  const ev = encoder.encode(event);
  const n = ev.length;
  // Not a string, or one with a lone surrogate (which `encode` replaced with U+FFFD): not what decodes back.
  if (decoder.decode(ev) !== event || (!n && (NAMED >> type) & 1)) fail('BAD_EVENT', `bad event name "${event}"`);
  if (n > 255) fail('BAD_EVENT_LENGTH', `event name of ${n} bytes`);
  // totalLen (set below), type, eventLen (n < 256), event, then `pre` and the body.
  const head = [0, 0, 0, 0, type, 0, n, ...ev, ...pre];
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(u32be(out.length));
  out.set(body, head.length);
  return out;
};

/** The u32 a payload starts with (a request id). */
export const u32 = (b: Uint8Array): number => ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;

/**
 * A payload in the attachment form (first byte 0x00, docs/protocol.md §3): the JSON with each
 * placeholder replaced by its attachment, a `Uint8Array` view of `b` (no copy). Throws on any
 * fault of the form (`parse` makes it BAD_JSON): fewer than 5 bytes, an empty JSON, a length past
 * the end, no attachment, a placeholder that names none.
 */
const unpack = (b: Uint8Array): unknown => {
  /** The JSON, then the attachments: each after its u32 length. */
  const parts: Uint8Array[] = [];
  for (let at = 1, n = 0; at < b.length; parts.push(b.subarray(at, (at += n)))) {
    n = u32(b.subarray(at));
    // A length cut short reads less than 4 bytes, and then at + 4 is already past the end.
    if ((at += 4) + n > b.length) throw 0;
  }
  const [text, ...att] = parts;
  if (!text?.length || !att.length) throw 0;
  return JSON.parse(decoder.decode(text), (_, v: unknown) => (isPlaceholder(v) ? (Number.isInteger(v.$bin) && att[v.$bin as number]) || fail('BAD_JSON', '') : v)) as unknown;
};

/**
 * Parses a JSON payload; empty gives `undefined`. With BINARY (src/features.ts) a payload in the
 * attachment form gives its binary values as `Uint8Array`s; without it such a payload is
 * BAD_JSON (a JSON text never starts with the byte 0x00), never garbled data.
 * @throws StelarError BAD_JSON
 */
export const parse = (bytes: Uint8Array): unknown => {
  try {
    return bytes.length ? (BINARY && !bytes[0] ? unpack(bytes) : (JSON.parse(decoder.decode(bytes)) as unknown)) : undefined;
  } catch {
    return fail('BAD_JSON', 'invalid JSON');
  }
};

/**
 * The JSON object of a payload with `key` of type `kind`, else BAD_PAYLOAD (a malformed CONNECT,
 * DISCONNECT or error body). An array never passes: it has no such key.
 */
export function obj(bytes: Uint8Array, key: string, kind: string): Record<string, unknown> {
  const v = parse(bytes) as Record<string, unknown> | null;
  return typeof v?.[key] == kind ? v! : fail('BAD_PAYLOAD', `no ${key}`);
}

/** An ERROR frame's or ACK_RES error's `{code, message}` as a StelarError. */
export function errorOf(bytes: Uint8Array): StelarError {
  const v = obj(bytes, 'code', 'string');
  return E(v['code'] as string, typeof v['message'] == 'string' ? v['message'] : '');
}

/**
 * Decodes one WebSocket message: a frame without its 4-byte totalLen. The checks run in the
 * order of `@stelar/codec-tcp`'s `decodeMessage`, so a bad frame gets the same error code.
 * @throws StelarError with the codes of docs/protocol.md §1
 */
export const decode = (b: Uint8Array, max: number): Frame => {
  const total = b.length + 4;
  const type = b[0]!;
  const n = (b[1]! << 8) | b[2]!;
  const payload = b.subarray(3 + n);
  const p = payload.length;
  /** The event name: strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), else [error, 0]. */
  let event!: [string, 1] | [unknown, 0]; // decoded before it is read (a check failed otherwise)
  const code =
    total < 7 ? 'FRAME_TOO_SHORT'
    : total > max ? tooLarge(total, max)
    : !(type > 0 && type < 12) ? 'BAD_TYPE'
    : b[1]! || 3 + n > b.length ? 'BAD_EVENT_LENGTH' // over 255: a high byte that is not 0
    : !(event = attempt(() => decoder.decode(b.subarray(3, 3 + n))))[1] ? 'BAD_UTF8'
    : ((event[0] ? UNNAMED : NAMED) >> type) & 1 ? 'BAD_EVENT'
    : (type == T.ACK_REQ && p < 4) ||
        (type == T.ACK_RES && (p < 5 || payload[4]! > 1)) ||
        (type > 2 && type < 5 && p > 125) || // PING, PONG
        (type > 8 && type < 11 && p && p != 4) // JOIN, LEAVE
      ? 'BAD_PAYLOAD'
      : '';
  // The message is the code: src/client.ts tells decode's errors from a frame's that way.
  if (code) fail(code, code);
  return [type, event[0] as string, payload];
};
