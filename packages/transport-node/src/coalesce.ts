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
 * Combining: while a socket is corked, a small chunk (≤ {@link COPY_MAX}) that finds bytes
 * already queued is copied into a gather buffer instead of becoming one more entry of the
 * socket's Writable queue; the gather buffer is handed to the socket as ONE `write` when the cork
 * ends (end of the read, end of the turn, `link.uncork()`, `end()`), when it reaches
 * {@link GATHER_MAX}, or before a bigger chunk (written as it is: large payloads are not copied).
 * N small frames then cost two queue entries, not N, and no per-frame Buffer conversion. The
 * first chunk of a cork is written as it is: a broadcast frame shared by every recipient stays
 * shared (and uncopied) when it is each one's only frame.
 *
 * Memory: a gather state exists only between a socket's second small write and the end of the
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
/** Spare gather states kept for reuse (process-wide; a few: a burst to 1000 sockets makes 1000 anyway). */
const POOL_MAX = 64;
/** Bytes before each region that belong to it (see `open`). */
export const PAD = 4;

/** Listed for the end of the turn: corked by us (HELD) or not (LISTED: released, or corked by someone else). */
const HELD = 1;
const LISTED = 2;
const TURN = Symbol('stelar.turn');
// Set on a socket only once it is held (as before combining); the gather states are in `outs`,
// not on the sockets: no property, so no memory, per idle connection.
type OutSocket = Socket & { [TURN]?: number };

/** What is gathered for one socket during one cork. */
class Out {
  socket: Socket | null = null;
  /** The slab holding this socket's region [start, limit), filled up to `end`. */
  buf: Buffer | null = null;
  start = 0;
  end = 0;
  limit = 0;
  /** A write callback asked for (a drain check): attached to the flush's `write`. */
  cb: (() => void) | undefined = undefined;
}
export type { Out };

let slab: Buffer | null = null;
let top = 0;
const pool: Out[] = [];
/** The gather states of sockets now (at most one turn each). */
const outs = new Map<Socket, Out>();
/** The last socket found in `outs` (a read's replies all go to one socket). */
let lastSocket: Socket | null = null;
let lastOut: Out | undefined;

function outOf(s: Socket): Out | undefined {
  if (s === lastSocket) return lastOut;
  if (outs.size === 0) return undefined;
  const o = outs.get(s);
  if (o !== undefined) {
    lastSocket = s;
    lastOut = o;
  }
  return o;
}
let listed: Socket[] = [];
let spare: Socket[] = [];
let scheduled = false;
/** The socket whose read is being handled (its writes leave when the read is done). */
let reading: Socket | null = null;

/** Bytes gathered for `socket` and not yet handed to it (they count in `bufferedAmount`). */
export function gathered(socket: Socket): number {
  const o = outOf(socket);
  return o === undefined ? 0 : o.end - o.start;
}

function list(s: OutSocket, state: number): void {
  if (!s[TURN]) {
    listed.push(s);
    if (!scheduled) {
      scheduled = true;
      setImmediate(endOfTurn);
    }
  }
  s[TURN] = state;
}

/** Before a write: a socket nobody corks is corked until the end of the turn. */
function prepare(s: Socket): void {
  if (s.writableCorked === 0) {
    s.cork();
    list(s, HELD);
  }
}

/** A gather state for `s` (listed for the end of the turn unless its own read flushes it). */
function startOut(s: Socket): Out {
  const o = pool.pop() ?? new Out();
  o.socket = s;
  outs.set(s, o);
  lastSocket = s;
  lastOut = o;
  if (s !== reading && !(s as OutSocket)[TURN]) list(s, LISTED);
  return o;
}

/** Flushes and drops the gather state of `s`, if any. */
function dropOut(s: Socket): void {
  const o = outOf(s);
  if (o === undefined) return;
  outs.delete(s);
  if (lastSocket === s) {
    lastSocket = null;
    lastOut = undefined;
  }
  flush(o);
  o.socket = null;
  o.cb = undefined;
  if (pool.length < POOL_MAX) pool.push(o);
}

/** Hands what is gathered to the socket (dropped if the socket is gone or ended). */
function flush(o: Out): void {
  const buf = o.buf;
  if (buf === null) return;
  // The unused tail of the newest region goes back to the slab: the next region follows on.
  if (buf === slab && top === o.limit) top = o.end;
  o.buf = null;
  const start = o.start;
  const end = o.end;
  o.start = o.end = o.limit = 0;
  const cb = o.cb;
  o.cb = undefined;
  const s = o.socket!;
  if (end > start && !s.destroyed && !s.writableEnded) s.write(buf.subarray(start, end), cb);
}

function endOfTurn(): void {
  scheduled = false;
  // Swap first: writes made while flushing wait for the next turn.
  const sockets = listed;
  listed = spare;
  spare = sockets;
  for (let i = 0; i < sockets.length; i++) {
    const s = sockets[i] as OutSocket;
    const state = s[TURN];
    // Cleared first: an uncork can run code that writes again, which then lists it anew.
    s[TURN] = 0;
    dropOut(s);
    // end() and destroy() may have uncorked it already; uncork() is then a no-op.
    if (state === HELD) s.uncork();
  }
  sockets.length = 0;
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
  if (o.buf === null) return open(o, n);
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

/** After `room(o, n)`: `cb` is to run once the bytes about to be gathered are handed to the OS. */
function setCallback(o: Out, cb: (() => void) | undefined, n: number): void {
  if (cb === undefined || o.cb === cb) return;
  if (o.cb !== undefined) {
    // One callback per flush: the bytes of the other one go first.
    flush(o);
    open(o, n);
  }
  o.cb = cb;
}

/** After a write: true below the high-water mark (as `socket.write`); a held socket at or above it is released now. */
function settle(s: Socket): boolean {
  const o = outOf(s);
  const ok = s.writableLength + (o === undefined ? 0 : o.end - o.start) < s.writableHighWaterMark;
  if (!ok && (s as OutSocket)[TURN] === HELD) {
    if (o !== undefined) flush(o);
    (s as OutSocket)[TURN] = LISTED;
    s.uncork();
  }
  return ok;
}

/**
 * Writes `chunk` to `socket` after what is queued: a small one is gathered when bytes are
 * already queued, a big one goes as it is after what is gathered. `cb` runs once it is handed to
 * the OS. Returns false at or above the socket's high-water mark (as `socket.write`).
 */
export function writeOut(socket: Socket, chunk: Uint8Array, cb?: () => void): boolean {
  prepare(socket);
  const n = chunk.length;
  let o = outOf(socket);
  if (n > COPY_MAX || n === 0) {
    if (o !== undefined) flush(o);
    socket.write(chunk, cb);
  } else if (o === undefined && socket.writableLength === 0) {
    // The first chunk of this cork: as it is (a broadcast frame stays shared, a lone reply uncopied).
    socket.write(chunk, cb);
  } else {
    o ??= startOut(socket);
    room(o, n);
    setCallback(o, cb, n);
    o.buf!.set(chunk, o.end);
    o.end += n;
  }
  return settle(socket);
}

/** Whether a small frame for `socket` would now join bytes already queued (then it is best encoded into the gather buffer). */
export function hasCompany(socket: Socket): boolean {
  return socket.writableLength !== 0 || outOf(socket) !== undefined;
}

/**
 * Room for `n` bytes (≤ GATHER_MAX) at `o.end` of `o.buf`, for a caller that encodes into
 * the gather buffer directly; it then calls {@link commit}.
 */
export function reserve(socket: Socket, n: number, cb?: () => void): Out {
  prepare(socket);
  const o = outOf(socket) ?? startOut(socket);
  room(o, n);
  setCallback(o, cb, n);
  return o;
}

/** `n` bytes were written at `o.end` (after {@link reserve}). Returns false at or above the high-water mark. */
export function commit(o: Out, n: number): boolean {
  o.end += n;
  return settle(o.socket!);
}

/** Hands what is gathered for `socket` to it now (before `uncork()` and `end()`). */
export function flushOut(socket: Socket): void {
  const o = outOf(socket);
  if (o !== undefined) flush(o);
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
  dropOut(socket);
  socket.uncork();
}

/** Corks `socket` until the end of this turn, unless something already holds it corked. */
export function holdWrites(socket: Socket): void {
  prepare(socket);
}

/** @internal gather states attached to sockets now (tests: none once the turn is over). */
export function liveGathers(): number {
  return outs.size;
}

/** @internal sockets corked until the end of this turn (tests). */
export function heldSockets(): number {
  let n = 0;
  for (const s of listed) if ((s as OutSocket)[TURN] === HELD) n++;
  return n;
}
