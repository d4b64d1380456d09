import { expect } from 'vitest';
import { FrameDecoder, FrameError, type DecodeOptions, type Frame } from '../src/index';

/** Bytes from hex text ("00 0a ff", spaces optional). */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error(`bad hex: ${text}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Hex text of bytes, space separated. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A raw frame, built by hand (no validation), for feeding decoders what encoders refuse. */
export function raw(type: number, event: Uint8Array | string, payload: Uint8Array = new Uint8Array(0), totalLen?: number): Uint8Array {
  const ev = typeof event === 'string' ? new TextEncoder().encode(event) : event;
  const total = 7 + ev.length + payload.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, totalLen ?? total);
  out[4] = type;
  view.setUint16(5, ev.length);
  out.set(ev, 7);
  out.set(payload, 7 + ev.length);
  return out;
}

export function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A frame as plain data, with the payload copied (so it can be compared after the chunk is gone). */
export interface PlainFrame {
  type: number;
  event: string;
  /** Hex of the payload (fast to compare). */
  payload: string;
}
export function plain(f: Frame): PlainFrame {
  return { type: f.type, event: f.event, payload: toHex(f.payload) };
}

/** A decoder that records plain copies of every frame. */
export function collector(options: DecodeOptions = {}): { decoder: FrameDecoder; frames: PlainFrame[] } {
  const frames: PlainFrame[] = [];
  const decoder = new FrameDecoder((f) => frames.push(plain(f)), options);
  return { decoder, frames };
}

/** Runs `fn` and returns the FrameError it throws (failing the test if it throws anything else). */
export function frameErrorOf(fn: () => unknown): FrameError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FrameError);
    return err as FrameError;
  }
  throw new Error('expected a FrameError, nothing was thrown');
}

/** Asserts `fn` throws a FrameError with `code`. */
export function expectCode(fn: () => unknown, code: string): FrameError {
  const err = frameErrorOf(fn);
  expect(err.code).toBe(code);
  return err;
}
