import { DEFAULT_MAX_FRAME_SIZE, ErrorCode, FrameType, HEADER_SIZE, LENGTH_PREFIX_SIZE, MAX_EVENT_LENGTH } from './constants';
import { FrameError } from './errors';
import { checkBody } from './rules';
import { decodeName } from './utf8';

/** A decoded frame. `payload` is a view into the received bytes, not a copy. */
export interface Frame {
  readonly type: FrameType;
  readonly event: string;
  readonly payload: Uint8Array;
}

export interface DecodeOptions {
  /** Largest accepted frame, header included. Default 16 MiB. */
  maxFrameSize?: number;
}

/**
 * Checks the fixed header fields (docs/protocol.md §1) given the frame's total length, so a
 * receiver can refuse a frame before buffering it.
 * @throws FrameError
 */
export function checkHeader(totalLen: number, type: number, eventLen: number, maxFrameSize: number): void {
  if (totalLen < HEADER_SIZE) throw new FrameError(ErrorCode.FRAME_TOO_SHORT, `frame length ${totalLen} is below the 7-byte header`);
  if (totalLen > maxFrameSize) throw new FrameError(ErrorCode.FRAME_TOO_LARGE, `frame of ${totalLen} bytes exceeds the limit of ${maxFrameSize}`);
  if (type < FrameType.JSON || type > FrameType.ERROR) throw new FrameError(ErrorCode.BAD_TYPE, `unknown frame type 0x${type.toString(16).padStart(2, '0')}`);
  if (eventLen > MAX_EVENT_LENGTH) throw new FrameError(ErrorCode.BAD_EVENT_LENGTH, `event length ${eventLen} exceeds ${MAX_EVENT_LENGTH}`);
  if (HEADER_SIZE + eventLen > totalLen) throw new FrameError(ErrorCode.BAD_EVENT_LENGTH, `event length ${eventLen} runs past the frame end`);
}

/** The receiver limit of `options`, validated: a NaN or tiny limit would silently refuse or allow everything. */
function limitOf(options: DecodeOptions): number {
  const max = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  if (typeof max !== 'number' || Number.isNaN(max) || max < HEADER_SIZE) {
    throw new RangeError(`maxFrameSize must be a number >= ${HEADER_SIZE}, got ${String(max)}`);
  }
  return max;
}

/**
 * Builds a frame from `bytes[typeAt-4 .. end)` whose header is already checked. `typeAt` is
 * where type/eventLen begin: 4 past the frame start on TCP, 0 in a WebSocket message.
 */
function readFrame(bytes: Uint8Array, typeAt: number, end: number): Frame {
  const type = bytes[typeAt] as FrameType;
  const eventLen = (bytes[typeAt + 1]! << 8) | bytes[typeAt + 2]!;
  const evStart = typeAt + 3;
  const event = decodeName(bytes, evStart, evStart + eventLen);
  const payload = bytes.subarray(evStart + eventLen, end);
  checkBody(type, event, payload);
  return { type, event, payload };
}

/**
 * Decodes exactly one whole TCP frame (with its totalLen, which must equal `bytes.length`).
 * @throws FrameError
 */
export function decodeFrame(bytes: Uint8Array, options: DecodeOptions = {}): Frame {
  if (bytes.length < HEADER_SIZE) throw new FrameError(ErrorCode.FRAME_TOO_SHORT, `${bytes.length} bytes is below the 7-byte header`);
  const totalLen = ((bytes[0]! << 24) >>> 0) + ((bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!);
  checkHeader(totalLen, bytes[4]!, (bytes[5]! << 8) | bytes[6]!, limitOf(options));
  if (totalLen !== bytes.length) throw new FrameError(ErrorCode.BAD_PAYLOAD, `frame says ${totalLen} bytes but ${bytes.length} were given`);
  return readFrame(bytes, LENGTH_PREFIX_SIZE, bytes.length);
}

/**
 * Decodes one WebSocket message: a frame without its 4-byte totalLen (docs/protocol.md §1).
 * @throws FrameError
 */
export function decodeMessage(bytes: Uint8Array, options: DecodeOptions = {}): Frame {
  const totalLen = bytes.length + LENGTH_PREFIX_SIZE;
  if (bytes.length < HEADER_SIZE - LENGTH_PREFIX_SIZE) throw new FrameError(ErrorCode.FRAME_TOO_SHORT, `message of ${bytes.length} bytes is below the 3-byte header`);
  checkHeader(totalLen, bytes[0]!, (bytes[1]! << 8) | bytes[2]!, limitOf(options));
  return readFrame(bytes, 0, bytes.length);
}

/** Pieces shorter than this are copied into a block rather than kept as views of their chunk. */
const SMALL_PIECE = 4096;
/** Size bounds of the blocks that gather small pieces. */
const BLOCK_MIN = 256;
const BLOCK_MAX = 64 * 1024;

/**
 * Incremental decoder for a TCP byte stream. Feed chunks of any size; complete frames are
 * passed to `onFrame` in order, synchronously, with their size on the wire (totalLen).
 *
 * - Linear time: every byte is looked at a bounded number of times. A frame inside one chunk is
 *   delivered as a view of that chunk (zero-copy); a frame spanning chunks is copied once, when
 *   its last byte arrives (large pieces are kept as a list of views until then, never
 *   re-concatenated; small pieces are gathered into blocks, so a frame trickling in a byte at a
 *   time costs no more memory than its bytes).
 * - Bounded: a frame above `maxFrameSize` is refused from its header, before it is buffered;
 *   memory held is about the bytes actually received of one frame, never its announced size.
 * - Chunks are not copied on the way in: a pushed chunk must not be modified afterwards (the
 *   decoder may still hold a view of it, and delivered payloads may be views of it).
 * - On any error (a FrameError for bad input, or whatever `onFrame` throws) the decoder drops
 *   everything it buffered, rethrows, and throws the same error on every later `push`: a byte
 *   stream cannot be resynchronised after a framing error, so transports close. `reset()`
 *   clears the failure (for tests).
 */
export class FrameDecoder {
  private readonly onFrame: (frame: Frame, size: number) => void;
  private readonly maxFrameSize: number;
  /** Header bytes of a frame whose header is split across chunks. */
  private readonly head = new Uint8Array(HEADER_SIZE);
  private headLen = 0;
  /** Sealed pieces of the frame being assembled, in order. */
  private parts: Uint8Array[] = [];
  /** The open block gathering small pieces (after `parts`), and how much of it is used. */
  private block: Uint8Array | null = null;
  private blockLen = 0;
  /** Bytes of the frame received so far (parts + block), and its total length (0 = none). */
  private received = 0;
  private expected = 0;
  private failure: { readonly error: unknown } | null = null;
  private assembled = 0;

  constructor(onFrame: (frame: Frame, size: number) => void, options: DecodeOptions = {}) {
    this.onFrame = onFrame;
    this.maxFrameSize = limitOf(options);
  }

  /** Bytes held for an incomplete frame (never more than `maxFrameSize`). */
  get bufferedBytes(): number {
    return this.headLen + this.received;
  }

  /**
   * Frames delivered after spanning chunks. A transport that sees `bufferedBytes` non-zero after
   * two pushes can tell from this whether the unfinished frame is still the same one (any frame
   * left unfinished by a push completes through this count).
   */
  get assembledFrames(): number {
    return this.assembled;
  }

  /** Feeds a chunk. @throws FrameError on a protocol violation (and on every push after one). */
  push(chunk: Uint8Array): void {
    if (this.failure) throw this.failure.error;
    try {
      this.consume(chunk);
    } catch (err) {
      this.reset();
      this.failure = { error: err };
      throw err;
    }
  }

  /** Drops buffered bytes and any failure. */
  reset(): void {
    this.headLen = 0;
    this.parts = [];
    this.block = null;
    this.blockLen = 0;
    this.received = 0;
    this.expected = 0;
    this.failure = null;
  }

  private consume(chunk: Uint8Array): void {
    let off = 0;
    const n = chunk.length;
    while (off < n) {
      // 1. Continue a frame that spans chunks.
      if (this.expected > 0) {
        const take = Math.min(this.expected - this.received, n - off);
        this.append(chunk, off, off + take);
        off += take;
        if (this.received === this.expected) this.finishSpanning();
        continue;
      }
      // 2. A header split across chunks: gather its 7 bytes first.
      if (this.headLen > 0 || n - off < HEADER_SIZE) {
        const take = Math.min(HEADER_SIZE - this.headLen, n - off);
        this.head.set(chunk.subarray(off, off + take), this.headLen);
        this.headLen += take;
        off += take;
        if (this.headLen < HEADER_SIZE) return;
        this.expected = this.checkAt(this.head, 0);
        this.headLen = 0;
        this.append(this.head, 0, HEADER_SIZE);
        if (this.expected === HEADER_SIZE) this.finishSpanning();
        continue;
      }
      // 3. Fast path: the header is in this chunk.
      const total = this.checkAt(chunk, off);
      if (n - off >= total) {
        this.onFrame(readFrame(chunk, off + LENGTH_PREFIX_SIZE, off + total), total);
        off += total;
      } else {
        this.expected = total;
        this.append(chunk, off, n);
        off = n;
      }
    }
  }

  /**
   * Adds `src[start..end)` to the frame being assembled. A large piece that is a whole chunk,
   * or most of one, is kept as a view (no copy yet); anything else is copied, so that holding a
   * piece never keeps a much larger chunk alive (a chunk's tail after many frames), nor costs an
   * object per byte (a frame trickling in a byte at a time).
   */
  private append(src: Uint8Array, start: number, end: number): void {
    const len = end - start;
    if (len >= SMALL_PIECE) {
      this.seal();
      const view = src.subarray(start, end);
      // A copy of its own, whatever the input's class (`slice` of a Node Buffer, what sockets give, is a view).
      this.parts.push(len * 2 >= src.length ? view : new Uint8Array(view));
    } else {
      let block = this.block;
      if (block === null || this.blockLen + len > block.length) {
        this.seal();
        // Grow blocks with the frame (about doubling the bytes held), within the frame's end.
        const size = Math.min(this.expected - this.received, Math.max(len, BLOCK_MIN, Math.min(BLOCK_MAX, this.received)));
        block = this.block = new Uint8Array(size);
      }
      block.set(src.subarray(start, end), this.blockLen);
      this.blockLen += len;
    }
    this.received += len;
  }

  /** Closes the open block into `parts`, trimming it when mostly unused. */
  private seal(): void {
    const block = this.block;
    if (block === null) return;
    const used = block.subarray(0, this.blockLen);
    if (this.blockLen > 0) this.parts.push(this.blockLen * 2 >= block.length ? used : new Uint8Array(used));
    this.block = null;
    this.blockLen = 0;
  }

  /** Validates the header at `bytes[at..at+7)` and returns totalLen. */
  private checkAt(bytes: Uint8Array, at: number): number {
    const total = ((bytes[at]! << 24) >>> 0) + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
    checkHeader(total, bytes[at + 4]!, (bytes[at + 5]! << 8) | bytes[at + 6]!, this.maxFrameSize);
    return total;
  }

  /** Joins the pieces of a spanning frame (one copy, none if one block holds it) and delivers it. */
  private finishSpanning(): void {
    const expected = this.expected;
    let frame: Uint8Array;
    if (this.parts.length === 0 && this.block !== null && this.blockLen === expected) {
      // Every piece was small and went to one block: it is the frame, and it is ours.
      frame = this.block.subarray(0, expected);
    } else {
      this.seal();
      frame = new Uint8Array(expected);
      let at = 0;
      for (const p of this.parts) {
        frame.set(p, at);
        at += p.length;
      }
    }
    this.parts = [];
    this.block = null;
    this.blockLen = 0;
    this.received = 0;
    this.expected = 0;
    this.assembled++;
    this.onFrame(readFrame(frame, LENGTH_PREFIX_SIZE, expected), expected);
  }
}
