import { describe, it, expect } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  FrameDecoder,
  FrameError,
  FrameType,
  encodeAckRequest,
  encodeBinary,
  encodeDisconnect,
  encodeJoin,
  encodeJson,
  encodePing,
  encodePong,
  type Frame,
} from '../src/index';
import { collector, concat, expectCode, hex, plain, raw, type PlainFrame } from './helpers';

/** A varied stream: every size class, including 7-byte frames and empty payloads. */
function sampleFrames(): Uint8Array[] {
  return [
    encodePing(), // 7 bytes
    encodeJson('chat', { t: 'hi' }),
    encodePong(), // 7 bytes
    encodeBinary('empty', new Uint8Array(0)), // zero-length payload
    encodeJoin('lobby'), // zero-length payload
    encodeJson('é€😀', 'x'.repeat(300)),
    encodeAckRequest(42, 'sum', [1, 2]),
    encodePing(new Uint8Array([1, 2, 3])),
    encodeBinary('blob', new Uint8Array(1500).map((_, i) => i & 0xff)),
    encodeDisconnect(1000, 'bye'),
    encodePing(),
  ];
}
const expectedOf = (frames: Uint8Array[]): PlainFrame[] =>
  frames.map((f) => {
    const { decoder, frames: out } = collector();
    decoder.push(f);
    return out[0]!;
  });

/** Feeds `stream` cut at the given offsets. */
function feedCut(stream: Uint8Array, cuts: number[]): { frames: PlainFrame[]; decoder: FrameDecoder } {
  const { decoder, frames } = collector();
  let prev = 0;
  for (const c of [...cuts, stream.length]) {
    decoder.push(stream.subarray(prev, c));
    prev = c;
  }
  return { frames, decoder };
}

describe('FrameDecoder: chunking', () => {
  const frames = sampleFrames();
  const stream = concat(...frames);
  const expected = expectedOf(frames);

  it('decodes many frames in one chunk', () => {
    const { frames: out, decoder } = feedCut(stream, []);
    expect(out).toEqual(expected);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('decodes one byte at a time, bufferedBytes tracking every byte', () => {
    const { decoder, frames: out } = collector();
    let frameStart = 0;
    let fi = 0;
    for (let i = 0; i < stream.length; i++) {
      decoder.push(stream.subarray(i, i + 1));
      if (i + 1 === frameStart + frames[fi]!.length) {
        frameStart += frames[fi]!.length;
        fi++;
        expect(decoder.bufferedBytes).toBe(0);
        expect(out.length).toBe(fi);
      } else {
        expect(decoder.bufferedBytes).toBe(i + 1 - frameStart);
      }
    }
    expect(out).toEqual(expected);
  });

  it('decodes with the stream cut at every single offset', () => {
    for (let c = 0; c <= stream.length; c++) expect(feedCut(stream, [c]).frames).toEqual(expected);
  });

  it('decodes with the header split at every offset (and the rest in one, two or many chunks)', () => {
    const f = encodeJson('split', { n: 1 });
    const exp = expectedOf([f, f]);
    const two = concat(f, f);
    for (let a = 1; a < 7; a++) {
      expect(feedCut(two, [a]).frames).toEqual(exp);
      for (let b = a + 1; b <= 7; b++) expect(feedCut(two, [a, b]).frames).toEqual(exp);
      // second header split too
      expect(feedCut(two, [a, f.length + a]).frames).toEqual(exp);
      expect(feedCut(two, [a, f.length - 1, f.length + a]).frames).toEqual(exp);
    }
  });

  it('handles frames ending exactly at chunk boundaries', () => {
    const bounds: number[] = [];
    let at = 0;
    for (const f of frames) {
      at += f.length;
      bounds.push(at);
    }
    expect(feedCut(stream, bounds.slice(0, -1)).frames).toEqual(expected);
    // two frames per chunk
    expect(feedCut(stream, bounds.filter((_, i) => i % 2 === 1)).frames).toEqual(expected);
    // boundary chunks that end 1 before / 1 after each frame end
    expect(feedCut(stream, bounds.slice(0, -1).map((b) => b - 1)).frames).toEqual(expected);
    expect(feedCut(stream, bounds.slice(0, -1).map((b) => b + 1)).frames).toEqual(expected);
  });

  it('decodes frames of exactly 7 bytes and zero-length payloads, alone and back to back', () => {
    const sevens = concat(encodePing(), encodePong(), encodePing(), hex('00 00 00 07  08  00 00'), hex('00 00 00 07  0b  00 00'));
    const { decoder, frames: out } = collector();
    decoder.push(sevens);
    expect(out.map((f) => f.type)).toEqual([FrameType.PING, FrameType.PONG, FrameType.PING, FrameType.DISCONNECT, FrameType.ERROR]);
    expect(out.every((f) => f.payload === '' && f.event === '')).toBe(true);
    for (let c = 0; c <= sevens.length; c++) expect(feedCut(sevens, [c]).frames).toEqual(out);
    const bytewise = collector();
    for (const b of sevens) bytewise.decoder.push(new Uint8Array([b]));
    expect(bytewise.frames).toEqual(out);
  });

  it('accepts empty chunks anywhere', () => {
    const { decoder, frames: out } = collector();
    decoder.push(new Uint8Array(0));
    decoder.push(stream.subarray(0, 3));
    decoder.push(new Uint8Array(0));
    decoder.push(stream.subarray(3, 20));
    decoder.push(new Uint8Array(0));
    decoder.push(stream.subarray(20));
    expect(out).toEqual(expected);
  });

  it('decodes a large frame in chunks of many sizes, including pieces above and below the block size', () => {
    const big = encodeBinary('big', new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff));
    const exp = expectedOf([big, encodePing()]);
    const s = concat(big, encodePing());
    for (const size of [1, 100, 4095, 4096, 4097, 65536, 70_000]) {
      const cuts: number[] = [];
      for (let i = size; i < s.length; i += size) cuts.push(i);
      expect(feedCut(s, cuts).frames).toEqual(exp);
    }
    // alternating tiny and big pieces
    const cuts: number[] = [];
    for (let i = 0, k = 0; i < s.length; k++) {
      i += k % 2 ? 5000 : 1;
      if (i < s.length) cuts.push(i);
    }
    expect(feedCut(s, cuts).frames).toEqual(exp);
  });

  it('a frame that spans chunks is a copy: later changes to the chunks do not reach it', () => {
    const f = encodeJson('copy', { v: 'original' });
    const a = f.slice(0, 10);
    const b = f.slice(10);
    let got: Frame | undefined;
    const d = new FrameDecoder((fr) => (got = fr));
    d.push(a);
    d.push(b);
    a.fill(0);
    b.fill(0);
    expect(new TextDecoder().decode(got!.payload)).toBe('{"v":"original"}');
  });
});

describe('FrameDecoder: zero-copy', () => {
  it('a frame wholly inside a chunk gives a payload viewing that chunk', () => {
    const chunk = concat(encodeJson('a', 1), encodeBinary('b', new Uint8Array([1, 2, 3])), encodeJson('c', 'half'));
    const payloads: Uint8Array[] = [];
    const d = new FrameDecoder((f) => payloads.push(f.payload));
    d.push(chunk.subarray(0, chunk.length - 3));
    expect(payloads.length).toBe(2);
    for (const p of payloads) expect(p.buffer).toBe(chunk.buffer);
    expect(payloads[1]!.byteOffset).toBe(encodeJson('a', 1).length + 8);
    d.push(chunk.subarray(chunk.length - 3)); // the third spanned two chunks: a copy
    expect(payloads[2]!.buffer).not.toBe(chunk.buffer);
  });
});

describe('FrameDecoder: errors', () => {
  it('after a FrameError it holds nothing and throws again on every push', () => {
    const good = encodeJson('ok', 1);
    const bad = raw(0x0c, 'x');
    const { decoder, frames } = collector();
    decoder.push(concat(good, good.subarray(0, 3)));
    expect(decoder.bufferedBytes).toBe(3);
    decoder.push(good.subarray(3));
    decoder.push(good.subarray(0, 5)); // a partial frame held...
    expect(decoder.bufferedBytes).toBe(5);
    const err = expectCode(() => decoder.push(concat(good.subarray(5), bad, good)), 'BAD_TYPE');
    expect(frames.length).toBe(3); // the two before and the one completed before the bad header
    expect(decoder.bufferedBytes).toBe(0);
    // ...dropped; later pushes, even of valid frames or nothing, throw the same error
    expect(() => decoder.push(good)).toThrow(err);
    expect(() => decoder.push(new Uint8Array(0))).toThrow(err);
    expect(decoder.bufferedBytes).toBe(0);
    expect(frames.length).toBe(3);
    // reset() clears the failure
    decoder.reset();
    decoder.push(good);
    expect(frames.length).toBe(4);
  });

  it('an error in a frame that spans chunks is raised when the frame completes, then sticks', () => {
    const bad = raw(FrameType.JSON, new Uint8Array([0x61, 0xff]), new Uint8Array(10));
    const { decoder } = collector();
    decoder.push(bad.subarray(0, 12));
    expect(decoder.bufferedBytes).toBe(12);
    expectCode(() => decoder.push(bad.subarray(12)), 'BAD_UTF8');
    expect(decoder.bufferedBytes).toBe(0);
    expectCode(() => decoder.push(encodePing()), 'BAD_UTF8');
  });

  it('a header error is raised as soon as the 7 header bytes are in, without waiting for the body', () => {
    const { decoder } = collector();
    decoder.push(hex('00 00 10 00  01'));
    expectCode(() => decoder.push(hex('01 00')), 'BAD_EVENT_LENGTH'); // eventLen 256
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('whatever onFrame throws is rethrown, and the decoder stays failed (the stream position is lost)', () => {
    const boom = new Error('handler failed');
    let calls = 0;
    const d = new FrameDecoder(() => {
      calls++;
      if (calls === 2) throw boom;
    });
    const f = encodeJson('a', 1);
    expect(() => d.push(concat(f, f, f))).toThrow(boom);
    expect(calls).toBe(2);
    expect(d.bufferedBytes).toBe(0);
    expect(() => d.push(f)).toThrow(boom);
    expect(calls).toBe(2);
  });

  it('is a FrameError for protocol violations', () => {
    const d = new FrameDecoder(() => {});
    try {
      d.push(hex('00 00 00 03 01 00 00'));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FrameError);
      expect((e as FrameError).code).toBe('FRAME_TOO_SHORT');
    }
  });
});

describe('FrameDecoder: memory', () => {
  it('holds the bytes received of a large frame, not its announced size', () => {
    const max = 8 * 1024 * 1024;
    const frames: Frame[] = [];
    const decoder = new FrameDecoder((f) => frames.push(f), { maxFrameSize: max });
    // announce a frame of exactly the limit, then trickle it
    const header = hex('00 80 00 00  02  00 01  62'); // 8 MiB
    decoder.push(header);
    expect(decoder.bufferedBytes).toBe(8);
    let received = 8;
    const piece = new Uint8Array(1000);
    for (let i = 0; i < 50; i++) {
      decoder.push(piece);
      received += 1000;
      expect(decoder.bufferedBytes).toBe(received);
    }
    expect(frames).toEqual([]);
    const rest = new Uint8Array(max - received);
    decoder.push(rest);
    expect(frames.length).toBe(1);
    expect(frames[0]!.payload.length).toBe(max - 8);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('a frame trickling in a byte at a time costs about its bytes, not an object per byte', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const size = 512 * 1024;
    const frame = encodeBinary('trickle', new Uint8Array(size).fill(3));
    let done = 0;
    const d = new FrameDecoder(() => done++);
    gc();
    const before = process.memoryUsage();
    for (let i = 0; i < frame.length - 1; i++) d.push(frame.subarray(i, i + 1));
    gc();
    const after = process.memoryUsage();
    const held = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
    expect(d.bufferedBytes).toBe(frame.length - 1);
    // A view per byte would be ~100 bytes per byte (50+ MiB); blocks hold about the bytes.
    expect(held).toBeLessThan(3 * size);
    d.push(frame.subarray(frame.length - 1));
    expect(done).toBe(1);
  });

  it.each(['Uint8Array', 'Buffer'])('the tail of a big chunk (a %s) is copied, so it does not keep the whole chunk alive', async (kind) => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const many = concat(...Array.from({ length: 20_000 }, (_, i) => encodeJson('m', i)));
    const next = encodeBinary('next', new Uint8Array(10_000));
    let count = 0;
    const d = new FrameDecoder(() => count++);
    // A weak reference to the chunk's memory: cleared by a full GC unless something holds it.
    // (process.memoryUsage().arrayBuffers lags: V8 frees backing stores on a background thread.)
    let chunkRef: WeakRef<ArrayBufferLike> | undefined;
    // In a function of its own, and the stack unwound before the GC, so no stack slot keeps it.
    const pushOnce = (): void => {
      // ~240 KiB of frames, then a 5000-byte tail. A Buffer, as sockets give (its `slice` is a view).
      const bytes = concat(many, next.subarray(0, 5000));
      const chunk = kind === 'Buffer' ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length) : bytes;
      chunkRef = new WeakRef(chunk.buffer);
      d.push(chunk);
    };
    pushOnce();
    await new Promise((r) => setImmediate(r));
    gc();
    expect(count).toBe(20_000);
    expect(d.bufferedBytes).toBe(5000);
    expect(chunkRef!.deref(), 'the decoder holds the whole chunk for its 5000-byte tail').toBeUndefined();
    d.push(next.subarray(5000));
    expect(count).toBe(20_001);
  });

  it('bufferedBytes never exceeds maxFrameSize, and a frame of exactly maxFrameSize passes', () => {
    const max = 64;
    const { decoder, frames } = collector({ maxFrameSize: max });
    const exact = encodeBinary('e', new Uint8Array(max - 8));
    expect(exact.length).toBe(max);
    for (const b of exact) {
      decoder.push(new Uint8Array([b]));
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(max);
    }
    expect(frames.length).toBe(1);
    expectCode(() => decoder.push(encodeBinary('e', new Uint8Array(max - 7))), 'FRAME_TOO_LARGE');
  });
});

describe('FrameDecoder: delivered frames', () => {
  it('delivers frames synchronously and in order, with plain fields', () => {
    const order: string[] = [];
    const d = new FrameDecoder((f) => order.push(f.event));
    d.push(concat(encodeJson('1'), encodeJson('2')));
    order.push('after');
    expect(order).toEqual(['1', '2', 'after']);
    expect(plain({ type: FrameType.JSON, event: 'x', payload: new Uint8Array([1, 255]) })).toEqual({ type: 1, event: 'x', payload: '01 ff' });
  });
});

describe('frame sizes', () => {
  it('onFrame gets each frame size on the wire, whether inside one chunk or spanning chunks', () => {
    const a = encodeJson('chat', { t: 'hi' });
    const b = encodeBinary('blob', new Uint8Array(3000));
    const sizes: number[] = [];
    const d = new FrameDecoder((_f, size) => sizes.push(size));
    const all = new Uint8Array(a.length + b.length);
    all.set(a);
    all.set(b, a.length);
    d.push(all.subarray(0, a.length + 10));
    d.push(all.subarray(a.length + 10));
    expect(sizes).toEqual([a.length, b.length]);
  });
});
