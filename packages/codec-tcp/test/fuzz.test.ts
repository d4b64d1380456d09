import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  FrameDecoder,
  FrameError,
  FrameType,
  decodeFrame,
  decodeJson,
  decodeMessage,
  encodeAckError,
  encodeAckRequest,
  encodeAckResult,
  encodeBinary,
  encodeClientConnect,
  encodeDisconnect,
  encodeError,
  encodeFrame,
  encodeJoin,
  encodeJson,
  encodeLeave,
  encodePing,
  encodePong,
  encodeServerConnect,
  parseAckRequest,
  parseAckResponse,
  parseClientHello,
  parseDisconnect,
  parseErrorBody,
  parseRoomRequestId,
  parseServerHello,
  type Frame,
} from '../src/index';
import { concat, plain, toHex, utf8, type PlainFrame } from './helpers';

// Budgets: each property runs well under 3 s on a slow machine. A failing property stops
// shrinking after 15 s (still a failure), so a regression cannot stall the suite.
const RUNS = 300;
fc.configureGlobal({ interruptAfterTimeLimit: 15_000, markInterruptAsFailure: true });

// ---- Arbitraries ----------------------------------------------------------------------------

/** Any well-formed name of 1..255 UTF-8 bytes, short ones more often. */
const nameArb: fc.Arbitrary<string> = fc
  .oneof(
    { arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 16 }), weight: 3 },
    { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 16 }), weight: 3 },
    { arbitrary: fc.string({ unit: 'binary', minLength: 60, maxLength: 255, size: 'max' }), weight: 1 },
    { arbitrary: fc.integer({ min: 250, max: 255 }).map((n) => 'n'.repeat(n)), weight: 1 },
  )
  .filter((s) => utf8(s).length <= 255);

/** Random bytes, or ASCII text half the time (so a corrupted eventLen can still read valid UTF-8). */
const bytesArb = (maxLength: number, minLength = 0): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    fc.uint8Array({ minLength, maxLength, size: 'max' }),
    fc.string({ unit: 'grapheme-ascii', minLength, maxLength, size: 'max' }).map((s) => utf8(s)),
  );
const idArb = fc.integer({ min: 0, max: 0xffff_ffff });

interface RawFrame {
  type: FrameType;
  event: string;
  payload: Uint8Array;
}

/** Any frame the protocol allows, of every type. */
const frameArb: fc.Arbitrary<RawFrame> = fc.oneof(
  fc.record({ type: fc.constantFrom(FrameType.JSON, FrameType.BINARY), event: nameArb, payload: bytesArb(300) }),
  fc.record({ type: fc.constantFrom(FrameType.PING, FrameType.PONG), event: fc.constant(''), payload: bytesArb(125) }),
  fc.record({ type: fc.constant(FrameType.ACK_REQ), event: nameArb, payload: bytesArb(200, 4) }),
  fc.record({
    type: fc.constant(FrameType.ACK_RES),
    event: fc.oneof(fc.constant(''), nameArb),
    payload: fc.tuple(bytesArb(4, 4), fc.constantFrom(0, 1), bytesArb(200)).map(([id, s, body]) => concat(id, new Uint8Array([s]), body)),
  }),
  fc.record({ type: fc.constantFrom(FrameType.CONNECT, FrameType.DISCONNECT), event: fc.constant(''), payload: bytesArb(200) }),
  fc.record({ type: fc.constantFrom(FrameType.JOIN, FrameType.LEAVE), event: nameArb, payload: fc.oneof(bytesArb(0), bytesArb(4, 4)) }),
  fc.record({ type: fc.constant(FrameType.ERROR), event: fc.oneof(fc.constant(''), nameArb), payload: bytesArb(200) }),
);

const plainOf = (f: RawFrame): PlainFrame => ({ type: f.type, event: f.event, payload: toHex(f.payload) });

/** Sorted cut points inside a stream of length n. */
function cutsFor(n: number, raw: number[]): number[] {
  return [...new Set(raw.map((c) => (n === 0 ? 0 : c % (n + 1))))].sort((a, b) => a - b);
}

interface Outcome {
  frames: PlainFrame[];
  error: string | null;
  buffered: number;
}

/**
 * Feeds a stream cut at `cuts`, checking the invariants at every step: only FrameError is
 * thrown; bufferedBytes stays within maxFrameSize; every delivered frame obeys the rules; after
 * an error nothing is held and the next push throws the same error.
 */
function run(stream: Uint8Array, cuts: number[], maxFrameSize: number): Outcome {
  const frames: PlainFrame[] = [];
  const d = new FrameDecoder(
    (f: Frame) => {
      // A delivered frame is valid: the strict encoder accepts it (a FrameError here must not
      // pass for the decoder's own refusal, so it becomes a plain Error).
      let again: Uint8Array;
      try {
        again = encodeFrame(f.type, f.event, f.payload);
      } catch (err) {
        throw new Error(`decoder delivered an invalid frame: ${String(err)}`);
      }
      expect(again.length).toBeLessThanOrEqual(maxFrameSize);
      frames.push(plain(f));
    },
    { maxFrameSize },
  );
  let prev = 0;
  for (const c of [...cuts, stream.length]) {
    try {
      d.push(stream.subarray(prev, c));
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      expect(d.bufferedBytes).toBe(0);
      expect(() => d.push(new Uint8Array([1]))).toThrow(err);
      return { frames, error: err.code, buffered: 0 };
    }
    expect(d.bufferedBytes).toBeLessThanOrEqual(maxFrameSize);
    prev = c;
  }
  return { frames, error: null, buffered: d.bufferedBytes };
}

// ---- Reference model ---------------------------------------------------------------------------
// A deliberately plain re-statement of docs/protocol.md §1–3, written apart from src/, as the oracle.

const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const NEEDS_EVENT = new Set<number>([FrameType.JSON, FrameType.BINARY, FrameType.ACK_REQ, FrameType.JOIN, FrameType.LEAVE]);
const NO_EVENT = new Set<number>([FrameType.PING, FrameType.PONG, FrameType.CONNECT, FrameType.DISCONNECT]);

function refPayloadOk(type: number, p: Uint8Array): boolean {
  switch (type) {
    case FrameType.ACK_REQ:
      return p.length >= 4;
    case FrameType.ACK_RES:
      return p.length >= 5 && (p[4] === 0 || p[4] === 1);
    case FrameType.PING:
    case FrameType.PONG:
      return p.length <= 125;
    case FrameType.JOIN:
    case FrameType.LEAVE:
      return p.length === 0 || p.length === 4;
    default:
      return true;
  }
}

/** The error code of a header, or null. */
function refHeader(total: number, type: number, eventLen: number, max: number): string | null {
  if (total < 7) return 'FRAME_TOO_SHORT';
  if (total > max) return 'FRAME_TOO_LARGE';
  if (type < 1 || type > 11) return 'BAD_TYPE';
  if (eventLen > 255 || 7 + eventLen > total) return 'BAD_EVENT_LENGTH';
  return null;
}

/** The frame in `body` (type byte first, all of it belongs to the frame), or its error code. */
function refBody(body: Uint8Array): PlainFrame | string {
  const type = body[0]!;
  const eventLen = (body[1]! << 8) | body[2]!;
  let event: string;
  try {
    event = fatal.decode(body.subarray(3, 3 + eventLen));
  } catch {
    return 'BAD_UTF8';
  }
  if ((NEEDS_EVENT.has(type) && event === '') || (NO_EVENT.has(type) && event !== '')) return 'BAD_EVENT';
  const payload = body.subarray(3 + eventLen);
  if (!refPayloadOk(type, payload)) return 'BAD_PAYLOAD';
  return { type, event, payload: toHex(payload) };
}

const be32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) >>> 0) + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);

/** What a stream decoder must do with `stream`. */
function reference(stream: Uint8Array, max: number): Outcome {
  const frames: PlainFrame[] = [];
  let off = 0;
  while (stream.length - off >= 7) {
    const total = be32(stream, off);
    const error = refHeader(total, stream[off + 4]!, (stream[off + 5]! << 8) | stream[off + 6]!, max);
    if (error) return { frames, error, buffered: 0 };
    if (stream.length - off < total) break;
    const f = refBody(stream.subarray(off + 4, off + total));
    if (typeof f === 'string') return { frames, error: f, buffered: 0 };
    frames.push(f);
    off += total;
  }
  return { frames, error: null, buffered: stream.length - off };
}

/** What decodeFrame / decodeMessage must do with `bytes`. */
function refDecodeFrame(bytes: Uint8Array, max: number): PlainFrame | string {
  if (bytes.length < 7) return 'FRAME_TOO_SHORT';
  const total = be32(bytes, 0);
  const error = refHeader(total, bytes[4]!, (bytes[5]! << 8) | bytes[6]!, max);
  if (error) return error;
  if (total !== bytes.length) return 'BAD_PAYLOAD';
  return refBody(bytes.subarray(4));
}
function refDecodeMessage(bytes: Uint8Array, max: number): PlainFrame | string {
  if (bytes.length < 3) return 'FRAME_TOO_SHORT';
  const error = refHeader(bytes.length + 4, bytes[0]!, (bytes[1]! << 8) | bytes[2]!, max);
  return error ?? refBody(bytes);
}

function attempt(fn: () => Frame): PlainFrame | string {
  try {
    return plain(fn());
  } catch (err) {
    if (!(err instanceof FrameError)) throw err;
    return err.code;
  }
}

/**
 * The whole check for one input: the stream decoder, fed whole, at `cuts`, and (for short
 * input) a byte at a time, agrees with the reference; so do decodeFrame and decodeMessage.
 */
function check(stream: Uint8Array, rawCuts: number[], max: number): Outcome {
  const expected = reference(stream, max);
  expect(run(stream, [], max)).toEqual(expected);
  expect(run(stream, cutsFor(stream.length, rawCuts), max)).toEqual(expected);
  if (stream.length <= 300) expect(run(stream, Array.from({ length: stream.length }, (_, i) => i), max)).toEqual(expected);
  expect(attempt(() => decodeFrame(stream, { maxFrameSize: max }))).toEqual(refDecodeFrame(stream, max));
  expect(attempt(() => decodeMessage(stream, { maxFrameSize: max }))).toEqual(refDecodeMessage(stream, max));
  return expected;
}

/** Bytes shaped like frames (plausible headers, random fields), to get past the first checks. */
const pseudoFrameArb: fc.Arbitrary<Uint8Array> = fc
  .record({
    type: fc.integer({ min: 0, max: 13 }),
    event: bytesArb(40),
    eventLenDelta: fc.constantFrom(0, 0, 0, -1, 1, 200, 300),
    payload: bytesArb(60),
    totalDelta: fc.constantFrom(0, 0, 0, -1, 1, -7, 5000),
  })
  .map(({ type, event, eventLenDelta, payload, totalDelta }) => {
    const total = 7 + event.length + payload.length;
    const out = new Uint8Array(total);
    const v = new DataView(out.buffer);
    v.setUint32(0, Math.max(0, total + totalDelta));
    out[4] = type;
    v.setUint16(5, Math.max(0, event.length + eventLenDelta));
    out.set(event, 7);
    out.set(payload, 7 + event.length);
    return out;
  });

// ---- Properties ------------------------------------------------------------------------------

describe('fuzz: arbitrary input gives frames or FrameError, never anything else', () => {
  it('random bytes, fed whole and in random chunks', () => {
    fc.assert(
      fc.property(bytesArb(600), fc.array(fc.nat(), { maxLength: 12, size: 'max' }), fc.integer({ min: 7, max: 1024 }), (bytes, rawCuts, max) => {
        check(bytes, rawCuts, max);
        check(bytes, rawCuts, 16 * 1024 * 1024);
      }),
      { numRuns: RUNS },
    );
  });

  it('random bytes under the default 16 MiB limit: nothing huge is buffered', () => {
    fc.assert(
      fc.property(bytesArb(300), (bytes) => {
        const out = run(bytes, [], 16 * 1024 * 1024);
        expect(out.buffered).toBeLessThanOrEqual(bytes.length);
      }),
      { numRuns: RUNS },
    );
  });

  it('frame-shaped random input (plausible headers, wrong fields)', () => {
    fc.assert(
      fc.property(fc.array(pseudoFrameArb, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8, size: 'max' }), (pieces, rawCuts) => {
        const stream = concat(...pieces);
        check(stream, rawCuts, 4096);
        for (const p of pieces) check(p, rawCuts, 4096);
      }),
      { numRuns: 200 },
    );
  });

  type Mutation =
    | { kind: 'flip'; at: number; bit: number }
    | { kind: 'truncate'; at: number }
    | { kind: 'length'; frame: number; value: number }
    | { kind: 'lengthDelta'; frame: number; delta: number }
    | { kind: 'eventLen'; frame: number; value: number }
    | { kind: 'splice'; at: number; remove: number; insert: Uint8Array };

  const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('length' as const), frame: fc.nat(), value: fc.oneof(fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0, max: 600 })) }),
    fc.record({ kind: fc.constant('lengthDelta' as const), frame: fc.nat(), delta: fc.integer({ min: -10, max: 10 }) }),
    fc.record({ kind: fc.constant('eventLen' as const), frame: fc.nat(), value: fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 400 })) }),
    fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), remove: fc.integer({ min: 0, max: 8 }), insert: bytesArb(8) }),
  );

  function mutate(frames: Uint8Array[], mutations: Mutation[]): Uint8Array {
    let stream = concat(...frames);
    const starts: number[] = [];
    let at = 0;
    for (const f of frames) {
      starts.push(at);
      at += f.length;
    }
    for (const m of mutations) {
      if (stream.length === 0) break;
      const v = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
      const start = starts[('frame' in m ? m.frame : 0) % starts.length]!;
      switch (m.kind) {
        case 'flip':
          stream[m.at % stream.length]! ^= 1 << m.bit;
          break;
        case 'truncate':
          stream = stream.slice(0, m.at % stream.length);
          break;
        case 'length':
          if (start + 4 <= stream.length) v.setUint32(start, m.value);
          break;
        case 'lengthDelta':
          if (start + 4 <= stream.length) v.setUint32(start, Math.max(0, v.getUint32(start) + m.delta));
          break;
        case 'eventLen':
          if (start + 7 <= stream.length) v.setUint16(start + 5, m.value);
          break;
        case 'splice': {
          const p = m.at % stream.length;
          stream = concat(stream.subarray(0, p), m.insert, stream.subarray(Math.min(stream.length, p + m.remove)));
          break;
        }
      }
    }
    return stream;
  }

  it('mutated valid streams: bit flips, truncation, length-field corruption, splices', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 6 }),
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 10, size: 'max' }),
        fc.oneof(
          fc.constantFrom(7, 64, 512, 4096, 16 * 1024 * 1024),
          // a limit right at one frame's size: one below, equal, one above
          fc.record({ frame: fc.nat(), delta: fc.constantFrom(-1, 0, 1) }),
        ),
        (raws, mutations, rawCuts, limit) => {
          const frames = raws.map((r) => encodeFrame(r.type, r.event, r.payload));
          const max = typeof limit === 'number' ? limit : Math.max(7, frames[limit.frame % frames.length]!.length + limit.delta);
          const stream = mutate(frames, mutations);
          check(stream, rawCuts, max);
          for (const f of frames) check(mutate([f], mutations), rawCuts, max);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('fuzz: length fields moved over valid text', () => {
  it('an eventLen or totalLen pointing anywhere over ASCII bytes never lets a bad frame through', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(FrameType.JSON, FrameType.BINARY, FrameType.ERROR, FrameType.ACK_RES, FrameType.JOIN),
        fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 255, size: 'max' }),
        fc.string({ unit: 'grapheme-ascii', maxLength: 600, size: 'max' }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: -300, max: 300 }),
        fc.constantFrom(64, 1024, 16 * 1024 * 1024),
        (type, name, text, eventLenRaw, totalDelta, max) => {
          const bytes = concat(utf8(name), utf8(text));
          const frame = new Uint8Array(7 + bytes.length);
          const v = new DataView(frame.buffer);
          v.setUint32(0, Math.max(0, frame.length + (totalDelta % 3 === 0 ? totalDelta : 0)));
          frame[4] = type;
          // mostly near the interesting range: around 255 and around the frame's end
          v.setUint16(5, eventLenRaw % 2 ? eventLenRaw % (bytes.length + 20) : eventLenRaw);
          check(frame, [totalDelta + 300], max);
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });
});

describe('fuzz: encode then decode is the identity', () => {
  it('encodeFrame → decodeFrame / decodeMessage / FrameDecoder, every type', () => {
    fc.assert(
      fc.property(frameArb, (r) => {
        const frame = encodeFrame(r.type, r.event, r.payload);
        expect(frame.length).toBe(7 + utf8(r.event).length + r.payload.length);
        expect(plain(decodeFrame(frame))).toEqual(plainOf(r));
        expect(plain(decodeMessage(frame.subarray(4)))).toEqual(plainOf(r));
        expect(run(frame, [], frame.length).frames).toEqual([plainOf(r)]);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  const json = fc.jsonValue({ maxDepth: 3 });
  const same = (a: unknown, b: unknown): void => expect(JSON.stringify(a)).toBe(JSON.stringify(b));

  it('the typed encoders and their parsers', () => {
    fc.assert(
      fc.property(nameArb, json, idArb, fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ maxLength: 40 }), bytesArb(125), (name, data, id, text, code, bin) => {
        const j = decodeFrame(encodeJson(name, data));
        expect(j).toMatchObject({ type: FrameType.JSON, event: name });
        same(decodeJson(j.payload), data);

        expect(toHex(decodeFrame(encodeBinary(name, bin)).payload)).toBe(toHex(bin));
        expect(toHex(decodeFrame(encodePing(bin)).payload)).toBe(toHex(bin));
        expect(toHex(decodeFrame(encodePong(bin)).payload)).toBe(toHex(bin));

        const req = parseAckRequest(decodeFrame(encodeAckRequest(id, name, data)).payload);
        expect(req.id).toBe(id);
        same(decodeJson(req.data), data);

        const res = decodeFrame(encodeAckResult(id, name, data));
        const r = parseAckResponse(res.payload);
        expect(r).toMatchObject({ id, ok: true });
        same(decodeJson(r.body), data);

        const e = parseAckResponse(decodeFrame(encodeAckError(id, '', code, text)).payload);
        expect(e).toMatchObject({ id, ok: false });
        expect(parseErrorBody(e.body)).toEqual({ code, message: text });

        expect(parseRoomRequestId(decodeFrame(encodeJoin(name, id)).payload)).toBe(id);
        expect(parseRoomRequestId(decodeFrame(encodeLeave(name)).payload)).toBeUndefined();
        expect(decodeFrame(encodeLeave(name, id)).event).toBe(name);

        const err = decodeFrame(encodeError(code, text, name));
        expect(err.event).toBe(name);
        expect(parseErrorBody(err.payload)).toEqual({ code, message: text });

        expect(parseDisconnect(decodeFrame(encodeDisconnect(4100, text)).payload)).toEqual({ code: 4100, reason: text });

        const hello = parseClientHello(decodeFrame(encodeClientConnect(data)).payload);
        expect(hello.v).toBe(1);
        if (data !== null) same(hello.auth, data);
        const sh = { v: 1, id: text, heartbeat: id, maxFrame: id };
        expect(parseServerHello(decodeFrame(encodeServerConnect(sh)).payload)).toEqual(sh);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('fuzz: chunking never changes the result', () => {
  it('a random multi-frame stream cut at random points gives the frames of the whole', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 30, size: 'max' }), (raws, rawCuts) => {
        const stream = concat(...raws.map((r) => encodeFrame(r.type, r.event, r.payload)));
        const expected = raws.map(plainOf);
        const whole = run(stream, [], 16 * 1024 * 1024);
        expect(whole).toEqual({ frames: expected, error: null, buffered: 0 });
        expect(run(stream, cutsFor(stream.length, rawCuts), 16 * 1024 * 1024)).toEqual(whole);
      }),
      { numRuns: RUNS },
    );
  });

  it('the same with large frames and big and tiny pieces mixed', () => {
    const bigArb = fc.record({
      type: fc.constant(FrameType.BINARY),
      event: nameArb,
      payload: fc.integer({ min: 0, max: 40_000 }).map((n) => new Uint8Array(n).map((_, i) => (i * 31) & 0xff)),
    });
    fc.assert(
      fc.property(fc.array(fc.oneof(frameArb, bigArb), { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 40, size: 'max' }), (raws, rawCuts) => {
        const stream = concat(...raws.map((r) => encodeFrame(r.type, r.event, r.payload)));
        const out = run(stream, cutsFor(stream.length, rawCuts), 16 * 1024 * 1024);
        expect(out).toEqual({ frames: raws.map(plainOf), error: null, buffered: 0 });
      }),
      { numRuns: 60 },
    );
  });
});
