import type { Socket } from 'node:net';

/**
 * Write coalescing across one event-loop turn (as uWebSockets.js corks): the first write to a
 * socket that nobody has corked corks it, and every socket corked this way is uncorked once, after
 * the I/O callbacks of the turn (`setImmediate`). A burst of broadcasts handled in one turn then
 * leaves as one `writev` system call per recipient instead of one `write` per message.
 *
 * Writes made while a socket is already corked (a reply written while that socket's own read is
 * handled, which corks it until the read is done) are not deferred: a reply still leaves at the
 * end of the read that caused it, so one connection's round trip gets no extra latency.
 *
 * Held bytes count in the socket's `writableLength`, which the links' backpressure reads. So that
 * they do not pass for a slow peer, a held socket is released at once when they reach its
 * `writableHighWaterMark` (16 KiB by default): the kernel is offered them right away, and only
 * what it refuses stays queued, as without coalescing.
 */
const HELD = Symbol('stelar.held');
type HeldSocket = Socket & { [HELD]?: boolean };

let held: Socket[] = [];
let spare: Socket[] = [];
let scheduled = false;

function flush(): void {
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
    setImmediate(flush);
  }
}

/** After a write: a held socket with a high-water mark's worth of bytes is released now. */
export function releaseIfFull(socket: Socket): void {
  if ((socket as HeldSocket)[HELD] === true && socket.writableLength >= socket.writableHighWaterMark) release(socket);
}

/** @internal sockets corked until the end of this turn (tests). */
export function heldSockets(): number {
  let n = 0;
  for (const s of held) if ((s as HeldSocket)[HELD] === true) n++;
  return n;
}
