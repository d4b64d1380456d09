/**
 * The data message a `Receiver` is assembling: its opcode, whether it is compressed, its size
 * against the cap, its UTF-8 validity (text, checked piece by piece), and its pieces, held without
 * pinning much more than their bytes: a piece that is most of its buffer (a whole socket read) stays a view, a small part
 * of a big buffer is copied out, and small pieces are gathered into blocks that grow with the
 * message, so a flood of tiny fragments costs its bytes, not an object per fragment.
 */
import { Buffer } from 'node:buffer';
import { CloseCode, WsError } from './errors';
import { Opcode } from './frame';
import { keyAtPhase, xorMask } from './mask';
import { Utf8Validator } from './utf8';

/**
 * Held pieces below this size are copied into a block (see `keep`); bigger ones are kept as views
 * when they are most of their buffer, else copied. 4 KiB: copies this size or more never come
 * from Node's shared 8 KiB pool, so they pin nothing but themselves.
 */
const SMALL_PIECE = 4096;
/** Size bounds of the blocks that gather small pieces. */
const BLOCK_MIN = 256;
const BLOCK_MAX = 64 * 1024;

const EMPTY = Buffer.alloc(0);

export class PartialMessage {
  /** The message's opcode (text or binary); 0 while no message is open. */
  private opcode = 0;
  private isCompressed = false;
  /** Made on the first text message (binary-only connections never need one). */
  private utf8: Utf8Validator | null = null;
  private bytes = 0;
  private fragments: Buffer[] = [];
  /** The open block gathering small held pieces (after `fragments`), and how much of it is used. */
  private block: Buffer | null = null;
  private blockLength = 0;
  /**
   * A message that is one masked binary frame of known size (`expectMasked`): its pieces are held
   * still masked until half of it has come, then `whole` (the message's own buffer) is allocated
   * and every byte is unmasked straight into it, so each byte is read and written once (no
   * unmask in place and then a concatenating copy). `whole` at most doubles the bytes received.
   */
  private total = 0;
  private whole: Buffer | null = null;

  /** `maxMessageSize`: a block never grows past what the message may still take. */
  constructor(private readonly maxMessageSize: number) {}

  /** Bytes of the message so far. */
  get length(): number {
    return this.bytes;
  }

  /** A message is open (its first frame came, its last did not). */
  get open(): boolean {
    return this.opcode !== 0;
  }

  /** The open message is text. */
  get isText(): boolean {
    return this.opcode === Opcode.TEXT;
  }

  /** The open message's frames are compressed (RSV1 on its first frame). */
  get compressed(): boolean {
    return this.isCompressed;
  }

  /** A new message begins with a frame of `opcode` (text or binary). */
  start(opcode: number, compressed: boolean): void {
    this.opcode = opcode;
    this.isCompressed = compressed;
    this.clear();
    if (opcode === Opcode.TEXT) (this.utf8 ??= new Utf8Validator()).reset();
  }

  /**
   * The open message is a single masked binary frame of `total` bytes: its pieces come masked,
   * through `addMasked`.
   */
  expectMasked(total: number): void {
    this.total = total;
  }

  /** True while the open message takes masked pieces (`expectMasked`). */
  get takesMasked(): boolean {
    return this.total > 0;
  }

  /**
   * Appends a masked piece of an `expectMasked` message, or returns why it fails (too large).
   * `key`: the frame's masking key (its 4 bytes big-endian in one number). The piece itself is
   * left as it is (still masked).
   */
  addMasked(data: Buffer, key: number): WsError | undefined {
    const len = data.length;
    if (len === 0) return undefined;
    if (this.bytes + len > this.maxMessageSize) return new WsError('WS_MESSAGE_TOO_LARGE', CloseCode.MESSAGE_TOO_BIG, `Message exceeds ${this.maxMessageSize} bytes`);
    const at = this.bytes;
    this.bytes += len;
    let whole = this.whole;
    if (whole === null) {
      if (this.bytes * 2 < this.total) {
        this.keep(data);
        return undefined;
      }
      // Half of it has come: the message's own buffer, and what is held unmasked into it.
      whole = this.whole = Buffer.allocUnsafe(this.total);
      this.seal();
      let o = 0;
      for (const f of this.fragments) {
        xorMask(f, 0, whole, o, f.length, keyAtPhase(key, o & 3), 0);
        o += f.length;
      }
      this.fragments = [];
    }
    xorMask(data, 0, whole, at, len, keyAtPhase(key, at & 3), 0);
    return undefined;
  }

  /**
   * Appends a piece, or returns why the message fails (too large, or text that is not UTF-8).
   * `last`: the message ends with this piece, so it is used before the receiver's `push` returns
   * and may stay a view.
   */
  add(data: Buffer, last: boolean): WsError | undefined {
    if (data.length === 0) return undefined;
    if (this.bytes + data.length > this.maxMessageSize) return new WsError('WS_MESSAGE_TOO_LARGE', CloseCode.MESSAGE_TOO_BIG, `Message exceeds ${this.maxMessageSize} bytes`);
    if (this.opcode === Opcode.TEXT && !this.utf8!.write(data)) return new WsError('WS_INVALID_UTF8', CloseCode.INVALID_PAYLOAD, 'Text message is not valid UTF-8');
    this.bytes += data.length;
    if (last) {
      // The usual one-piece message, or the end of one: a view, no copy.
      this.seal();
      this.fragments.push(data);
    } else this.keep(data);
    return undefined;
  }

  /** The whole message (no message is open any more), or why it fails (text ending inside a UTF-8 sequence). */
  finish(): Buffer | WsError {
    if (this.opcode === Opcode.TEXT && !this.utf8!.end()) return new WsError('WS_INVALID_UTF8', CloseCode.INVALID_PAYLOAD, 'Text message ends inside a UTF-8 sequence');
    this.opcode = 0;
    this.isCompressed = false;
    const whole = this.whole;
    if (whole !== null) {
      // An `expectMasked` message: every byte has been unmasked into it (its frame is complete).
      this.whole = null;
      this.total = 0;
      this.bytes = 0;
      return whole;
    }
    this.total = 0;
    this.seal();
    const frags = this.fragments;
    const message = frags.length === 0 ? EMPTY : frags.length === 1 ? frags[0]! : Buffer.concat(frags, this.bytes);
    this.bytes = 0;
    frags.length = 0;
    return message;
  }

  /** Drops what is held. */
  clear(): void {
    this.bytes = 0;
    this.total = 0;
    this.whole = null;
    if (this.fragments.length > 0) this.fragments = [];
    this.block = null;
    this.blockLength = 0;
  }

  /** Holds a piece of an unfinished message (it outlives this `push`). */
  private keep(data: Buffer): void {
    const len = data.length;
    if (len >= SMALL_PIECE) {
      this.seal();
      this.fragments.push(len * 2 >= data.buffer.byteLength ? data : copyOf(data, len));
      return;
    }
    let block = this.block;
    if (block === null || this.blockLength + len > block.length) {
      this.seal();
      // About doubling the bytes held, within what the message may still grow by.
      const held = this.bytes - len;
      const size = Math.min(Math.max(len, BLOCK_MIN, Math.min(BLOCK_MAX, held)), Math.max(len, this.maxMessageSize - held));
      block = this.block = Buffer.allocUnsafeSlow(size);
    }
    data.copy(block, this.blockLength);
    this.blockLength += len;
  }

  /** Closes the open block into `fragments`, trimmed when mostly unused. */
  private seal(): void {
    const block = this.block;
    if (block === null) return;
    const used = this.blockLength;
    if (used > 0) this.fragments.push(used * 2 >= block.length ? block.subarray(0, used) : copyOf(block, used));
    this.block = null;
    this.blockLength = 0;
  }
}

/** A copy of `data[0..n)` in a buffer of its own (not from the shared pool, which it would pin). */
function copyOf(data: Buffer, n: number): Buffer {
  const out = Buffer.allocUnsafeSlow(n);
  data.copy(out, 0, 0, n);
  return out;
}

/**
 * The message of a receiver that has not assembled one yet (whole unfragmented frames skip the
 * assembly): shared and never opened, so an idle connection has no message state of its own.
 */
export const NO_MESSAGE = new PartialMessage(0);
