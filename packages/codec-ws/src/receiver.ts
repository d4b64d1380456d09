/**
 * The incremental frame parser and message assembler a transport feeds with raw socket chunks.
 */
import { ChunkQueue } from './chunks.js';
import { decodeCloseBody } from './close.js';
import { CloseCode, WsError } from './errors.js';
import { checkLength64, isKnownOpcode, MAX_CONTROL_PAYLOAD, Opcode } from './frame.js';
import type { Role } from './frame.js';
import { unmask, xorMask } from './mask.js';
import type { PerMessageDeflate } from './permessage-deflate.js';
import { isValidUtf8, Utf8Validator } from './utf8.js';

/** Default cap on an assembled (and inflated) message: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
/**
 * Held pieces below this size are copied into a block (see `keep`); bigger ones are kept as views
 * when they are most of their buffer, else copied. 4 KiB: copies this size or more never come
 * from Node's shared 8 KiB pool, so they pin nothing but themselves.
 */
const SMALL_PIECE = 4096;
/** Size bounds of the blocks that gather small pieces. */
const BLOCK_MIN = 256;
const BLOCK_MAX = 64 * 1024;

/** Events of a {@link Receiver}. Handlers run synchronously inside `push` (or a zlib callback). */
export interface ReceiverHandlers {
  /** A complete message. `data` may be a view into a pushed chunk (unmasked in place). */
  onMessage(data: Buffer, isBinary: boolean): void;
  /** A ping; the transport should answer with a pong carrying `payload`. */
  onPing(payload: Buffer): void;
  /** A pong. */
  onPong(payload: Buffer): void;
  /**
   * The peer's close frame (validated). `code` is undefined for an empty body. No further input
   * is processed; the transport should echo a close frame (if it has not sent one) and end.
   */
  onClose(code: number | undefined, reason: string): void;
  /** A protocol violation: send a close frame with `err.closeCode`, then end the connection. */
  onError(err: WsError): void;
  /** Called after `push` returned false, once the receiver can take input again. */
  onDrain?(): void;
}

/** Options of {@link Receiver}. */
export interface ReceiverOptions {
  /** `server`: frames must be masked; `client`: frames must not be masked. */
  role: Role;
  /** Largest message (after assembly and inflation), bytes. Default 16 MiB. */
  maxMessageSize?: number;
  /** Largest single frame payload, bytes. Default: `maxMessageSize`. */
  maxFrameSize?: number;
  /**
   * Most raw input held, bytes (a compressed or control frame being read, plus anything pushed
   * while busy inflating). Exceeding it fails with 1008 `WS_BUFFER_OVERFLOW`. Default
   * `maxFrameSize + 1 MiB`; never less than `maxFrameSize + 14`.
   */
  maxBufferedBytes?: number;
  /** The connection's permessage-deflate instance when negotiated (enables RSV1). */
  deflate?: PerMessageDeflate | undefined;
}

const enum State {
  INFO,
  LENGTH16,
  LENGTH64,
  MASK_KEY,
  PAYLOAD,
}

const EMPTY = Buffer.alloc(0);
/** The key of the unmask in progress (see `keyAtPhase`): one for every receiver. */
const SCRATCH_KEY = Buffer.allocUnsafeSlow(4);

/**
 * Incremental receiver: `push` raw chunks of any size; complete messages and control frames come
 * out through the handlers, in order. Linear time, bounded memory, never throws on bad input —
 * the first violation is reported once through `onError` and all later input is ignored.
 *
 * Note: masked payloads are unmasked in place, so pushed chunks are modified.
 */
export class Receiver {
  private readonly handlers: ReceiverHandlers;
  private readonly role: Role;
  private readonly deflate: PerMessageDeflate | undefined;
  readonly maxMessageSize: number;
  readonly maxFrameSize: number;
  readonly maxBufferedBytes: number;

  private readonly queue = new ChunkQueue();
  private state = State.INFO;
  private inLoop = false;
  private inflating = false;
  private needDrain = false;
  private done = false;
  private errored = false;

  // Current frame.
  private fin = false;
  private rsv1 = false;
  private opcode = 0;
  private masked = false;
  private payloadLength = 0;
  /** Payload bytes of the current frame consumed so far (streamed data frames). */
  private payloadRead = 0;
  /** The current frame is uncompressed data, consumed as it arrives. */
  private streaming = false;
  /**
   * The current frame's masking key, its 4 bytes big-endian in one number: no buffer per
   * connection (a small pooled Buffer here kept a whole 8 KiB pool slab alive per ~20 idle
   * connections). The bytes go to a shared scratch key right before each unmask.
   */
  private maskKey = 0;

  // Current message (a data message started and not finished).
  private msgOpcode = 0;
  private msgCompressed = false;
  private msgLength = 0;
  private fragments: Buffer[] = [];
  /**
   * The open block gathering small held pieces (after `fragments`), and how much of it is used:
   * a flood of tiny fragments then costs its bytes, not an object per fragment.
   */
  private block: Buffer | null = null;
  private blockLength = 0;
  /** Bytes of a compressed frame handed to the inflater and not yet inflated. */
  private inflateBytes = 0;
  private completed = 0;
  private readonly utf8 = new Utf8Validator();

  constructor(options: ReceiverOptions, handlers: ReceiverHandlers) {
    this.handlers = handlers;
    this.role = options.role;
    this.deflate = options.deflate;
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.maxFrameSize = options.maxFrameSize ?? this.maxMessageSize;
    // Never below one whole frame: a compressed frame is buffered whole before inflating.
    this.maxBufferedBytes = Math.max(options.maxBufferedBytes ?? this.maxFrameSize + 1024 * 1024, this.maxFrameSize + 14);
  }

  /** True while an inflate is in progress: input is held (in order) until it completes. */
  get isBusy(): boolean {
    return this.inflating;
  }

  /** Raw bytes held and not yet parsed. */
  get bufferedBytes(): number {
    return this.queue.length;
  }

  /**
   * Bytes held for input not yet delivered: raw bytes of a partly received frame (and input
   * held during an inflate), a compressed frame being inflated, and the data of a message being
   * assembled. Memory actually retained is at most about twice this: a held piece is kept as a
   * view only when it is at least half of its buffer, and blocks are trimmed when sealed.
   * Zero between messages.
   */
  get pendingBytes(): number {
    return this.queue.length + this.inflateBytes + this.msgLength;
  }

  /**
   * True when nothing has been started: no frame partly read (not even its first header bytes),
   * no fragmented message open, no inflate running. A transport bounds how long this may stay
   * false (a started message must finish in time); `pendingBytes` can be 0 while it is false.
   */
  get isIdle(): boolean {
    return this.state === State.INFO && this.queue.length === 0 && this.msgOpcode === 0 && !this.inflating;
  }

  /**
   * Data messages delivered so far. A transport that sees `pendingBytes` non-zero after two
   * pushes can tell from this whether it is still the same unfinished message.
   */
  get messagesReceived(): number {
    return this.completed;
  }

  /** True once a close frame was received, an error reported, or `destroy` called. */
  get isDone(): boolean {
    return this.done;
  }

  /** True once an error was reported. */
  get isErrored(): boolean {
    return this.errored;
  }

  /**
   * Feeds raw bytes. Returns false when the transport should stop reading until `onDrain`
   * (an inflate is in progress); true otherwise (also after the receiver is done: input is then
   * ignored).
   */
  push(chunk: Buffer): boolean {
    if (this.done) return true;
    if (this.state === State.INFO && this.queue.length === 0 && !this.inLoop && !this.inflating) {
      // The usual case: whole frames at the start of a read are parsed straight from it.
      const used = this.wholeFrames(chunk);
      if (this.done) return true;
      // Input pushed from inside a handler was queued; it comes after the rest of this chunk.
      if (used < chunk.length) this.queue.unshift(used > 0 ? chunk.subarray(used) : chunk);
      else if (this.queue.length === 0) return true;
    } else this.queue.push(chunk);
    if (!this.inflating && !this.inLoop) this.run();
    if (this.done) return true;
    if (this.queue.length > this.maxBufferedBytes) {
      this.fail('WS_BUFFER_OVERFLOW', CloseCode.POLICY_VIOLATION, `More than ${this.maxBufferedBytes} bytes buffered`);
      return true;
    }
    // Bytes left for later must not pin whole socket reads (a header's first byte at the end of
    // a 64 KiB read, say).
    if (this.queue.length > 0) this.queue.compact();
    if (this.inflating) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /**
   * Delivers the complete, unfragmented, uncompressed data frames at the start of `chunk`
   * directly from it (no queue, one view per message: the message itself) and returns how many
   * bytes they took. Stops at the first frame that is anything else (incomplete, control,
   * fragmented, compressed, over a limit, or invalid): the state machine takes over from there,
   * with every check and error report of its own.
   */
  private wholeFrames(chunk: Buffer): number {
    const n = chunk.length;
    const server = this.role === 'server';
    let off = 0;
    this.inLoop = true;
    try {
      while (n - off >= 2 && !this.done && this.msgOpcode === 0) {
        const b0 = chunk[off]!;
        const b1 = chunk[off + 1]!;
        // FIN, no RSV bits, opcode text or binary; mask bit as the role requires.
        const op = b0 & 0x0f;
        if ((b0 & 0xf0) !== 0x80 || (op !== Opcode.BINARY && op !== Opcode.TEXT) || (b1 & 0x80) !== (server ? 0x80 : 0)) break;
        const len7 = b1 & 0x7f;
        let at = off + 2;
        let len = len7;
        if (len7 === 126) {
          if (n - at < 2) break;
          len = (chunk[at]! << 8) | chunk[at + 1]!;
          at += 2;
        } else if (len7 === 127) {
          if (n - at < 8 || chunk[at] !== 0 || chunk[at + 1] !== 0 || chunk[at + 2] !== 0 || chunk[at + 3] !== 0) break;
          len = chunk.readUInt32BE(at + 4);
          at += 8;
        }
        const keyAt = at;
        if (server) at += 4;
        if (len > n - at || len > this.maxFrameSize || len > this.maxMessageSize) break;
        const isText = op === Opcode.TEXT;
        if (server && len > 0) xorMask(chunk, at, chunk, at, len, chunk, keyAt);
        const data = chunk.subarray(at, at + len);
        if (isText && !isValidUtf8(data)) {
          // Unmasked already: report it from here (the state machine would read it masked).
          this.fail('WS_INVALID_UTF8', CloseCode.INVALID_PAYLOAD, 'Text message is not valid UTF-8');
          return n;
        }
        off = at + len;
        this.completed++;
        this.handlers.onMessage(data, !isText);
      }
    } finally {
      this.inLoop = false;
    }
    return off;
  }

  /** Stops processing and drops all buffered data (e.g. when the socket closes). */
  destroy(): void {
    this.done = true;
    this.queue.clear();
    this.fragments = [];
    this.block = null;
    this.blockLength = 0;
    this.msgLength = 0;
    this.inflateBytes = 0;
  }

  /**
   * Fails the connection from outside, e.g. when a transport's limit on unfinished input is hit:
   * the buffers are dropped and `onError(err)` is called, as for a protocol violation. No-op
   * once done.
   */
  abort(err: WsError): void {
    this.failWith(err);
  }

  private fail(code: WsError['code'], closeCode: number, message: string): void {
    this.failWith(new WsError(code, closeCode, message));
  }

  private failWith(err: WsError): void {
    if (this.done) return;
    this.errored = true;
    this.destroy();
    this.handlers.onError(err);
  }

  private run(): void {
    this.inLoop = true;
    try {
      while (!this.done && !this.inflating) {
        if (!this.step()) break;
      }
    } finally {
      this.inLoop = false;
    }
  }

  /** Advances the state machine once; false when more input is needed. */
  private step(): boolean {
    const q = this.queue;
    switch (this.state) {
      case State.INFO: {
        if (q.length < 2) return false;
        const b0 = q.byteAt(0);
        const b1 = q.byteAt(1);
        q.skip(2);
        return this.readInfo(b0, b1);
      }
      case State.LENGTH16: {
        if (q.length < 2) return false;
        this.payloadLength = (q.byteAt(0) << 8) | q.byteAt(1);
        q.skip(2);
        return this.checkLength();
      }
      case State.LENGTH64: {
        if (q.length < 8) return false;
        const b = q.consume(8);
        const hi = b.readUInt32BE(0);
        const err = checkLength64(hi);
        if (err) {
          this.failWith(err);
          return false;
        }
        this.payloadLength = hi * 0x100000000 + b.readUInt32BE(4);
        return this.checkLength();
      }
      case State.MASK_KEY: {
        if (q.length < 4) return false;
        this.maskKey = (q.byteAt(0) << 24) | (q.byteAt(1) << 16) | (q.byteAt(2) << 8) | q.byteAt(3);
        q.skip(4);
        this.state = State.PAYLOAD;
        return true;
      }
      case State.PAYLOAD: {
        if (!this.streaming) {
          // Control frames (≤ 125 bytes) and compressed frames are handled whole.
          const n = this.payloadLength;
          if (q.length < n) return false;
          const data = n === 0 ? EMPTY : q.consume(n);
          if (this.masked && n > 0) unmask(data, this.keyAtPhase(0));
          this.state = State.INFO;
          this.handleFrame(data);
          return true;
        }
        // Uncompressed data: consume the payload as it arrives (text is validated piece by
        // piece, so invalid UTF-8 fails even before the frame is complete).
        const remaining = this.payloadLength - this.payloadRead;
        if (remaining > 0) {
          if (q.length === 0) return false;
          const n = Math.min(q.length, remaining);
          const piece = q.consume(n);
          if (this.masked) unmask(piece, this.keyAtPhase(this.payloadRead & 3));
          this.payloadRead += n;
          if (!this.addData(piece, this.fin && n === remaining)) return false;
          if (n < remaining) return false;
        }
        this.state = State.INFO;
        if (this.fin) this.finishMessage();
        return true;
      }
    }
  }

  /**
   * The masking key rotated to start at byte `phase` of the payload, in the shared scratch key:
   * valid until the next call (unmasking is synchronous).
   */
  private keyAtPhase(phase: number): Buffer {
    const k = this.maskKey;
    const r = SCRATCH_KEY;
    for (let i = 0; i < 4; i++) r[i] = (k >>> (24 - 8 * ((phase + i) & 3))) & 0xff;
    return r;
  }

  private readInfo(b0: number, b1: number): boolean {
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;
    const control = (opcode & 0x08) !== 0;

    if (!isKnownOpcode(opcode)) {
      this.fail('WS_BAD_OPCODE', CloseCode.PROTOCOL_ERROR, `Reserved opcode 0x${opcode.toString(16)}`);
      return false;
    }
    if ((b0 & 0x30) !== 0) {
      this.fail('WS_RSV_BITS', CloseCode.PROTOCOL_ERROR, 'RSV2/RSV3 set without a negotiated extension');
      return false;
    }
    if (rsv1) {
      if (!this.deflate) {
        this.fail('WS_RSV_BITS', CloseCode.PROTOCOL_ERROR, 'RSV1 set without permessage-deflate');
        return false;
      }
      if (control || opcode === Opcode.CONTINUATION) {
        this.fail('WS_RSV_BITS', CloseCode.PROTOCOL_ERROR, 'RSV1 set on a control or continuation frame');
        return false;
      }
    }
    if (control) {
      if (!fin) {
        this.fail('WS_CONTROL_FRAGMENTED', CloseCode.PROTOCOL_ERROR, 'Fragmented control frame');
        return false;
      }
      if (len7 > MAX_CONTROL_PAYLOAD) {
        this.fail('WS_CONTROL_TOO_LONG', CloseCode.PROTOCOL_ERROR, 'Control frame payload over 125 bytes');
        return false;
      }
    } else if (opcode === Opcode.CONTINUATION) {
      if (this.msgOpcode === 0) {
        this.fail('WS_UNEXPECTED_CONTINUATION', CloseCode.PROTOCOL_ERROR, 'Continuation frame without a message to continue');
        return false;
      }
    } else if (this.msgOpcode !== 0) {
      this.fail('WS_EXPECTED_CONTINUATION', CloseCode.PROTOCOL_ERROR, 'New data frame inside a fragmented message');
      return false;
    }
    if (masked !== (this.role === 'server')) {
      if (masked) this.fail('WS_MASKED_FRAME', CloseCode.PROTOCOL_ERROR, 'Masked frame sent by the server');
      else this.fail('WS_UNMASKED_FRAME', CloseCode.PROTOCOL_ERROR, 'Unmasked frame sent by the client');
      return false;
    }
    this.fin = fin;
    this.rsv1 = rsv1;
    this.opcode = opcode;
    this.masked = masked;
    if (len7 === 126) {
      this.state = State.LENGTH16;
      return true;
    }
    if (len7 === 127) {
      this.state = State.LENGTH64;
      return true;
    }
    this.payloadLength = len7;
    return this.checkLength();
  }

  /** Rejects oversized frames from the header alone, before buffering their payload. */
  private checkLength(): boolean {
    const n = this.payloadLength;
    this.payloadRead = 0;
    this.streaming = false;
    if (this.opcode < 8) {
      const start = this.opcode !== Opcode.CONTINUATION;
      const compressed = start ? this.rsv1 : this.msgCompressed;
      // Deflate can grow incompressible data a little: a message allowed once inflated must not
      // be refused for its compressed size. Inflation itself is capped by maxMessageSize.
      const frameLimit = compressed ? this.maxFrameSize + Math.min(1024 + Math.floor(this.maxFrameSize / 64), 512 * 1024) : this.maxFrameSize;
      if (n > frameLimit) {
        this.fail('WS_FRAME_TOO_LARGE', CloseCode.MESSAGE_TOO_BIG, `Frame payload of ${n} bytes exceeds ${frameLimit}`);
        return false;
      }
      if (!compressed && (start ? 0 : this.msgLength) + n > this.maxMessageSize) {
        this.fail('WS_MESSAGE_TOO_LARGE', CloseCode.MESSAGE_TOO_BIG, `Message exceeds ${this.maxMessageSize} bytes`);
        return false;
      }
      if (start) {
        this.msgOpcode = this.opcode;
        this.msgCompressed = compressed;
        this.msgLength = 0;
        if (this.fragments.length > 0) this.fragments.length = 0;
        this.block = null;
        this.blockLength = 0;
        this.utf8.reset();
      }
      this.streaming = !compressed;
    }
    this.state = this.masked ? State.MASK_KEY : State.PAYLOAD;
    return true;
  }

  /** A complete control frame, or a complete compressed data frame. */
  private handleFrame(data: Buffer): void {
    switch (this.opcode) {
      case Opcode.CLOSE: {
        const body = decodeCloseBody(data);
        if (body instanceof WsError) {
          this.failWith(body);
          return;
        }
        this.destroy();
        this.handlers.onClose(body.code, body.reason);
        return;
      }
      case Opcode.PING:
        this.handlers.onPing(data);
        return;
      case Opcode.PONG:
        this.handlers.onPong(data);
        return;
    }
    const fin = this.fin;
    const deflate = this.deflate!;
    this.inflating = true;
    this.inflateBytes = data.length;
    deflate.decompress(data, fin, this.maxMessageSize - this.msgLength, (err, out) => {
      this.inflating = false;
      this.inflateBytes = 0;
      if (this.done) return;
      if (err) {
        this.failWith(err);
        return;
      }
      if (this.addData(out, fin) && fin) this.finishMessage();
      if (!this.inLoop) {
        this.run();
        if (!this.done && !this.inflating && this.needDrain) {
          this.needDrain = false;
          this.handlers.onDrain?.();
        }
      }
    });
  }

  /**
   * Appends a piece of the current message; false after reporting an error. `last`: the message
   * ends with this piece, so it is used before `push` returns and may stay a view.
   */
  private addData(data: Buffer, last: boolean): boolean {
    if (data.length === 0) return true;
    this.msgLength += data.length;
    if (this.msgLength > this.maxMessageSize) {
      this.fail('WS_MESSAGE_TOO_LARGE', CloseCode.MESSAGE_TOO_BIG, `Message exceeds ${this.maxMessageSize} bytes`);
      return false;
    }
    if (this.msgOpcode === Opcode.TEXT && !this.utf8.write(data)) {
      this.fail('WS_INVALID_UTF8', CloseCode.INVALID_PAYLOAD, 'Text message is not valid UTF-8');
      return false;
    }
    if (last) {
      // The usual one-piece message, or the end of one: a view, no copy.
      this.seal();
      this.fragments.push(data);
    } else this.keep(data);
    return true;
  }

  /**
   * Holds a piece of an unfinished message (it outlives this `push`) without pinning more than
   * about twice its bytes: a piece that is most of its buffer (a whole socket read) stays a view;
   * a small part of a big buffer is copied out; small pieces are gathered into blocks that grow
   * with the message.
   */
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
      const held = this.msgLength - len;
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

  private finishMessage(): void {
    const isText = this.msgOpcode === Opcode.TEXT;
    if (isText && !this.utf8.end()) {
      this.fail('WS_INVALID_UTF8', CloseCode.INVALID_PAYLOAD, 'Text message ends inside a UTF-8 sequence');
      return;
    }
    this.seal();
    const frags = this.fragments;
    const message = frags.length === 0 ? EMPTY : frags.length === 1 ? frags[0]! : Buffer.concat(frags, this.msgLength);
    this.msgOpcode = 0;
    this.msgCompressed = false;
    this.msgLength = 0;
    frags.length = 0;
    this.completed++;
    this.handlers.onMessage(message, !isText);
  }
}

/** A copy of `data[0..n)` in a buffer of its own (not from the shared pool, which it would pin). */
function copyOf(data: Buffer, n: number): Buffer {
  const out = Buffer.allocUnsafeSlow(n);
  data.copy(out, 0, 0, n);
  return out;
}
