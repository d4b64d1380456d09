import { decodeJson, encodeJsonPayload } from '@stelar/codec-tcp';
import type { BroadcastAnswer } from '@stelar/core/internal';

/*
 * Broadcast requests across nodes (`server.to(room).timeout(ms).request(event, data)`, issue 15
 * item 8). The asking node publishes one query (op 'b.request') with the target, the event, the
 * data already encoded as a JSON payload (base64, so binary values inside it survive the JSON
 * control envelope) and the timeout; each node sends the request to its own recipients
 * (`MemoryAdapter.requestLocal`: one timer) and answers once with one answer per recipient, each
 * reply value again as a base64 JSON payload.
 */

/** One recipient's answer on the wire: its id, then the reply payload (base64) or the error. */
export type WireAnswer = { i: string; p: string } | { i: string; c: string; m: string };

const ABC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) INDEX[ABC.charCodeAt(i)] = i;

/** Base64 (RFC 4648, padded) of bytes: this package uses no Node module. */
function toB64(bytes: Uint8Array): string {
  const parts: string[] = [];
  let s = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    s += ABC[n >>> 18]! + ABC[(n >>> 12) & 63]! + (i + 1 < bytes.length ? ABC[(n >>> 6) & 63]! : '=') + (i + 2 < bytes.length ? ABC[n & 63]! : '=');
    if (s.length >= 8192) {
      parts.push(s);
      s = '';
    }
  }
  parts.push(s);
  return parts.join('');
}

/** The bytes of a padded base64 string; throws TypeError on anything else. */
function fromB64(s: string): Uint8Array {
  if (s.length % 4 !== 0) throw new TypeError('base64 length is not a multiple of 4');
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    for (let k = 0; k < 4; k++) {
      const c = s.charCodeAt(i + k);
      const v = c === 61 && i + k >= s.length - pad ? 0 : c < 128 ? INDEX[c]! : -1;
      if (v < 0) throw new TypeError('not base64');
      n = (n << 6) | v;
    }
    out[o++] = n >>> 16;
    if (o < out.length) out[o++] = (n >>> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

export const encodePayload = toB64;
export const decodePayload = fromB64;

/** A node's answers, for its reply. A value that cannot be encoded counts as that recipient's HANDLER_ERROR. */
export function encodeAnswers(answers: readonly BroadcastAnswer[]): WireAnswer[] {
  return answers.map((a) => {
    if (!a.ok) return { i: a.id, c: a.error.code, m: a.error.message };
    try {
      return { i: a.id, p: toB64(encodeJsonPayload(a.value)) };
    } catch {
      return { i: a.id, c: 'HANDLER_ERROR', m: 'reply is not JSON-serialisable' };
    }
  });
}

/** Another node's answers (malformed entries are dropped: that node's recipients then count as unknown). */
export function decodeAnswers(value: unknown): BroadcastAnswer[] {
  if (!Array.isArray(value)) return [];
  const out: BroadcastAnswer[] = [];
  for (const w of value as unknown[]) {
    if (typeof w !== 'object' || w === null) continue;
    const o = w as Record<string, unknown>;
    const id = o['i'];
    if (typeof id !== 'string') continue;
    if (typeof o['p'] === 'string') {
      try {
        out.push({ id, ok: true, value: decodeJson(fromB64(o['p'])) });
      } catch {
        out.push({ id, ok: false, error: { code: 'BAD_JSON', message: 'a reply from another node did not decode' } });
      }
    } else if (typeof o['c'] === 'string') out.push({ id, ok: false, error: { code: o['c'], message: typeof o['m'] === 'string' ? o['m'] : '' } });
  }
  return out;
}
