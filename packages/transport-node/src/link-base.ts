import type { Frame } from '@stelar/codec-tcp';
import { SendStatus, type Link, type LinkHandler, type TransportName } from '@stelar/core/internal';
import type { ConnectionSlot } from './limits';
import type { ErrorReporter, LinkLimits } from './options';

/** Close code a link uses when its outgoing buffer overflows (docs/protocol.md §5). */
export const SLOW_CONSUMER = 4006;
/** Close code when a handler throws. */
export const INTERNAL_ERROR = 1011;

const NOOP: LinkHandler = {
  onFrame: () => undefined,
  onProtocolError: () => undefined,
  onPong: () => undefined,
  onDrain: () => undefined,
  onClose: () => undefined,
};

/** Facts fixed when a link opens. */
export interface LinkInit {
  readonly transport: TransportName;
  readonly remoteAddress: string;
  readonly remotePort?: number | undefined;
  readonly upgradeRequest?: NonNullable<Link['upgradeRequest']>;
}

/**
 * What both transports share: the send admission policy (high-water mark, volatile drops, the
 * slow-consumer cut-off), drain signalling, exactly-once `onClose`, handler isolation.
 */
export abstract class BaseLink implements Link {
  readonly transport: TransportName;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  readonly upgradeRequest?: NonNullable<Link['upgradeRequest']>;
  protected handler: LinkHandler = NOOP;
  protected readonly limits: LinkLimits;
  protected readonly report: ErrorReporter;
  /** `close` or `terminate` was called, or the peer closed: sends are refused. */
  protected closing = false;
  /** A protocol error was reported: inbound frames are ignored from now on. */
  protected failed = false;
  private closed = false;
  /** We answered BUFFERED or DROPPED: `onDrain` is owed once the queue empties. */
  private owesDrain = false;
  private slot: ConnectionSlot | undefined;

  constructor(init: LinkInit, limits: LinkLimits, report: ErrorReporter, slot?: ConnectionSlot) {
    this.slot = slot;
    this.transport = init.transport;
    this.remoteAddress = init.remoteAddress;
    if (init.remotePort !== undefined) this.remotePort = init.remotePort;
    if (init.upgradeRequest !== undefined) this.upgradeRequest = init.upgradeRequest;
    this.limits = limits;
    this.report = report;
  }

  /** Connects the core's handler (a server link gets it from `acceptor.accept(link)`). */
  attach(handler: LinkHandler): void {
    this.handler = handler;
  }

  abstract readonly bufferedAmount: number;
  /** Whether the underlying connection still takes frames. */
  protected abstract get writable(): boolean;
  /** Writes one Stelar frame (with its totalLen). */
  protected abstract write(frame: Uint8Array): void;
  abstract ping(): void;
  abstract close(code: number, reason: string): void;
  abstract terminate(): void;
  abstract pause(): void;
  abstract resume(): void;

  send(frame: Uint8Array, volatile = false): SendStatus {
    if (this.closing || !this.writable) return SendStatus.CLOSED;
    const limits = this.limits;
    const buffered = this.bufferedAmount;
    if (buffered > limits.highWaterMark) {
      this.owesDrain = true;
      if (volatile) return SendStatus.DROPPED;
    }
    if (buffered > 0 && buffered + frame.length > limits.maxBufferedAmount) {
      this.close(SLOW_CONSUMER, 'slow consumer: outgoing buffer overflow');
      return SendStatus.CLOSED;
    }
    this.write(frame);
    if (this.bufferedAmount > limits.highWaterMark) {
      this.owesDrain = true;
      return SendStatus.BUFFERED;
    }
    return SendStatus.OK;
  }

  /** The queue emptied. */
  protected drained(): void {
    if (!this.owesDrain || this.closed) return;
    this.owesDrain = false;
    this.call(() => this.handler.onDrain());
  }

  /** Reports a protocol error once, then makes sure the link closes with its code. */
  protected protocolError(code: string, message: string, closeCode: number): void {
    if (this.failed || this.closed) return;
    this.failed = true;
    this.call(() => this.handler.onProtocolError({ code, message, closeCode }));
    if (!this.closing) this.close(closeCode, message);
  }

  /** Delivers a frame; a throwing handler closes the link with 1011. (No closure per frame.) */
  protected deliver(frame: Frame, size: number): void {
    try {
      this.handler.onFrame(frame, size);
    } catch (err) {
      this.report(err);
      if (!this.closing) this.close(INTERNAL_ERROR, 'internal error');
    }
  }

  /** The socket is gone: `onClose` exactly once, and the connection slot is released. `remote`: the code came from the peer. */
  protected finish(code: number, reason: string, remote = false): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    this.slot?.release();
    this.call(() => this.handler.onClose(code, reason, remote));
  }

  protected call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.report(err);
    }
  }
}
