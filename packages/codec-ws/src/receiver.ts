/**
 * The incremental frame parser and message assembler a transport feeds with raw socket chunks.
 */
import { ChunkQueue, NO_INPUT } from './chunks';
import { decodeCloseBody } from './close';
import { CloseCode, WsError } from './errors';
import { checkLength64, Opcode, type Role } from './frame';
import { headerViolation, lengthViolation, wholeFrame, wholeFrameAt } from './header-rules';
import { keyAtPhase, unmask, xorMask } from './mask';
import { NO_MESSAGE, PartialMessage } from './partial-message';
import type { PerMessageDeflate } from './permessage-deflate';
import { DEFAULT_MAX_MESSAGE_SIZE, type ReceiverHandlers, type ReceiverOptions } from './receiver-options';
import { isValidUtf8 } from './utf8';

const enum State {
  INFO,
  LENGTH16,
  LENGTH64,
  MASK_KEY,
  PAYLOAD,
}

const EMPTY = Buffer.alloc(0);

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

  /** Raw input held between pushes: `NO_INPUT` until the first bytes are held. */
  private queue: ChunkQueue = NO_INPUT;
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
  /** The current frame's masking key, big-endian in one number: no (pool-pinning) buffer per connection. */
  private maskKey = 0;

  /** The data message being assembled, `NO_MESSAGE` until the first (whole frames skip it). */
  private msg: PartialMessage = NO_MESSAGE;
  /** Bytes of a compressed frame handed to the inflater and not yet inflated. */
  private inflateBytes = 0;
  private completed = 0;

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
    return this.queue.length + this.inflateBytes + this.msg.length;
  }

  /**
   * True when nothing has been started: no frame partly read (not even its first header bytes),
   * no fragmented message open, no inflate running. A transport bounds how long this may stay
   * false (a started message must finish in time); `pendingBytes` can be 0 while it is false.
   */
  get isIdle(): boolean {
    return this.state === State.INFO && this.queue.length === 0 && !this.msg.open && !this.inflating;
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
      if (used < chunk.length) this.input().unshift(used > 0 ? chunk.subarray(used) : chunk);
      else if (this.queue.length === 0) return true;
    } else this.input().push(chunk);
    if (!this.inflating && !this.inLoop) this.run();
    if (this.done) return true;
    if (this.queue.length > this.maxBufferedBytes) {
      this.failWith(new WsError('WS_BUFFER_OVERFLOW', CloseCode.POLICY_VIOLATION, `More than ${this.maxBufferedBytes} bytes buffered`));
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
      const limit = Math.min(this.maxFrameSize, this.maxMessageSize);
      const f = wholeFrame;
      while (n - off >= 2 && !this.done && !this.msg.open) {
        if (!wholeFrameAt(chunk, off, server, limit)) break;
        const at = f.start;
        const len = f.length;
        const isText = f.text;
        if (server && len > 0) xorMask(chunk, at, chunk, at, len, chunk, at - 4);
        const data = chunk.subarray(at, at + len);
        if (isText && !isValidUtf8(data)) {
          // Unmasked already: report it from here (the state machine would read it masked).
          this.failWith(new WsError('WS_INVALID_UTF8', CloseCode.INVALID_PAYLOAD, 'Text message is not valid UTF-8'));
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

  /** The queue to hold input in: this receiver's own, made on first use. */
  private input(): ChunkQueue {
    return this.queue === NO_INPUT ? (this.queue = new ChunkQueue()) : this.queue;
  }

  /** Stops processing and drops all buffered data (e.g. when the socket closes). */
  destroy(): void {
    this.done = true;
    this.queue = NO_INPUT;
    this.msg = NO_MESSAGE;
    this.inflateBytes = 0;
  }

  /** Fails from outside (a transport's limit hit): buffers dropped, `onError(err)`, as for a violation; no-op once done. */
  abort(err: WsError): void {
    this.failWith(err);
  }

  /** Reports `err`, if there is one; true when it did. */
  private failed(err: WsError | undefined): boolean {
    if (err !== undefined) this.failWith(err);
    return err !== undefined;
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
      while (!this.done && !this.inflating && this.step());
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
        if (this.failed(checkLength64(hi))) return false;
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
          if (this.masked && n > 0) unmask(data, keyAtPhase(this.maskKey, 0));
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
          const phase = this.payloadRead & 3;
          this.payloadRead += n;
          const msg = this.msg;
          if (msg.takesMasked) {
            if (this.failed(msg.addMasked(piece, this.maskKey))) return false;
          } else if (this.masked) unmask(piece, keyAtPhase(this.maskKey, phase));
          if (!msg.takesMasked && !this.addData(piece, this.fin && n === remaining)) return false;
          if (n < remaining) return false;
        }
        this.state = State.INFO;
        if (this.fin) this.finishMessage();
        return true;
      }
    }
  }

  private readInfo(b0: number, b1: number): boolean {
    if (this.failed(headerViolation(b0, b1, this.role, this.deflate !== undefined, this.msg.open))) return false;
    this.fin = (b0 & 0x80) !== 0;
    this.rsv1 = (b0 & 0x40) !== 0;
    this.opcode = b0 & 0x0f;
    this.masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;
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
      const compressed = start ? this.rsv1 : this.msg.compressed;
      if (this.failed(lengthViolation(n, compressed, start ? 0 : this.msg.length, this.maxFrameSize, this.maxMessageSize))) return false;
      if (start) {
        if (this.msg === NO_MESSAGE) this.msg = new PartialMessage(this.maxMessageSize);
        this.msg.start(this.opcode, compressed);
        // One masked binary frame (a large upload): unmasked once, into a buffer of its own.
        if (this.fin && this.masked && !compressed && this.opcode === Opcode.BINARY && n > 0) this.msg.expectMasked(n);
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
    deflate.decompress(data, fin, this.maxMessageSize - this.msg.length, (err, out) => {
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
    return !this.failed(this.msg.add(data, last));
  }

  private finishMessage(): void {
    const isText = this.msg.isText;
    const message = this.msg.finish();
    if (message instanceof WsError) {
      this.failWith(message);
      return;
    }
    this.completed++;
    this.handlers.onMessage(message, !isText);
  }
}
