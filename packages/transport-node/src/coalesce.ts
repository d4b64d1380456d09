import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';

/**
 * Write coalescing (across one event-loop turn) and combining (within one read). Every write of
 * the links goes through here.
 *
 * Coalescing, as uWebSockets.js corks: the first write to a socket that nobody has corked corks
 * it, and every socket corked this way is uncorked once, after the I/O callbacks of the turn
 * (`setImmediate`). A burst of broadcasts handled in one turn then leaves as one `writev` system
 * call per recipient instead of one `write` per message. Broadcast frames are written as they are
 * (one buffer shared by every recipient, no copy).
 *
 * Combining: while a socket's own read is handled it is corked (a reply leaves at the end of the
 * read that caused it: no extra latency), and a small chunk (≤ {@link COPY_MAX}) written to it
 * that finds bytes already queued is copied into one gather buffer instead of becoming one more
 * entry of the socket's Writable queue. The gather buffer is handed to the socket as ONE `write`
 * at the end of the read, when it reaches {@link GATHER_MAX}, before a bigger chunk (written as
 * it is: large payloads are not copied), before `end()` or `link.uncork()`. Sixty-four pipelined
 * replies of one read are then two queue entries, not 64.
 *
 * Memory: only one socket is read at a time, so there is one gather state, for the socket being
 * read; its buffers are cut from a shared 64 KiB slab (a flushed buffer keeps its slab alive until
 * the socket has written it). Nothing is kept per connection.
 *
 * Held and gathered bytes count in the links' `bufferedAmount`. So that they do not pass for a
 * slow peer, a socket held to the end of the turn is released at once when they reach its
 * `writableHighWaterMark` (16 KiB by default): the kernel is offered them right away, and only
 * what it refuses stays queued, as without coalescing.
 */

/**
 * Chunks up to this many bytes are copied into the gather buffer; bigger ones are written as they
 * are. Measured (wire.bench pipe): 40-byte frames gain, 1 KiB frames cost about what they save.
 */
export const COPY_MAX = 1024;
/** A gather buffer never holds more than this: the next chunk flushes it first. */
export const GATHER_MAX = 16 * 1024;
const SLAB_SIZE = 64 * 1024;
/** Smallest buffer cut for a read (enough for a few small frames without growing). */
const MIN_REGION = 1024;
/** Bytes before each region that belong to it (see `open`). */
export const PAD = 4;

const HELD = Symbol('stelar.held');
type HeldSocket = Socket & { [HELD]?: boolean };

let held: Socket[] = [];
let spare: Socket[] = [];
let scheduled = false;

function endOfTurn(): void {
  scheduled = false;
  // Swap first: an uncork can run code that writes again, which then waits for the next turn.
  const list = held;
  held = spare;
  spare = list;
  for (let i = 0; i < list.length; i++) release(list[i]!);
  list.length = 0;
}

function release(socket: HeldSocket): void {
  if (socket[HELD] !== true) return;
  socket[HELD] = false;
  if (socket === reading) flush();
  // end() and destroy() may have uncorked it already; uncork() is then a no-op.
  socket.uncork();
}

/** Corks `socket` until the end of this turn, unless something already holds it corked. */
export function holdWrites(socket: Socket): void {
  if (socket.writableCorked !== 0) return;
  socket.cork();
  (socket as HeldSocket)[HELD] = true;
  held.push(socket);
  if (!scheduled) {
    scheduled = true;
    setImmediate(endOfTurn);
  }
}

/** After a write: a held socket with a high-water mark's worth of bytes (queued + gathered) is released now. */
function releaseIfFull(socket: Socket): void {
  if ((socket as HeldSocket)[HELD] === true && socket.writableLength + gathered(socket) >= socket.writableHighWaterMark) release(socket);
}

/** What is gathered for the socket being read. */
export interface Gather {
  /** The slab holding the region [start, limit), filled up to `end`; null: nothing gathered. */
  buf: Buffer | null;
  start: number;
  end: number;
  limit: number;
  /** A write callback asked for (a drain check): attached to the flush's `write`. */
  cb: (() => void) | undefined;
}

/** The socket whose read is being handled, and what is gathered for it. */
let reading: Socket | null = null;
const g: Gather = { buf: null, start: 0, end: 0, limit: 0, cb: undefined };
let slab: Buffer | null = null;
let top = 0;

/** Bytes gathered for `socket` and not yet handed to it (they count in `bufferedAmount`). */
export function gathered(socket: Socket): number {
  return socket === reading && g.buf !== null ? g.end - g.start : 0;
}

/** Hands what is gathered to the socket being read (dropped if it is gone or ended). */
function flush(): void {
  const buf = g.buf;
  if (buf === null) return;
  // The unused tail of the newest region goes back to the slab: the next region follows on.
  if (buf === slab && top === g.limit) top = g.end;
  g.buf = null;
  const start = g.start;
  const end = g.end;
  g.start = g.end = g.limit = 0;
  const cb = g.cb;
  g.cb = undefined;
  const s = reading!;
  if (end > start && !s.destroyed && !s.writableEnded) s.write(buf.subarray(start, end), cb);
}

/**
 * Opens a region with room for `need` (≤ GATHER_MAX) bytes, after {@link PAD} bytes of its own:
 * an encoder may write up to PAD bytes before a chunk if it puts them back (writeBinary).
 */
function open(need: number): void {
  const want = need > MIN_REGION ? need : MIN_REGION;
  if (slab === null || SLAB_SIZE - top < want + PAD) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    top = 0;
  }
  g.buf = slab;
  g.start = g.end = top + PAD;
  g.limit = top = g.start + want;
}

/** Makes room for `n` more bytes (n ≤ GATHER_MAX), flushing first when the cap would be passed. */
function room(n: number): void {
  if (g.buf === null) return open(n);
  if (g.end + n <= g.limit) return;
  const used = g.end - g.start;
  if (used + n <= GATHER_MAX && g.buf === slab && top === g.limit) {
    // The newest region of the slab grows in place (up to GATHER_MAX and the end of the slab).
    let want = 2 * (g.limit - g.start);
    if (want < used + n) want = used + n;
    if (want > GATHER_MAX) want = GATHER_MAX;
    if (g.start + want > SLAB_SIZE) want = SLAB_SIZE - g.start;
    if (want >= used + n) {
      g.limit = top = g.start + want;
      return;
    }
  }
  // Full, or at the end of the slab: handed over as it is, and a new region opened.
  flush();
  open(n);
}

/** After `room(n)`: `cb` is to run once the bytes about to be gathered are handed to the OS. */
function setCallback(cb: (() => void) | undefined, n: number): void {
  if (cb === undefined || g.cb === cb) return;
  if (g.cb !== undefined) {
    // One callback per flush: the bytes of the other one go first.
    flush();
    open(n);
  }
  g.cb = cb;
}

/**
 * Writes `chunk` to `socket` after what is queued. During the socket's own read, a small chunk
 * that finds bytes queued is gathered; otherwise it is written as it is (outside reads: the
 * socket held to the end of the turn). `cb` runs once it is handed to the OS. Returns false at or
 * above the socket's high-water mark, gathered bytes included (as `socket.write`).
 */
export function writeOut(socket: Socket, chunk: Uint8Array, cb?: () => void): boolean {
  let ok: boolean;
  if (socket === reading) {
    const n = chunk.length;
    if (n <= COPY_MAX && n !== 0 && (g.buf !== null || socket.writableLength !== 0)) {
      room(n);
      setCallback(cb, n);
      g.buf!.set(chunk, g.end);
      g.end += n;
      ok = socket.writableLength + g.end - g.start < socket.writableHighWaterMark;
    } else {
      flush();
      ok = socket.write(chunk, cb);
    }
  } else {
    holdWrites(socket);
    ok = socket.write(chunk, cb);
  }
  if (!ok) releaseIfFull(socket);
  return ok;
}

/** Whether a small frame for `socket` would be gathered now (then it is best encoded into the gather buffer directly). */
export function hasCompany(socket: Socket): boolean {
  return socket === reading && (g.buf !== null || socket.writableLength !== 0);
}

/**
 * Room for `n` bytes (≤ GATHER_MAX) at `g.end` of `g.buf`, for a caller that encodes into the
 * gather buffer directly (only when {@link hasCompany} said so); it then calls {@link commit}.
 */
export function reserve(n: number, cb?: () => void): Gather {
  room(n);
  setCallback(cb, n);
  return g;
}

/** `n` bytes were written at `g.end` (after {@link reserve}) for `socket`. Returns false at or above its high-water mark. */
export function commit(socket: Socket, n: number): boolean {
  g.end += n;
  const ok = socket.writableLength + g.end - g.start < socket.writableHighWaterMark;
  if (!ok) releaseIfFull(socket);
  return ok;
}

/** Hands what is gathered for `socket` to it now (before `uncork()`). */
export function flushOut(socket: Socket): void {
  if (socket === reading) flush();
}

/** Flushes what is gathered, then ends the socket (if not already ended). */
export function endOut(socket: Socket): void {
  flushOut(socket);
  if (!socket.destroyed && !socket.writableEnded) socket.end();
}

/** A read of `socket` starts: it is corked, and what it writes meanwhile leaves at {@link readDone}. Returns the token for it. */
export function readStart(socket: Socket): Socket | null {
  const prev = reading;
  // Reads do not nest in practice; if one did, the outer socket's bytes go first.
  if (prev !== null) flush();
  socket.cork();
  reading = socket;
  return prev;
}

/** The read of `socket` is done: what was gathered is written, then the socket is uncorked. */
export function readDone(socket: Socket, prev: Socket | null): void {
  flush();
  reading = prev;
  socket.uncork();
}

/** @internal gather states in use now (tests: none once the read is over). */
export function liveGathers(): number {
  return g.buf !== null ? 1 : 0;
}

/** @internal sockets corked until the end of this turn (tests). */
export function heldSockets(): number {
  let n = 0;
  for (const s of held) if ((s as HeldSocket)[HELD] === true) n++;
  return n;
}
