// The handlers and options of a Receiver (receiver.ts).
import type { WsError } from './errors';
import type { Role } from './frame';
import type { PerMessageDeflate } from './permessage-deflate';

/** Default cap on an assembled (and inflated) message: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
/** Events of a {@link Receiver}. Handlers run synchronously inside `push` (or a zlib callback). */
export interface ReceiverHandlers {
  /** A complete message. `data` may be a view into a pushed chunk (unmasked in place). */
  onMessage(data: Buffer, isBinary: boolean): void;
  /** A ping; the transport should answer with a pong carrying `payload`. */
  onPing(payload: Buffer): void;
  /** A pong. */
  onPong(payload: Buffer): void;
  /**
   * The peer's close frame (validated). `code` is undefined for an empty body. No further input
   * is processed; the transport should echo a close frame (if it has not sent one) and end.
   */
  onClose(code: number | undefined, reason: string): void;
  /** A protocol violation: send a close frame with `err.closeCode`, then end the connection. */
  onError(err: WsError): void;
  /** Called after `push` returned false, once the receiver can take input again. */
  onDrain?(): void;
}

/** Options of {@link Receiver}. */
export interface ReceiverOptions {
  /** `server`: frames must be masked; `client`: frames must not be masked. */
  role: Role;
  /** Largest message (after assembly and inflation), bytes. Default 16 MiB. */
  maxMessageSize?: number;
  /** Largest single frame payload, bytes. Default: `maxMessageSize`. */
  maxFrameSize?: number;
  /**
   * Most raw input held, bytes (a compressed or control frame being read, plus anything pushed
   * while busy inflating). Exceeding it fails with 1008 `WS_BUFFER_OVERFLOW`. Default
   * `maxFrameSize + 1 MiB`; never less than `maxFrameSize + 14`.
   */
  maxBufferedBytes?: number;
  /** The connection's permessage-deflate instance when negotiated (enables RSV1). */
  deflate?: PerMessageDeflate | undefined;
}
