/**
 * RFC 7692 permessage-deflate: the per-connection stateful transform on `node:zlib` streams
 * (§7.2). The negotiation (§7) is deflate-negotiation.ts.
 *
 * - Sending: DEFLATE with a sync flush, then the trailing `00 00 ff ff` is removed (§7.2.1).
 * - Receiving: `00 00 ff ff` is appended to the end of the message before inflating (§7.2.2).
 * - With context takeover the zlib stream is kept between messages; without it, the stream is
 *   reset after each message of that direction.
 * - zlib rejects `windowBits` 8 for raw deflate, so when 8 is negotiated for *our* compressor we
 *   use 9 (as `ws` does). This is safe: zlib never emits a distance beyond the window size minus
 *   262 bytes, i.e. 250 bytes for a 512-byte window, so the peer's 256-byte window suffices.
 *   Inflating with 8 is supported by zlib and used as is.
 * - Inflation is capped: the moment the output of a message passes the limit the inflater is
 *   destroyed and the operation fails with 1009, so a decompression bomb costs at most one zlib
 *   chunk of work.
 * - All zlib work is asynchronous (thread pool) and each direction is a FIFO: operations
 *   complete in the order they were submitted.
 * - Every operation waits for a slot of a process-wide {@link ZlibPool}, which also bounds the
 *   memory of the zlib streams kept between messages (idle streams may be released and recreated;
 *   see zlib-pool.ts).
 */
import * as zlib from 'node:zlib';
import type { DeflateParams } from './deflate-negotiation';
import { Direction, type Op } from './deflate-queue';
import { CloseCode, WsError } from './errors';
import type { Role } from './frame';
import { deflateMemory, Grant, inflateMemory, ZlibContext, ZlibPool } from './zlib-pool';

/** Options of {@link PerMessageDeflate}. */
export interface PerMessageDeflateOptions {
  /** Our role: selects which negotiated parameters apply to our compressor and inflater. */
  role: Role;
  /** Negotiated parameters (from {@link negotiateDeflateServer} or {@link acceptDeflateResponse}). */
  params: DeflateParams;
  /** Messages shorter than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
  /** zlib compression level, 0..9. Default `zlib.constants.Z_DEFAULT_COMPRESSION`. */
  level?: number;
  /** zlib memLevel, 1..9. Default 8. */
  memLevel?: number;
  /** zlib output chunk size. Default 16 KiB. */
  chunkSize?: number;
  /**
   * The process-wide bound on zlib work and memory this instance shares (see {@link ZlibPool}).
   * Default {@link ZlibPool.shared}.
   */
  pool?: ZlibPool;
}

/** Completion callback of compress/decompress. */
export type DeflateCallback = (err: WsError | null, data: Buffer) => void;

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const EMPTY = Buffer.alloc(0);

interface Job {
  chunks: Buffer[];
  total: number;
  limit: number;
  finished: boolean;
  finish(err: WsError | null, data: Buffer): void;
}

/**
 * The per-connection permessage-deflate transform: one compressor for what we send, one
 * inflater for what we receive, created lazily. Share one instance between the connection's
 * Receiver and Sender; call {@link close} when the connection ends.
 */
export class PerMessageDeflate {
  readonly role: Role;
  readonly params: Readonly<DeflateParams>;
  /** Messages shorter than this are sent uncompressed. */
  readonly threshold: number;
  /** The pool this instance's zlib work and memory count against. */
  readonly pool: ZlibPool;
  private readonly level: number;
  private readonly memLevel: number;
  private readonly chunkSize: number;
  private deflate: zlib.DeflateRaw | undefined;
  private inflate: zlib.InflateRaw | undefined;
  private deflateJob: Job | undefined;
  private inflateJob: Job | undefined;
  private readonly deflateQueue: Direction;
  private readonly inflateQueue: Direction;
  private readonly deflateCtx = new ZlibContext(() => this.destroyDeflate());
  private readonly inflateCtx = new ZlibContext(() => this.destroyInflate());
  /** Bytes reserved in the pool for an inflater that keeps its context (0: none). */
  private readonly pinned: number;
  /** The current stream of each direction is used for one message only (the pool was full). */
  private deflateOnce = false;
  private inflateOnce = false;
  private closed = false;

  constructor(options: PerMessageDeflateOptions) {
    this.role = options.role;
    const p = options.params;
    for (const bits of [p.serverMaxWindowBits, p.clientMaxWindowBits]) {
      if (!(Number.isInteger(bits) && bits >= 8 && bits <= 15)) {
        throw new WsError('WS_INVALID_ARGUMENT', CloseCode.INTERNAL_ERROR, 'Window bits must be in 8..15');
      }
    }
    this.params = { ...p };
    this.threshold = options.threshold ?? 1024;
    this.level = options.level ?? zlib.constants.Z_DEFAULT_COMPRESSION;
    this.memLevel = options.memLevel ?? 8;
    this.chunkSize = options.chunkSize ?? 16 * 1024;
    const intIn = (v: number, lo: number, hi: number): boolean => Number.isInteger(v) && v >= lo && v <= hi;
    if (!intIn(this.level, -1, 9) || !intIn(this.memLevel, 1, 9) || !intIn(this.chunkSize, 64, 1 << 30) || !(this.threshold >= 0)) {
      throw new WsError('WS_INVALID_ARGUMENT', CloseCode.INTERNAL_ERROR, 'Invalid zlib level, memLevel, chunkSize or threshold');
    }
    this.pool = options.pool ?? ZlibPool.shared;
    this.deflateQueue = new Direction(this.pool, (op) => this.runCompress(op));
    this.inflateQueue = new Direction(this.pool, (op) => this.runDecompress(op));
    // An inflater whose peer keeps its context cannot be released between messages: reserve it
    // now (a server decides with pool.canPin before negotiating; see ZlibPool).
    this.pinned = this.peerNoContextTakeover ? 0 : inflateMemory(this.peerWindowBits, this.chunkSize);
    if (this.pinned > 0) this.pool.pin(this.pinned);
  }

  /** Whether our compressor resets after each message. */
  get ownNoContextTakeover(): boolean {
    return this.role === 'server' ? this.params.serverNoContextTakeover : this.params.clientNoContextTakeover;
  }

  /** Whether the peer resets its compressor after each message (we reset our inflater too). */
  get peerNoContextTakeover(): boolean {
    return this.role === 'server' ? this.params.clientNoContextTakeover : this.params.serverNoContextTakeover;
  }

  /** Window bits our compressor uses (8 is raised to 9, see the module notes). */
  get ownWindowBits(): number {
    const bits = this.role === 'server' ? this.params.serverMaxWindowBits : this.params.clientMaxWindowBits;
    return bits === 8 ? 9 : bits;
  }

  /** Window bits our inflater uses. */
  get peerWindowBits(): number {
    return this.role === 'server' ? this.params.clientMaxWindowBits : this.params.serverMaxWindowBits;
  }

  /** Operations queued or running (both directions). */
  get pending(): number {
    return this.deflateQueue.size + this.inflateQueue.size;
  }

  /** Live zlib streams of this instance (0..2). */
  get streams(): number {
    return (this.deflate ? 1 : 0) + (this.inflate ? 1 : 0);
  }

  /**
   * Compresses a message (or one fragment of it; `fin` marks the last). On `fin` the trailing
   * `00 00 ff ff` is removed and, without context takeover, the compressor is reset.
   */
  compress(data: Uint8Array, fin: boolean, callback: DeflateCallback): void {
    if (this.closed) {
      queueMicrotask(() => callback(closedError(), EMPTY));
      return;
    }
    this.deflateQueue.add({ data, fin, maxOutput: Number.MAX_SAFE_INTEGER, callback });
  }

  /** Promise form of {@link compress}. */
  compressAsync(data: Uint8Array, fin = true): Promise<Buffer> {
    return new Promise((resolve, reject) => this.compress(data, fin, (err, out) => (err ? reject(err) : resolve(out))));
  }

  /**
   * Decompresses a message (or one fragment; `fin` marks the last, the `00 00 ff ff` tail is then
   * appended). Fails with 1009 `WS_MESSAGE_TOO_LARGE` as soon as this call's output exceeds
   * `maxOutput` bytes, with 1007 `WS_INFLATE_FAILED` on corrupt data, or with 1013
   * `WS_OVERLOADED` when the pool has no room for the inflater of a fragmented message.
   */
  decompress(data: Uint8Array, fin: boolean, maxOutput: number, callback: DeflateCallback): void {
    if (this.closed) {
      queueMicrotask(() => callback(closedError(), EMPTY));
      return;
    }
    this.inflateQueue.add({ data, fin, maxOutput, callback });
  }

  /** Promise form of {@link decompress}. */
  decompressAsync(data: Uint8Array, fin = true, maxOutput = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
    return new Promise((resolve, reject) =>
      this.decompress(data, fin, maxOutput, (err, out) => (err ? reject(err) : resolve(out))),
    );
  }

  /** Releases the zlib streams and the pool reservation; pending operations fail with `WS_DEFLATE_CLOSED`. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const err = closedError();
    // Out of the pool's queue first, so that finishing the running jobs starts nothing new.
    const rest = [...this.deflateQueue.cancel(), ...this.inflateQueue.cancel()];
    for (const job of [this.deflateJob, this.inflateJob]) job?.finish(err, EMPTY);
    for (const op of rest) op.callback(err, EMPTY);
    this.destroyDeflate();
    this.destroyInflate();
    if (this.pinned > 0) this.pool.unpin(this.pinned);
  }

  private runCompress(op: Op): void {
    if (this.closed) {
      this.deflateQueue.done();
      op.callback(closedError(), EMPTY);
      return;
    }
    let stream = this.deflate;
    if (stream) this.pool.busy(this.deflateCtx);
    else {
      // Compressing never fails for lack of room: a stream that does not fit is used once.
      const grant = this.pool.acquire(this.deflateCtx, deflateMemory(this.ownWindowBits, this.memLevel, this.chunkSize), true);
      stream = this.createDeflate();
      this.deflateOnce = grant === Grant.ONCE;
    }
    const fin = op.fin;
    const callback = op.callback;
    const job: Job = {
      chunks: [],
      total: 0,
      limit: Number.MAX_SAFE_INTEGER,
      finished: false,
      finish: (err, out) => {
        if (job.finished) return;
        job.finished = true;
        if (this.deflateJob === job) this.deflateJob = undefined;
        this.deflateQueue.done();
        callback(err, out);
      },
    };
    this.deflateJob = job;
    const s = stream;
    s.write(op.data);
    s.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      if (job.finished) return;
      let out = job.chunks.length === 1 ? job.chunks[0]! : Buffer.concat(job.chunks, job.total);
      if (fin) {
        // A sync flush always ends with the empty stored block 00 00 ff ff (§7.2.1).
        if (out.length >= 4) out = out.subarray(0, out.length - 4);
        if (this.deflateOnce) this.destroyDeflate();
        else {
          if (this.ownNoContextTakeover) s.reset();
          // Between messages our compressor may be released: the next message then starts a
          // fresh stream, which the peer decodes whatever it keeps (§7.2.1 leaves that to us).
          this.pool.idle(this.deflateCtx);
        }
      }
      job.finish(null, out);
    });
  }

  private runDecompress(op: Op): void {
    if (this.closed) {
      this.inflateQueue.done();
      op.callback(closedError(), EMPTY);
      return;
    }
    // A peer may end its DEFLATE stream with a BFINAL block (§7.2.3.4); zlib then ignores any
    // further input, so the next message needs a fresh inflater.
    if (this.inflate?.readableEnded) this.destroyInflate();
    let stream = this.inflate;
    if (stream) this.pool.busy(this.inflateCtx);
    else if (this.pinned > 0) {
      this.pool.acquirePinned();
      stream = this.createInflate();
      this.inflateOnce = false;
    } else {
      // Without a stream we are at a message start. A whole message may use a stream once when
      // the pool is full; the first fragment of a longer one would hold it: refused.
      const grant = this.pool.acquire(this.inflateCtx, inflateMemory(this.peerWindowBits, this.chunkSize), op.fin);
      if (grant === Grant.REFUSED) {
        this.inflateQueue.done();
        op.callback(new WsError('WS_OVERLOADED', CloseCode.TRY_AGAIN_LATER, 'No zlib memory left for this message, try again later'), EMPTY);
        return;
      }
      stream = this.createInflate();
      this.inflateOnce = grant === Grant.ONCE;
    }
    const fin = op.fin;
    const callback = op.callback;
    const job: Job = {
      chunks: [],
      total: 0,
      limit: op.maxOutput,
      finished: false,
      finish: (err, out) => {
        if (job.finished) return;
        job.finished = true;
        if (this.inflateJob === job) this.inflateJob = undefined;
        this.inflateQueue.done();
        callback(err, out);
      },
    };
    this.inflateJob = job;
    const s = stream;
    s.write(op.data);
    if (fin) s.write(TRAILER);
    s.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      if (job.finished) return;
      const out =
        job.chunks.length === 0 ? EMPTY : job.chunks.length === 1 ? job.chunks[0]! : Buffer.concat(job.chunks, job.total);
      if (s.readableEnded) this.destroyInflate();
      else if (fin && this.pinned === 0) {
        // The peer resets after each message: so do we, and the stream may be released.
        if (this.inflateOnce) this.destroyInflate();
        else {
          s.reset();
          this.pool.idle(this.inflateCtx);
        }
      }
      job.finish(null, out);
    });
  }

  private createDeflate(): zlib.DeflateRaw {
    const stream = zlib.createDeflateRaw({
      windowBits: this.ownWindowBits,
      level: this.level,
      memLevel: this.memLevel,
      chunkSize: this.chunkSize,
    });
    stream.on('data', (chunk: Buffer) => {
      const job = this.deflateJob;
      if (!job || stream !== this.deflate) return;
      job.chunks.push(chunk);
      job.total += chunk.length;
    });
    stream.on('error', (e: Error) => {
      if (stream !== this.deflate) return;
      const job = this.deflateJob;
      this.destroyDeflate();
      job?.finish(new WsError('WS_DEFLATE_FAILED', CloseCode.INTERNAL_ERROR, `Deflate failed: ${e.message}`), EMPTY);
    });
    this.deflate = stream;
    return stream;
  }

  private createInflate(): zlib.InflateRaw {
    const stream = zlib.createInflateRaw({ windowBits: this.peerWindowBits, chunkSize: this.chunkSize });
    stream.on('data', (chunk: Buffer) => {
      const job = this.inflateJob;
      if (!job || stream !== this.inflate) return;
      job.total += chunk.length;
      if (job.total > job.limit) {
        // Decompression bomb or simply too big: stop zlib now, the stream is unusable anyway.
        this.destroyInflate();
        job.finish(new WsError('WS_MESSAGE_TOO_LARGE', CloseCode.MESSAGE_TOO_BIG, 'Inflated message exceeds the size limit'), EMPTY);
        return;
      }
      job.chunks.push(chunk);
    });
    stream.on('error', (e: Error) => {
      if (stream !== this.inflate) return;
      const job = this.inflateJob;
      this.destroyInflate();
      job?.finish(new WsError('WS_INFLATE_FAILED', CloseCode.INVALID_PAYLOAD, `Inflate failed: ${e.message}`), EMPTY);
    });
    this.inflate = stream;
    return stream;
  }

  private destroyDeflate(): void {
    const s = this.deflate;
    if (!s) return;
    this.deflate = undefined;
    this.pool.release(this.deflateCtx);
    s.destroy();
  }

  private destroyInflate(): void {
    const s = this.inflate;
    if (!s) return;
    this.inflate = undefined;
    this.pool.release(this.pinned > 0 ? undefined : this.inflateCtx);
    s.destroy();
  }
}

function closedError(): WsError {
  return new WsError('WS_DEFLATE_CLOSED', CloseCode.GOING_AWAY, 'permessage-deflate instance closed');
}
