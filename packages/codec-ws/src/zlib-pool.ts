/**
 * A process-wide bound on permessage-deflate's zlib work and memory, shared by every
 * `PerMessageDeflate` given the same pool (by default {@link ZlibPool.shared}):
 *
 * - **Concurrency**: at most `concurrency` zlib operations (one frame compressed or inflated)
 *   run at once; the others wait in one FIFO. This bounds the output being produced at a time
 *   (each inflate is also capped by its message limit) and keeps zlib from crowding libuv's
 *   thread pool.
 * - **Context memory**: every zlib stream is charged its memory by zlib's own formula
 *   (deflate: 2^(windowBits+2) + 2^(memLevel+9); inflate: 2^windowBits; plus its state and
 *   output buffer). Streams kept between messages must fit in `maxMemory`: to make room for a
 *   new one, the least recently used *idle* streams are released (compressors at a message
 *   boundary: the next message starts a fresh stream, which any peer can decode; inflaters of
 *   peers that reset their context after each message). A stream that does not fit even then
 *   lives only for one whole-message operation (compressors always; inflaters when the frame is
 *   a whole message), or the operation fails with 1013 `WS_OVERLOADED` (an inflater for a
 *   fragmented message).
 * - **Inflaters that must keep their context** (the peer uses context takeover) cannot be
 *   released: each one is reserved when its connection is created ({@link pin}). A server asks
 *   {@link canPin} before negotiating and, once half of `maxMemory` is reserved, answers
 *   `client_no_context_takeover` (RFC 7692 §7.1.1.2), so those peers' inflaters are releasable.
 *
 * Bound: memory of zlib streams ≤ `maxMemory`, plus at most one stream per running operation
 * (≤ `concurrency`) and per compressed message the application itself sends in fragments, plus
 * reservations made by client-role connections (which cannot negotiate them away).
 */

/** Default of {@link ZlibPoolOptions.concurrency}. */
export const DEFAULT_ZLIB_CONCURRENCY = 10;
/** Default of {@link ZlibPoolOptions.maxMemory}: 64 MiB. */
export const DEFAULT_ZLIB_MEMORY = 64 * 1024 * 1024;

/** zlib's internal state besides the window and hash tables (deflate_state / inflate_state ≈ 6–7 KiB). */
const STATE_BYTES = 8 * 1024;

/** Memory a raw deflate stream holds (zlib's formula, its state, and Node's output buffer). */
export function deflateMemory(windowBits: number, memLevel: number, chunkSize: number): number {
  return 2 ** (windowBits + 2) + 2 ** (memLevel + 9) + STATE_BYTES + chunkSize;
}

/** Memory a raw inflate stream holds. */
export function inflateMemory(windowBits: number, chunkSize: number): number {
  return 2 ** windowBits + STATE_BYTES + chunkSize;
}

export interface ZlibPoolOptions {
  /** Most zlib operations running at once in the pool. Default 10. */
  concurrency?: number;
  /** Most memory (bytes) of zlib streams kept between operations. Default 64 MiB. */
  maxMemory?: number;
}

/** Something waiting for an operation slot (one per direction of a connection). */
export interface PoolJob {
  /** Set when the owner closed while waiting: the pool skips it. */
  cancelled: boolean;
  /** Called when a slot is granted; the job calls {@link ZlibPool.finished} when done. */
  runJob(): void;
}

/** One zlib stream of a connection, as the pool sees it. */
export class ZlibContext {
  /** Bytes charged for the live stream (0: none). */
  charged = 0;
  /** In the idle list (evictable). */
  idle = false;

  /** `evict` destroys the owner's stream (it then calls {@link ZlibPool.release}). */
  constructor(readonly evict: () => void) {}
}

/** What {@link ZlibPool.acquire} decided. */
export const Grant = {
  /** Over budget and not allowed once: fail the operation. */
  REFUSED: 0,
  /** Fits in the budget: keep the stream between messages. */
  KEEP: 1,
  /** Over budget: use it for this operation, then destroy it. */
  ONCE: 2,
} as const;
export type Grant = (typeof Grant)[keyof typeof Grant];

export class ZlibPool {
  private static sharedPool: ZlibPool | undefined;

  /** The pool of every `PerMessageDeflate` not given one (created on first use, with the defaults). */
  static get shared(): ZlibPool {
    return (ZlibPool.sharedPool ??= new ZlibPool());
  }

  readonly concurrency: number;
  readonly maxMemory: number;
  private active = 0;
  private readonly queue: (PoolJob | undefined)[] = [];
  private head = 0;
  private pumping = false;
  private used = 0;
  private reserved = 0;
  private streams = 0;
  private readonly idleList = new Set<ZlibContext>();

  constructor(options: ZlibPoolOptions = {}) {
    const c = options.concurrency ?? DEFAULT_ZLIB_CONCURRENCY;
    const m = options.maxMemory ?? DEFAULT_ZLIB_MEMORY;
    if (!(Number.isInteger(c) && c >= 1)) throw new RangeError(`concurrency must be an integer >= 1, got ${String(c)}`);
    if (!(typeof m === 'number' && m >= 0)) throw new RangeError(`maxMemory must be a non-negative number, got ${String(m)}`);
    this.concurrency = c;
    this.maxMemory = m;
  }

  /** Bytes charged: live streams plus reservations of inflaters that keep their context. */
  get memory(): number {
    return this.used;
  }

  /** Bytes reserved for inflaters that keep their context. */
  get pinnedMemory(): number {
    return this.reserved;
  }

  /** Live zlib streams (not counting reserved inflaters not yet created). */
  get liveStreams(): number {
    return this.streams;
  }

  /** Operations running. */
  get running(): number {
    return this.active;
  }

  /** Operations waiting for a slot. */
  get waiting(): number {
    let n = 0;
    for (let i = this.head; i < this.queue.length; i++) if (this.queue[i] && !this.queue[i]!.cancelled) n++;
    return n;
  }

  // ── operation slots ────────────────────────────────────────────────────────

  /** Runs `job` now if a slot is free, else when one frees (FIFO). */
  schedule(job: PoolJob): void {
    this.queue.push(job);
    this.pump();
  }

  /** A job's operation completed: frees its slot. */
  finished(): void {
    this.active--;
    this.pump();
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.active < this.concurrency && this.head < this.queue.length) {
        const job = this.queue[this.head]!;
        this.queue[this.head++] = undefined;
        if (this.head === this.queue.length) {
          this.queue.length = 0;
          this.head = 0;
        } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue.splice(0, this.head);
          this.head = 0;
        }
        if (job.cancelled) continue;
        this.active++;
        job.runJob();
      }
    } finally {
      this.pumping = false;
    }
  }

  // ── context memory ─────────────────────────────────────────────────────────

  /** Whether an inflater of `size` bytes that keeps its context may be reserved now. */
  canPin(size: number): boolean {
    return this.reserved + size <= this.maxMemory / 2;
  }

  /** Reserves an inflater that keeps its context (for the connection's life). */
  pin(size: number): void {
    this.reserved += size;
    this.used += size;
  }

  /** Ends a reservation made with {@link pin}. */
  unpin(size: number): void {
    this.reserved -= size;
    this.used -= size;
  }

  /**
   * Before a stream of `size` bytes is created for `ctx`: releases idle streams (least recently
   * used first) until it fits. `once`: the stream may be used for this operation only when it
   * does not fit. The stream is charged unless REFUSED.
   */
  acquire(ctx: ZlibContext, size: number, once: boolean): Grant {
    for (const other of this.idleList) {
      if (this.used + size <= this.maxMemory) break;
      other.evict();
    }
    const fits = this.used + size <= this.maxMemory;
    if (!fits && !once) return Grant.REFUSED;
    this.used += size;
    ctx.charged = size;
    this.streams++;
    return fits ? Grant.KEEP : Grant.ONCE;
  }

  /** Counts a stream that needs no charge (a reserved inflater). */
  acquirePinned(): void {
    this.streams++;
  }

  /** The stream of `ctx` was destroyed. */
  release(ctx: ZlibContext | undefined): void {
    if (ctx === undefined) {
      this.streams--;
      return;
    }
    if (ctx.idle) this.busy(ctx);
    this.used -= ctx.charged;
    ctx.charged = 0;
    this.streams--;
  }

  /** `ctx`'s stream is between messages and may be released to make room. */
  idle(ctx: ZlibContext): void {
    if (ctx.idle) this.idleList.delete(ctx);
    this.idleList.add(ctx);
    ctx.idle = true;
  }

  /** `ctx`'s stream is in use. */
  busy(ctx: ZlibContext): void {
    if (!ctx.idle) return;
    this.idleList.delete(ctx);
    ctx.idle = false;
  }
}
