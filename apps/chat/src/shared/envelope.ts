/**
 * A file travels as one BINARY frame: `u16 metaLength`, the UTF-8 JSON meta, then the bytes.
 * Shared by the page, the server and the bot (platform-neutral: Uint8Array, DataView, TextEncoder).
 */
const MAX_META = 2048;

export function packFile(meta: object, bytes: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(JSON.stringify(meta));
  if (head.length > MAX_META) throw new RangeError('file description too long');
  const out = new Uint8Array(2 + head.length + bytes.length);
  new DataView(out.buffer).setUint16(0, head.length);
  out.set(head, 2);
  out.set(bytes, 2 + head.length);
  return out;
}

/** Splits an envelope; throws on a malformed one. `bytes` is a view, not a copy. */
export function unpackFile(envelope: Uint8Array): { meta: Record<string, unknown>; bytes: Uint8Array } {
  if (envelope.length < 2) throw new RangeError('short file envelope');
  const len = new DataView(envelope.buffer, envelope.byteOffset, envelope.byteLength).getUint16(0);
  if (len > MAX_META || 2 + len > envelope.length) throw new RangeError('bad file envelope');
  const meta: unknown = JSON.parse(new TextDecoder().decode(envelope.subarray(2, 2 + len)));
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw new RangeError('bad file description');
  return { meta: meta as Record<string, unknown>, bytes: envelope.subarray(2 + len) };
}
