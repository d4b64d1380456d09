import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';

/**
 * Write coalescing and combining. Every write of the links goes through here.
 *
 * Corking (as uWebSockets.js does): while a socket's own read is handled it is corked, so the
 * replies written meanwhile leave when the read is done; a write outside its read (a broadcast, a
 * timer) corks it until the end of the event-loop turn (`setImmediate`). One connection's round
 * trip gets no extra latency, and a burst of broadcasts handled in one turn leaves in one system
 * call per recipient.
 *
 * Combining: while a socket is corked this way, small chunks (≤ {@link COPY_MAX}) are
 * copied into one contiguous gather buffer, handed to the socket as ONE `write` when the cork ends
 * (end of the read, end of the turn, `link.uncork()`, `end()`), when it reaches
 * {@link GATHER_MAX}, or before a bigger chunk (written as it is: large payloads are not copied).
 * Writing N small frames then costs one pass through the socket's Writable and no per-frame
 * Buffer conversion. A socket's first chunk of a cork is only referenced, not copied (a broadcast
 * frame shared by every recipient stays shared when it is each one's only frame).
 *
 * Memory: the gather state of a socket exists only between its first write and the end of the
 * cork (at most one turn); buffers are cut from a shared 64 KiB slab (a flushed buffer keeps its
 * slab alive until the socket has written it). Nothing stays per idle connection.
 *
 * Gathered and held bytes count in the links' `bufferedAmount`. So that they do not pass for a
 * slow peer, a socket corked to the end of the turn is released at once when they reach its
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
/** Smallest buffer cut for a socket (enough for a few small frames without growing). */
const MIN_REGION = 512;
/** Spare gather states kept for reuse (one per socket written in a turn is in use). */
const POOL_MAX = 256;
/** Bytes before each region that belong to it (see `open`). */
export const PAD = 4;

const OUT = Symbol('stelar.out');
type OutSocket = Socket & { [OUT]?: Out | null };

/** What is gathered for one socket during one cork. */
class Out {
  socket: Socket | null = null;
  /** The only chunk so far, not copied. */
  one: Uint8Array | null = null;
  /** The slab holding this socket's region [start, limit), filled up to `end`. */
  buf: Buffer | null = null;
  start = 0;
  end = 0;
  limit = 0;
  /** A write callback asked for (a drain check): attached to the flush's `write`. */
  cb: (() => void) | undefined = undefined;
  /** Corked by us until the end of the turn. */
  held = false;
  /** In the end-of-turn list. */
  listed = false;
}

let slab: Buffer | null = null;
let top = 0;
const pool: Out[] = [];
let listed: Out[] = [];
let spare: Out[] = [];
let scheduled = false;
/** The socket whose read is being handled (its writes leave when the read is done). */
let reading: Socket | null = null;

/** Prepares `socket` for the gather state (same shape for every socket a link owns). */
export function initOut(socket: Socket): void {
  (socket as OutSocket)[OUT] = null;
}

function bytesOf(o: Out): number {
  return o.one !== null ? o.one.length : o.end - o.start;
}

/** Bytes gathered for `socket` and not yet handed to it (they count in `bufferedAmount`). */
export function gathered(socket: Socket): number {
  const o = (socket as OutSocket)[OUT];
  return o == null ? 0 : bytesOf(o);
}

/** Gather states attached to sockets now. */
let live = 0;

function acquire(s: Socket): Out {
  live++;
  const o = pool.pop() ?? new Out();
  o.socket = s;
  (s as OutSocket)[OUT] = o;
  return o;
}

function recycle(o: Out): void {
  live--;
  o.socket = null;
  o.one = null;
  o.buf = null;
  o.start = o.end = o.limit = 0;
  o.cb = undefined;
  o.held = false;
  o.listed = false;
  if (pool.length < POOL_MAX) pool.push(o);
}

function schedule(o: Out): void {
  o.listed = true;
  listed.push(o);
  if (!scheduled) {
    scheduled = true;
    setImmediate(endOfTurn);
  }
}

/**
 * The gather state of `s` before a write: outside the socket's own read, it is corked until the
 * end of the turn (unless something else corks it) and listed for that turn's flush.
 */
function prepare(s: Socket): Out {
  let o = (s as OutSocket)[OUT];
  if (o == null) o = acquire(s);
  if (s !== reading && !o.listed) schedule(o);
  if (s.writableCorked === 0) {
    s.cork();
    o.held = true;
    if (!o.listed) schedule(o);
  }
  return o;
}

/** Takes what is gathered as one chunk (null if nothing) and empties the state. */
function take(o: Out): Uint8Array | null {
  if (o.one !== null) {
    const one = o.one;
    o.one = null;
    return one;
  }
  const buf = o.buf;
  if (buf === null) return null;
  // The unused tail of the newest region goes back to the slab: the next region follows on.
  if (buf === slab && top === o.limit) top = o.end;
  o.buf = null;
  const chunk = o.end > o.start ? buf.subarray(o.start, o.end) : null;
  o.start = o.end = o.limit = 0;
  return chunk;
}

/** Hands what is gathered to the socket (dropped if the socket is gone or ended). */
function flush(o: Out): void {
  const chunk = take(o);
  const cb = o.cb;
  o.cb = undefined;
  const s = o.socket!;
  if (chunk !== null && !s.destroyed && !s.writableEnded) s.write(chunk, cb);
}

/** A gather state leaves its socket: flushed, uncorked if we corked it, recycled. */
function finish(o: Out): void {
  const s = o.socket!;
  // Detach first: an uncork can run code that writes again, which then starts a new state.
  (s as OutSocket)[OUT] = null;
  const held = o.held;
  flush(o);
  recycle(o);
  // end() and destroy() may have uncorked it already; uncork() is then a no-op.
  if (held) s.uncork();
}

function endOfTurn(): void {
  scheduled = false;
  // Swap first: writes made while flushing wait for the next turn.
  const list = listed;
  listed = spare;
  spare = list;
  for (let i = 0; i < list.length; i++) {
    const o = list[i]!;
    // Finished already? (recycled states have no socket, or belong to a later cork)
    if (o.listed && o.socket !== null) finish(o);
  }
  list.length = 0;
}

/**
 * Opens a region for `o` with room for `need` (≤ GATHER_MAX) bytes, after {@link PAD} bytes of its
 * own: an encoder may write up to PAD bytes before a chunk if it puts them back (writeBinary).
 */
function open(o: Out, need: number): void {
  const want = need > MIN_REGION ? need : MIN_REGION;
  if (slab === null || SLAB_SIZE - top < want + PAD) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    top = 0;
  }
  o.buf = slab;
  o.start = o.end = top + PAD;
  o.limit = top = o.start + want;
}

/** Makes room for `n` more bytes (n ≤ GATHER_MAX), flushing first when the cap would be passed. */
function room(o: Out, n: number): void {
  if (o.buf === null) {
    const one = o.one;
    if (one === null) return open(o, n);
    if (one.length + n > GATHER_MAX) {
      flush(o);
      return open(o, n);
    }
    o.one = null;
    open(o, one.length + n);
    o.buf!.set(one, o.end);
    o.end += one.length;
    return;
  }
  if (o.end + n <= o.limit) return;
  const used = o.end - o.start;
  if (used + n > GATHER_MAX) {
    flush(o);
    return open(o, n);
  }
  let want = 2 * (o.limit - o.start);
  if (want < used + n) want = used + n;
  if (want > GATHER_MAX) want = GATHER_MAX;
  if (o.buf === slab && top === o.limit) {
    // The newest region of the slab (one socket written at a time) grows in place; at the end of
    // the slab it is handed over as it is rather than copied to a new slab.
    if (o.start + want > SLAB_SIZE) want = SLAB_SIZE - o.start;
    if (want >= used + n) {
      o.limit = top = o.start + want;
      return;
    }
    flush(o);
    return open(o, n);
  }
  const old = o.buf;
  const from = o.start;
  o.buf = null;
  open(o, want);
  old.copy(o.buf!, o.start, from, from + used);
  o.end = o.start + used;
}

function setCallback(o: Out, cb: (() => void) | undefined): void {
  if (cb === undefined || o.cb === cb) return;
  // One callback per flush: a different one waits for the bytes before it to be handed over.
  if (o.cb !== undefined) flush(o);
  o.cb = cb;
}

/** After a write: true below the high-water mark (as `socket.write`); a held socket at or above it is released now. */
function settle(s: Socket, o: Out): boolean {
  const ok = s.writableLength + bytesOf(o) < s.writableHighWaterMark;
  if (!ok && o.held) {
    flush(o);
    o.held = false;
    s.uncork();
  }
  return ok;
}

/**
 * Writes `chunk` to `socket` after what is queued: gathered when small, else what is gathered
 * then `chunk` as it is. `cb` runs once it is handed to the OS. Returns false at or above the
 * socket's high-water mark (as `socket.write`).
 */
export function writeOut(socket: Socket, chunk: Uint8Array, cb?: () => void): boolean {
  const o = prepare(socket);
  const n = chunk.length;
  if (n > COPY_MAX) {
    flush(o);
    socket.write(chunk, cb);
  } else if (n !== 0) {
    setCallback(o, cb);
    if (o.one === null && o.buf === null) o.one = chunk;
    else {
      room(o, n);
      o.buf!.set(chunk, o.end);
      o.end += n;
    }
  }
  return settle(socket, o);
}

/**
 * Room for `n` bytes (≤ GATHER_MAX) at `o.end` of `o.buf`, for a caller that encodes into
 * the gather buffer directly; it then calls {@link commit}.
 */
export function reserve(socket: Socket, n: number, cb?: () => void): Out {
  const o = prepare(socket);
  setCallback(o, cb);
  room(o, n);
  return o;
}

/** `n` bytes were written at `o.end` (after {@link reserve}). Returns false at or above the high-water mark. */
export function commit(o: Out, n: number): boolean {
  o.end += n;
  return settle(o.socket!, o);
}

export type { Out };

/** Hands what is gathered for `socket` to it now (before `uncork()` and `end()`, or when the caller needs it written). */
export function flushOut(socket: Socket): void {
  const o = (socket as OutSocket)[OUT];
  if (o != null) flush(o);
}

/** Flushes what is gathered, then ends the socket (if not already ended). */
export function endOut(socket: Socket): void {
  flushOut(socket);
  if (!socket.destroyed && !socket.writableEnded) socket.end();
}

/** A read of `socket` starts: it is corked, and what it writes meanwhile leaves at {@link readDone}. Returns the token for it. */
export function readStart(socket: Socket): Socket | null {
  socket.cork();
  const prev = reading;
  reading = socket;
  return prev;
}

/** The read of `socket` is done: what was gathered is written, then the socket is uncorked. */
export function readDone(socket: Socket, prev: Socket | null): void {
  reading = prev;
  const o = (socket as OutSocket)[OUT];
  if (o != null) {
    if (o.listed) flush(o);
    else {
      (socket as OutSocket)[OUT] = null;
      flush(o);
      recycle(o);
    }
  }
  socket.uncork();
}

/** Whether `socket`'s own read is being handled now (its replies are gathered until the read ends). */
export function isReading(socket: Socket): boolean {
  return socket === reading;
}

/** Corks `socket` until the end of this turn, unless something already holds it corked. */
export function holdWrites(socket: Socket): void {
  prepare(socket);
}

/** @internal gather states attached to sockets now (tests: none once the turn is over). */
export function liveGathers(): number {
  return live;
}

/** @internal sockets corked until the end of this turn (tests). */
export function heldSockets(): number {
  let n = 0;
  for (const o of listed) if (o.held && o.socket !== null) n++;
  return n;
}
