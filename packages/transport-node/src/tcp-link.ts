import type { Socket } from 'node:net';
import {
  DisconnectCode,
  ErrorCode,
  encodeDisconnect,
  encodePing,
  FrameDecoder,
  FrameError,
  FrameType,
  parseDisconnect,
  type Frame,
} from '@stelar/codec-tcp';
import { CloseCode } from '@stelar/codec-ws';
import { endOut, flushOut, gathered, readDone, readStart, writeOut } from './coalesce';
import type { InputEntry, InputGuard } from './input-guard';
import { BaseLink, type LinkInit } from './link-base';
import type { ConnectionSlot } from './limits';
import type { ErrorReporter, LinkLimits } from './options';

const PING = encodePing();
export interface TcpLinkOptions {
  /** Largest frame accepted (totalLen included); bigger ones are refused from their header. */
  maxFrameSize: number;
  limits: LinkLimits;
  report: ErrorReporter;
  slot?: ConnectionSlot | undefined;
  /** Bounds on unfinished frames (budget and deadline), shared with other connections. Default: none. */
  guard?: InputGuard | undefined;
  /** @internal Called once the socket has closed, after `onClose` (the listener's bookkeeping). */
  onGone?: ((link: TcpLink) => void) | undefined;
}

const OWNER = Symbol('stelar.tcpLink');
type OwnedSocket = Socket & { [OWNER]: TcpLink };

function onSocketData(this: Socket, chunk: Buffer): void {
  (this as OwnedSocket)[OWNER].socketData(chunk);
}
function destroySocket(this: Socket): void {
  this.destroy();
}
function onSocketEnd(this: Socket): void {
  (this as OwnedSocket)[OWNER].socketEnd();
}
function onSocketDrain(this: Socket): void {
  (this as OwnedSocket)[OWNER].socketDrain();
}
function onSocketClose(this: Socket): void {
  (this as OwnedSocket)[OWNER].socketClose();
}

/**
 * A core `Link` over a TCP or TLS socket carrying Stelar frames back to back (docs/protocol.md §1).
 *
 * `close(code, reason)` writes a DISCONNECT frame after what is queued, half-closes, and destroys
 * the socket if the peer has not closed `closeTimeout` ms later. A DISCONNECT received from the
 * peer is passed up like any frame and remembered, so `onClose` reports the peer's code and
 * reason; a socket that just died reports 1006.
 */
export class TcpLink extends BaseLink {
  readonly socket: Socket;
  private readonly decoder: FrameDecoder;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The first close of either side: what `onClose` reports (`remote`: the peer's DISCONNECT). */
  private first: { code: number; reason: string; remote: boolean } | undefined;
  private readonly guard: InputGuard | undefined;
  /** Created when a frame first spans reads. */
  private input: InputEntry | undefined;
  private readonly onGone: ((link: TcpLink) => void) | undefined;

  constructor(socket: Socket, init: LinkInit, options: TcpLinkOptions) {
    super(init, options.limits, options.report, options.slot);
    this.socket = socket;
    this.guard = options.guard;
    this.onGone = options.onGone;
    this.decoder = new FrameDecoder((frame, size) => this.onFrame(frame, size), { maxFrameSize: options.maxFrameSize });
    socket.setNoDelay(true);
    socket.setTimeout(0);
    // Shared listener functions that find this link on the socket: no closures per connection.
    (socket as OwnedSocket)[OWNER] = this;
    socket.on('data', onSocketData);
    socket.on('error', destroySocket);
    socket.on('end', onSocketEnd);
    socket.on('drain', onSocketDrain);
    socket.on('close', onSocketClose);
    if (socket.destroyed) process.nextTick(onSocketClose.bind(socket));
  }

  /** @internal (socket) the peer half-closed: finish our side after what is queued (the socket may allow half-open). */
  socketEnd(): void {
    endOut(this.socket);
    this.startCloseTimer();
  }

  /** @internal (socket) */
  socketData(chunk: Buffer): void {
    this.onData(chunk);
  }

  /** @internal (socket) */
  socketDrain(): void {
    this.drained();
  }

  /** @internal (socket) */
  socketClose(): void {
    try {
      this.onSocketClose();
    } finally {
      this.onGone?.(this);
    }
  }

  get bufferedAmount(): number {
    const s = this.socket;
    return s.writableLength + gathered(s);
  }

  protected get writable(): boolean {
    const s = this.socket;
    return !s.destroyed && !s.writableEnded;
  }

  protected write(frame: Uint8Array): void {
    // During this socket's own read small frames are gathered into one buffer; outside its reads
    // (a broadcast, a timer) writes wait for the end of the turn: see coalesce.ts.
    writeOut(this.socket, frame);
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    const s = this.socket;
    flushOut(s);
    s.uncork();
  }

  ping(): void {
    if (this.closing || !this.writable) return;
    writeOut(this.socket, PING);
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.first ??= { code, reason, remote: false };
    const s = this.socket;
    if (!s.destroyed && !s.writableEnded) {
      writeOut(s, encodeDisconnect(code, reason));
      endOut(s);
    }
    this.startCloseTimer();
  }

  terminate(): void {
    this.closing = true;
    this.socket.destroy();
  }

  pause(): void {
    this.socket.pause();
    if (this.input) this.guard!.pause(this.input);
  }

  resume(): void {
    if (this.input) this.guard!.resume(this.input);
    if (!this.socket.destroyed) this.socket.resume();
  }

  private onData(chunk: Buffer): void {
    if (this.failed) return;
    // Everything written while this chunk is handled (replies, acks, pongs) leaves when the chunk
    // is done, small frames gathered into one buffer: one write, not one per frame.
    const s = this.socket;
    const token = readStart(s);
    try {
      this.decoder.push(chunk);
    } catch (err) {
      if (err instanceof FrameError) this.protocolError(err.code, err.message, err.closeCode);
      else {
        // Thrown by our own frame callback (handler errors are caught there): treat as internal.
        this.report(err);
        this.protocolError('INTERNAL', String(err), DisconnectCode.INTERNAL_ERROR);
      }
    } finally {
      readDone(s, token);
    }
    // Frames that end inside this chunk cost nothing here; only a frame left unfinished does.
    if (this.guard !== undefined && (this.input?.started === true || this.decoder.bufferedBytes !== 0)) this.trackInput();
  }

  /** Reports the unfinished frame (if any) to the guard; over its budget, fails with 1013. */
  private trackInput(): void {
    const guard = this.guard!;
    const e = (this.input ??= guard.track(() => this.inputFailed(ErrorCode.MESSAGE_TIMEOUT, `frame not completed within ${guard.messageTimeout} ms`, DisconnectCode.POLICY_VIOLATION)));
    if (this.failed) {
      guard.release(e);
      return;
    }
    const held = this.decoder.bufferedBytes;
    if (!guard.update(e, held, held !== 0, this.decoder.assembledFrames)) {
      this.inputFailed(ErrorCode.OVERLOADED, 'server budget for unfinished messages is full, try again later', DisconnectCode.TRY_AGAIN_LATER);
    }
  }

  private inputFailed(code: string, message: string, closeCode: number): void {
    this.decoder.reset();
    if (this.input) this.guard!.release(this.input);
    this.protocolError(code, message, closeCode);
  }

  private onFrame(frame: Frame, size: number): void {
    if (frame.type === FrameType.DISCONNECT && this.first === undefined) {
      let body: { code: number; reason: string } | undefined;
      try {
        body = parseDisconnect(frame.payload);
      } catch {
        body = undefined;
      }
      this.first = { code: body ? body.code : CloseCode.NO_STATUS, reason: body ? body.reason : '', remote: true };
    }
    this.deliver(frame, size);
  }

  private startCloseTimer(): void {
    if (this.closeTimer !== undefined || this.socket.destroyed) return;
    this.closeTimer = setTimeout(() => this.socket.destroy(), this.limits.closeTimeout);
    this.closeTimer.unref?.();
  }

  private onSocketClose(): void {
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    this.decoder.reset();
    if (this.input) this.guard!.release(this.input);
    const first = this.first;
    this.finish(first ? first.code : CloseCode.ABNORMAL, first ? first.reason : '', first ? first.remote : false);
  }
}
