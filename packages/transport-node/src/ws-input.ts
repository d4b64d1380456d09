import type { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import { CloseCode, WsError, type Receiver } from '@stelar/codec-ws';
import { readDone, readStart } from './coalesce';
import type { InputEntry, InputGuard } from './input-guard';

/**
 * The reading side of one WsConnection: the socket's data into the codec-ws `Receiver`, flow
 * control (paused by the user, or while an inflate holds input) and the shared input guard's
 * budget and deadline for a message left unfinished. The receiver's callbacks go to the
 * connection; this object only decides when the socket reads.
 */
export class WsInput {
  /** An inflate is holding input: the socket stays paused until the receiver drains. */
  private busy = false;
  private userPaused = false;
  /** Created when a message first stays unfinished after a read. */
  private entry: InputEntry | undefined;

  constructor(
    private readonly socket: Socket,
    readonly receiver: Receiver,
    private readonly guard: InputGuard | undefined,
  ) {}

  /** A chunk from the socket. Frames written while it is handled (replies, pongs) leave when it is done, small ones in one buffer. */
  push(chunk: Buffer): void {
    const s = this.socket;
    const token = readStart(s);
    try {
      const r = this.receiver;
      if (!r.push(chunk)) {
        this.busy = true;
        s.pause();
      }
      // Messages that end inside this chunk cost nothing here; only one left unfinished does.
      if (this.guard !== undefined && (this.entry?.started === true || !r.isIdle)) this.track();
    } finally {
      readDone(s, token);
    }
  }

  /** The receiver drained after an inflate; `open`: the socket may read again (unless the user paused it). */
  drained(open: boolean): void {
    this.busy = false;
    if (this.guard !== undefined) this.track();
    if (open && !this.userPaused) this.socket.resume();
  }

  /** Stops reading from the peer (the guard's message deadline stops too). */
  pause(): void {
    this.userPaused = true;
    this.socket.pause();
    if (this.entry) this.guard!.pause(this.entry);
  }

  /** Resumes reading (unless an inflate is still holding input); `open`: the connection is not closed. */
  resume(open: boolean): void {
    this.userPaused = false;
    if (this.entry) this.guard!.resume(this.entry);
    if (!this.busy && open) this.socket.resume();
  }

  /**
   * The receiver takes no more input (peer's close, or a protocol error, possibly found while
   * an inflate held reading paused): keep reading so the peer's close frame and FIN are seen.
   */
  readToEnd(): void {
    this.busy = false;
    if (!this.socket.destroyed) this.socket.resume();
  }

  /** Nothing more is unfinished: gives the guard its budget back. */
  release(): void {
    if (this.entry) this.guard!.release(this.entry);
  }

  /** The connection is closed: the receiver drops what it holds, the guard gets its budget back. */
  destroy(): void {
    this.receiver.destroy();
    this.release();
  }

  /** Reports the unfinished message (if any) to the guard; over its budget, fails with 1013. */
  private track(): void {
    const guard = this.guard!;
    const r = this.receiver;
    const e = (this.entry ??= guard.track(() => this.fail('WS_MESSAGE_TIMEOUT', CloseCode.POLICY_VIOLATION, `Message not completed within ${guard.messageTimeout} ms`)));
    if (r.isDone) {
      guard.release(e);
      return;
    }
    const idle = r.isIdle;
    if (!guard.update(e, r.pendingBytes, !idle, r.messagesReceived)) {
      this.fail('WS_OVERLOADED', CloseCode.TRY_AGAIN_LATER, 'Server budget for unfinished messages is full, try again later');
    }
  }

  private fail(code: 'WS_OVERLOADED' | 'WS_MESSAGE_TIMEOUT', closeCode: number, message: string): void {
    this.release();
    // Drops what the receiver holds and reports through onError, like a protocol violation.
    this.receiver.abort(new WsError(code, closeCode, message));
  }
}
