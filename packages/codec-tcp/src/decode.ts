import {
  AckStatus,
  DEFAULT_MAX_FRAME_SIZE,
  ErrorCode,
  FrameType,
  HEADER_SIZE,
  LENGTH_PREFIX_SIZE,
  MAX_EVENT_LENGTH,
  MAX_PING_PAYLOAD,
} from './constants';
import { FrameError } from './errors';
import { utf8Decode } from './utf8';

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

/** Per-type rules on the event field and payload layout (docs/protocol.md §2–3). */
function checkBody(type: FrameType, event: string, payload: Uint8Array): void {
  switch (type) {
    case FrameType.JSON:
    case FrameType.BINARY:
      if (event === '') throw new FrameError(ErrorCode.BAD_EVENT, 'event name required');
      return;
    case FrameType.ACK_REQ:
      if (event === '') throw new FrameError(ErrorCode.BAD_EVENT, 'event name required');
      if (payload.length < 4) throw new FrameError(ErrorCode.BAD_PAYLOAD, 'ACK_REQ needs a 4-byte request id');
      return;
    case FrameType.ACK_RES:
      if (payload.length < 5) throw new FrameError(ErrorCode.BAD_PAYLOAD, 'ACK_RES needs a request id and a status');
      if (payload[4] !== AckStatus.OK && payload[4] !== AckStatus.ERROR) throw new FrameError(ErrorCode.BAD_PAYLOAD, `unknown ACK status ${payload[4]}`);
      return;
    case FrameType.PING:
    case FrameType.PONG:
      if (event !== '') throw new FrameError(ErrorCode.BAD_EVENT, 'PING/PONG carry no event name');
      if (payload.length > MAX_PING_PAYLOAD) throw new FrameError(ErrorCode.BAD_PAYLOAD, `PING/PONG payload above ${MAX_PING_PAYLOAD} bytes`);
      return;
    case FrameType.CONNECT:
    case FrameType.DISCONNECT:
      if (event !== '') throw new FrameError(ErrorCode.BAD_EVENT, 'CONNECT/DISCONNECT carry no event name');
      return;
    case FrameType.JOIN:
    case FrameType.LEAVE:
      if (event === '') throw new FrameError(ErrorCode.BAD_EVENT, 'room name required');
      if (payload.length !== 0 && payload.length !== 4) throw new FrameError(ErrorCode.BAD_PAYLOAD, 'JOIN/LEAVE payload is empty or a 4-byte request id');
      return;
    case FrameType.ERROR:
      return;
  }
}

/**
 * Builds a frame from `bytes[start .. start+totalLen)` whose header is already checked.
 * `bodyStart` is where type/eventLen begin: `start + 4` on TCP.
 */
function readFrame(bytes: Uint8Array, typeAt: number, end: number): Frame {
  const type = bytes[typeAt] as FrameType;
  const eventLen = (bytes[typeAt + 1]! << 8) | bytes[typeAt + 2]!;
  const evStart = typeAt + 3;
  const event = utf8Decode(bytes, evStart, evStart + eventLen);
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
  checkHeader(totalLen, bytes[4]!, (bytes[5]! << 8) | bytes[6]!, options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE);
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
  checkHeader(totalLen, bytes[0]!, (bytes[1]! << 8) | bytes[2]!, options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE);
  return readFrame(bytes, 0, bytes.length);
}

/**
 * Incremental decoder for a TCP byte stream. Feed chunks of any size; complete frames are
 * passed to `onFrame` in order, synchronously.
 *
 * - Linear time: every byte is looked at a bounded number of times. A frame inside one chunk is
 *   delivered as a view of that chunk (zero-copy); a frame spanning chunks is copied once, when
 *   its last byte arrives (pieces are kept as a list until then, never re-concatenated).
 * - Bounded: a frame above `maxFrameSize` is refused from its header, before it is buffered;
 *   memory held is at most the bytes actually received of one frame.
 * - On any error (a FrameError for bad input, or whatever `onFrame` throws) the decoder drops
 *   everything it buffered and rethrows; it can be reused after `reset()` only in tests: a
 *   byte stream cannot be resynchronised after a framing error, so transports close.
 */
export class FrameDecoder {
  private readonly onFrame: (frame: Frame) => void;
  private readonly maxFrameSize: number;
  /** Header bytes of a frame whose header is split across chunks. */
  private readonly head = new Uint8Array(HEADER_SIZE);
  private headLen = 0;
  /** Pieces of the frame being assembled, and its expected total length (0 = none). */
  private parts: Uint8Array[] = [];
  private partsLen = 0;
  private expected = 0;
  private failed: FrameError | null = null;

  constructor(onFrame: (frame: Frame) => void, options: DecodeOptions = {}) {
    this.onFrame = onFrame;
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  }

  /** Bytes held for an incomplete frame. */
  get bufferedBytes(): number {
    return this.headLen + this.partsLen;
  }

  /** Feeds a chunk. @throws FrameError on a protocol violation (and after one). */
  push(chunk: Uint8Array): void {
    if (this.failed) throw this.failed;
    try {
      this.consume(chunk);
    } catch (err) {
      this.reset();
      if (err instanceof FrameError) this.failed = err;
      throw err;
    }
  }

  /** Drops buffered bytes and any failure. */
  reset(): void {
    this.headLen = 0;
    this.parts = [];
    this.partsLen = 0;
    this.expected = 0;
    this.failed = null;
  }

  private consume(chunk: Uint8Array): void {
    let off = 0;
    const n = chunk.length;
    while (off < n) {
      // 1. Continue a frame that spans chunks.
      if (this.expected > 0) {
        const take = Math.min(this.expected - this.partsLen, n - off);
        this.parts.push(chunk.subarray(off, off + take));
        this.partsLen += take;
        off += take;
        if (this.partsLen === this.expected) this.finishSpanning();
        continue;
      }
      // 2. A header split across chunks: gather its 7 bytes first.
      if (this.headLen > 0 || n - off < HEADER_SIZE) {
        const take = Math.min(HEADER_SIZE - this.headLen, n - off);
        this.head.set(chunk.subarray(off, off + take), this.headLen);
        this.headLen += take;
        off += take;
        if (this.headLen < HEADER_SIZE) return;
        const total = this.checkAt(this.head, 0);
        this.headLen = 0;
        this.parts = [this.head.slice()];
        this.partsLen = HEADER_SIZE;
        this.expected = total;
        if (total === HEADER_SIZE) this.finishSpanning();
        continue;
      }
      // 3. Fast path: the header is in this chunk.
      const total = this.checkAt(chunk, off);
      if (n - off >= total) {
        this.onFrame(readFrame(chunk, off + LENGTH_PREFIX_SIZE, off + total));
        off += total;
      } else {
        this.parts = [chunk.subarray(off)];
        this.partsLen = n - off;
        this.expected = total;
        off = n;
      }
    }
  }

  /** Validates the header at `bytes[at..at+7)` and returns totalLen. */
  private checkAt(bytes: Uint8Array, at: number): number {
    const total = ((bytes[at]! << 24) >>> 0) + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
    checkHeader(total, bytes[at + 4]!, (bytes[at + 5]! << 8) | bytes[at + 6]!, this.maxFrameSize);
    return total;
  }

  /** Joins the pieces of a spanning frame (one copy) and delivers it. */
  private finishSpanning(): void {
    const frame = new Uint8Array(this.expected);
    let at = 0;
    for (const p of this.parts) {
      frame.set(p, at);
      at += p.length;
    }
    this.parts = [];
    this.partsLen = 0;
    this.expected = 0;
    this.onFrame(readFrame(frame, LENGTH_PREFIX_SIZE, frame.length));
  }
}
