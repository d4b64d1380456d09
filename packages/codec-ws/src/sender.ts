/**
 * Frame encoders for the transport, and an ordered Sender that runs the compressed path.
 */
import { encodeCloseBody } from './close';
import { CloseCode, WsError } from './errors';
import { encodeFrame, MAX_CONTROL_PAYLOAD, Opcode } from './frame';
import type { EncodedFrame, Role } from './frame';
import type { PerMessageDeflate } from './permessage-deflate';

function toBuffer(data: string | Uint8Array): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
}

/**
 * Encodes an uncompressed, unfragmented data message: text for a string (or `binary: false`),
 * binary otherwise. Client frames are masked into a copy; server frames reuse `data`.
 */
export function encodeMessage(data: string | Uint8Array, role: Role, binary = typeof data !== 'string'): EncodedFrame {
  return encodeFrame(toBuffer(data), { opcode: binary ? Opcode.BINARY : Opcode.TEXT, role });
}

/** Encodes a ping or pong. Throws `WS_INVALID_ARGUMENT` for a payload over 125 bytes. */
export function encodeControlFrame(
  opcode: typeof Opcode.PING | typeof Opcode.PONG | typeof Opcode.CLOSE,
  payload: string | Uint8Array,
  role: Role,
): EncodedFrame {
  const buf = toBuffer(payload);
  if (buf.length > MAX_CONTROL_PAYLOAD) {
    throw new WsError('WS_INVALID_ARGUMENT', CloseCode.INTERNAL_ERROR, 'Control frame payload over 125 bytes');
  }
  return encodeFrame(buf, { opcode, role });
}

/**
 * Encodes a close frame. The reason is truncated to fit 123 bytes on a UTF-8 character boundary.
 * No code → empty body. Throws `WS_INVALID_ARGUMENT` for a code that may not be sent.
 */
export function encodeCloseFrame(role: Role, code?: number, reason?: string): EncodedFrame {
  return encodeFrame(encodeCloseBody(code, reason), { opcode: Opcode.CLOSE, role, maskInPlace: true });
}

/** Options of {@link Sender}. */
export interface SenderOptions {
  /** Our role: client frames are masked. */
  role: Role;
  /** The connection's permessage-deflate instance when negotiated. */
  deflate?: PerMessageDeflate | undefined;
  /**
   * Receives every frame, in order. Write both parts (e.g. `socket.cork(); write(header);
   * write(payload); uncork()`); the payload may be empty.
   */
  write(header: Buffer, payload: Buffer): void;
  /** A compression failure; the connection should be closed with `err.closeCode`. */
  onError?(err: WsError): void;
}

/** Options of {@link Sender.send}. */
export interface SendOptions {
  /** Binary message (default: true for bytes, false for a string). */
  binary?: boolean;
  /**
   * Compress with permessage-deflate (default true when negotiated; messages under the
   * deflate instance's `threshold` are always sent uncompressed).
   */
  compress?: boolean;
  /** Last fragment of the message (default true). Use false to stream a message in fragments. */
  fin?: boolean;
}

type Task = { frame: EncodedFrame; after?: () => void } | { data: Buffer; opcode: number; fin: boolean; rsv1: boolean };

/** The queue of every sender that never had to queue (most connections): nothing is pushed into it. */
const NO_TASKS: Task[] = [];

/**
 * Ordered frame output for one connection. Uncompressed frames are written synchronously when
 * nothing is queued; compressed ones go through the deflate instance asynchronously, and every
 * later frame (data or control) waits so the wire order is the call order.
 */
export class Sender {
  private readonly role: Role;
  private readonly deflate: PerMessageDeflate | undefined;
  /** Called as methods of the options object (which may then be a class instance, no closures). */
  private readonly out: SenderOptions;
  /** Frames waiting behind a compression: the shared empty `NO_TASKS` until the first one. */
  private tasks: Task[] = NO_TASKS;
  private head = 0;
  private compressing = false;
  private closed = false;
  private failed = false;
  private queuedBytes = 0;
  // Fragmented message being sent.
  private fragmenting = false;
  private fragCompressed = false;

  constructor(options: SenderOptions) {
    this.role = options.role;
    this.deflate = options.deflate;
    this.out = options;
  }

  /** Payload bytes waiting behind a compression in progress. */
  get pendingBytes(): number {
    return this.queuedBytes;
  }

  /** True once a close frame has been queued (later sends are refused). */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Sends a data message, or one fragment of it with `fin: false` (later calls continue the
   * message until one with `fin` true). Returns false if the sender is closed.
   */
  send(data: string | Uint8Array, options: SendOptions = {}): boolean {
    if (this.closed || this.failed) return false;
    const buf = toBuffer(data);
    const fin = options.fin ?? true;
    let opcode: number;
    let compress: boolean;
    if (this.fragmenting) {
      opcode = Opcode.CONTINUATION;
      compress = this.fragCompressed;
    } else {
      opcode = (options.binary ?? typeof data !== 'string') ? Opcode.BINARY : Opcode.TEXT;
      compress = this.deflate !== undefined && options.compress !== false && buf.length >= this.deflate.threshold;
    }
    const rsv1 = compress && !this.fragmenting;
    this.fragmenting = !fin;
    this.fragCompressed = !fin && compress;
    if (compress) {
      this.enqueue({ data: buf, opcode, fin, rsv1 });
    } else {
      this.enqueue({ frame: encodeFrame(buf, { opcode, role: this.role, fin }) });
    }
    return true;
  }

  /** Sends a ping (payload ≤ 125 bytes). */
  ping(payload: string | Uint8Array = EMPTY): boolean {
    if (this.closed || this.failed) return false;
    this.enqueue({ frame: encodeControlFrame(Opcode.PING, payload, this.role) });
    return true;
  }

  /** Sends a pong (payload ≤ 125 bytes). */
  pong(payload: string | Uint8Array = EMPTY): boolean {
    if (this.closed || this.failed) return false;
    this.enqueue({ frame: encodeControlFrame(Opcode.PONG, payload, this.role) });
    return true;
  }

  /**
   * Sends a close frame (no code → empty body); nothing can be sent after it. `onWritten` runs
   * right after the frame is handed to `write` — end the socket there, not before: the frame may
   * be waiting behind a compression in progress.
   */
  close(code?: number, reason?: string, onWritten?: () => void): boolean {
    if (this.closed || this.failed) return false;
    const frame = encodeCloseFrame(this.role, code, reason);
    this.closed = true;
    this.enqueue(onWritten ? { frame, after: onWritten } : { frame });
    return true;
  }

  /**
   * Queues a frame encoded elsewhere, e.g. a broadcast's shared unmasked header and payload
   * (server role only: client frames need their own mask).
   */
  sendFrame(frame: EncodedFrame): boolean {
    if (this.closed || this.failed) return false;
    this.enqueue({ frame });
    return true;
  }

  /**
   * {@link sendFrame} with the two parts passed apart: written at once, without a task object,
   * when nothing waits (the usual case).
   */
  sendParts(header: Buffer, payload: Buffer): boolean {
    if (this.closed || this.failed) return false;
    if (!this.compressing && this.head === this.tasks.length) this.out.write(header, payload);
    else this.enqueue({ frame: [header, payload] });
    return true;
  }

  private enqueue(task: Task): void {
    if (!this.compressing && this.head === this.tasks.length && 'frame' in task) {
      this.out.write(task.frame[0], task.frame[1]);
      task.after?.();
      return;
    }
    if (this.tasks === NO_TASKS) this.tasks = [];
    this.tasks.push(task);
    this.queuedBytes += 'frame' in task ? task.frame[1].length : task.data.length;
    this.flush();
  }

  private flush(): void {
    while (!this.compressing && !this.failed && this.head < this.tasks.length) {
      const task = this.tasks[this.head]!;
      this.tasks[this.head++] = undefined as unknown as Task;
      if (this.head === this.tasks.length) {
        this.tasks.length = 0;
        this.head = 0;
      }
      if ('frame' in task) {
        this.queuedBytes -= task.frame[1].length;
        this.out.write(task.frame[0], task.frame[1]);
        task.after?.();
        continue;
      }
      this.compressing = true;
      this.deflate!.compress(task.data, task.fin, (err, out) => {
        this.compressing = false;
        this.queuedBytes -= task.data.length;
        if (this.failed) return;
        if (err) {
          this.failed = true;
          this.tasks.length = 0;
          this.head = 0;
          this.queuedBytes = 0;
          this.out.onError?.(err);
          return;
        }
        const frame = encodeFrame(out, {
          opcode: task.opcode,
          role: this.role,
          fin: task.fin,
          rsv1: task.rsv1,
          maskInPlace: true,
        });
        this.out.write(frame[0], frame[1]);
        this.flush();
      });
    }
  }
}

const EMPTY = Buffer.alloc(0);
