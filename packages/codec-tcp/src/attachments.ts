import { ErrorCode } from './constants';
import { FrameError } from './errors';
import { utf8Decode, utf8Encode } from './utf8';

/*
 * Binary values inside JSON data (docs/protocol.md §3, "Binary values in JSON payloads").
 *
 * A JSON payload whose data holds binary values (Uint8Array, Buffer, other typed arrays,
 * DataView, ArrayBuffer, SharedArrayBuffer) is sent in the attachment form:
 *
 *   0x00  u32 jsonLen  json  then, once per binary value: u32 len  bytes
 *
 * and each binary value in the JSON is replaced by the placeholder object `{"$bin": n}`, n the
 * index of its attachment. A JSON text never starts with the byte 0x00, so one byte tells the two
 * forms apart: plain payloads are decoded exactly as before, with no search and no reviver.
 */

/** First byte of a payload in the attachment form. */
export const ATTACHMENT_MARK = 0x00;
/** The single key of a placeholder object. */
export const PLACEHOLDER_KEY = '$bin';
/** How deep `mayHoldBinary` looks before it lets the slow path decide (which also reports cycles). */
const WALK_DEPTH = 32;

const Shared: (new (n: number) => object) | undefined = typeof SharedArrayBuffer === 'function' ? SharedArrayBuffer : undefined;

/** True for the values sent as attachments. */
export function isBinaryValue(v: unknown): v is ArrayBufferView | ArrayBuffer {
  return typeof v === 'object' && v !== null && (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || (Shared !== undefined && v instanceof Shared));
}

/** The bytes of a binary value, as a view (no copy). */
function bytesOf(v: ArrayBufferView | ArrayBuffer): Uint8Array {
  if (ArrayBuffer.isView(v)) return v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return new Uint8Array(v);
}

/**
 * The encoder's pre-check, before any JSON is made: false when `v` (an object) certainly holds
 * no binary value JSON.stringify would reach, and plain JSON follows. True when it does, or may:
 * a binary value, an object with a `toJSON` other than Date's (its result is unknown until it
 * runs), or nesting deeper than 32 levels. Plain objects and arrays are looked through without
 * any allocation.
 */
export function mayHoldBinary(v: object, depth = 0): boolean {
  if (depth > WALK_DEPTH) return true;
  const c = (v as { constructor?: unknown }).constructor;
  if (c === Object) {
    for (const k in v) {
      const x = (v as Record<string, unknown>)[k];
      if (typeof x === 'object') {
        if (x !== null && mayHoldBinary(x, depth + 1)) return true;
      } else if (typeof x === 'function' && k === 'toJSON') return true;
    }
    return false;
  }
  if (c === Array) {
    const a = v as unknown[];
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      if (typeof x === 'object' && x !== null && mayHoldBinary(x, depth + 1)) return true;
    }
    return false;
  }
  if (isBinaryValue(v)) return true;
  if (v instanceof Date) return false;
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return true;
  for (const k in v) {
    const x = (v as Record<string, unknown>)[k];
    if (typeof x === 'object' && x !== null && mayHoldBinary(x, depth + 1)) return true;
  }
  return false;
}

/** True for an object whose only own key is the placeholder key. */
function looksLikePlaceholder(v: object): boolean {
  if (!Object.prototype.hasOwnProperty.call(v, PLACEHOLDER_KEY)) return false;
  for (const k in v) if (k !== PLACEHOLDER_KEY && Object.prototype.hasOwnProperty.call(v, k)) return false;
  return true;
}

/**
 * The JSON payload of `data` in the attachment form (a fresh array) when it holds binary values;
 * when it holds none after all, its plain JSON text (what JSON.stringify gives, `undefined`
 * included), for the caller to encode as usual.
 * @throws TypeError for an object of the data that looks like a placeholder (`{"$bin": …}` alone),
 *   which the receiver could not tell from one; and whatever JSON.stringify throws (cycles, BigInt)
 */
export function encodeWithAttachments(data: unknown): Uint8Array | string | undefined {
  const parts: Uint8Array[] = [];
  const text = JSON.stringify(data, function (this: Record<string, unknown>, key: string, value: unknown): unknown {
    // `value` went through toJSON (a Buffer's gives {type, data}); the holder still has the original.
    const raw = this[key];
    const bin = isBinaryValue(raw) ? raw : isBinaryValue(value) ? value : undefined;
    if (bin !== undefined) {
      parts.push(bytesOf(bin));
      return { [PLACEHOLDER_KEY]: parts.length - 1 };
    }
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && looksLikePlaceholder(value)) {
      throw new TypeError(`an object whose only key is "${PLACEHOLDER_KEY}" cannot be sent in data that holds binary values (docs/protocol.md §3)`);
    }
    return value;
  }) as string | undefined;
  if (parts.length === 0 || text === undefined) return text;
  const json = utf8Encode(text);
  let size = 5 + json.length;
  for (const p of parts) size += 4 + p.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = ATTACHMENT_MARK;
  view.setUint32(1, json.length);
  out.set(json, 5);
  let at = 5 + json.length;
  for (const p of parts) {
    view.setUint32(at, p.length);
    out.set(p, at + 4);
    at += 4 + p.length;
  }
  return out;
}

function bad(message: string): FrameError {
  return new FrameError(ErrorCode.BAD_JSON, message);
}

/**
 * Decodes a payload in the attachment form (first byte 0x00). Binary values come back as
 * `Uint8Array` views of `bytes` (never a Node Buffer, never a copy).
 * @throws FrameError BAD_JSON when the layout, the JSON or a placeholder is wrong
 */
export function decodeWithAttachments(bytes: Uint8Array): unknown {
  const len = bytes.length;
  if (len < 5) throw bad('attachment payload is shorter than its 5-byte head');
  const view = new DataView(bytes.buffer, bytes.byteOffset, len);
  const jsonLen = view.getUint32(1);
  const jsonEnd = 5 + jsonLen;
  if (jsonLen === 0 || jsonEnd > len) throw bad('attachment payload: bad JSON length');
  const parts: Uint8Array[] = [];
  let at = jsonEnd;
  while (at < len) {
    if (len - at < 4) throw bad('attachment payload: truncated attachment length');
    const n = view.getUint32(at);
    at += 4;
    if (n > len - at) throw bad('attachment payload: attachment runs past the payload end');
    parts.push(new Uint8Array(bytes.buffer, bytes.byteOffset + at, n));
    at += n;
  }
  if (parts.length === 0) throw bad('attachment payload without attachments');
  let text: string;
  try {
    text = utf8Decode(bytes, 5, jsonEnd);
  } catch {
    throw bad('JSON payload is not valid UTF-8');
  }
  let fault: string | undefined;
  let value: unknown;
  try {
    value = JSON.parse(text, (_key: string, v: unknown): unknown => {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || !looksLikePlaceholder(v)) return v;
      const i = (v as Record<string, unknown>)[PLACEHOLDER_KEY];
      const part = typeof i === 'number' && Number.isInteger(i) ? parts[i] : undefined;
      if (part === undefined) {
        fault ??= `placeholder ${JSON.stringify(i)} names no attachment (there are ${parts.length})`;
        return v;
      }
      return part;
    }) as unknown;
  } catch {
    throw bad('payload is not valid JSON');
  }
  if (fault !== undefined) throw bad(`attachment payload: ${fault}`);
  return value;
}
