// The options, events and observer of a WsConnection (ws-connection.ts).
import type { Buffer } from 'node:buffer';
import type { PerMessageDeflate, Role, WsError } from '@stelar/codec-ws';
import type { InputGuard } from './input-guard';

/** Frames up to this size (header + payload) are written as one merged buffer; bigger ones as two corked writes. */
export const MERGE_MAX = 16 * 1024;
export interface WsConnectionOptions {
  /** `server`: we accept masked frames and send unmasked ones; `client`: the reverse. */
  role: Role;
  /** The connection's permessage-deflate instance, when negotiated (it is closed with the connection). */
  deflate?: PerMessageDeflate | undefined;
  /** Largest message accepted (after assembly and inflation). Default 16 MiB. Above: close 1009. */
  maxMessageSize?: number;
  /** Largest single frame payload accepted. Default: `maxMessageSize`. */
  maxFrameSize?: number;
  /** How long (ms) the closing handshake may take before the socket is destroyed. Default 5000. */
  closeTimeout?: number;
  /** Bytes already read past the opening handshake (the `head` of an `'upgrade'` event). */
  head?: Buffer | undefined;
  /** The negotiated subprotocol, if any (informational). */
  protocol?: string | undefined;
  /**
   * Bounds on unfinished messages (budget and deadline), shared with other connections: over the
   * budget the connection fails with 1013 (`WS_OVERLOADED`), past the deadline with 1008
   * (`WS_MESSAGE_TIMEOUT`), reported like protocol errors. Default: none.
   */
  guard?: InputGuard | undefined;
}

export type WsReadyState = 'open' | 'closing' | 'closed';

/** @internal What a link on a {@link WsConnection} is told (see `setObserver`). */
export interface WsConnectionObserver {
  onWsMessage(data: Buffer, isBinary: boolean): void;
  onWsProtocolError(err: WsError): void;
  onWsPing(): void;
  onWsPong(): void;
  onWsDrain(): void;
  onWsClose(code: number, reason: string): void;
}

/** Events of a {@link WsConnection}. */
export interface WsConnectionEvents {
  /** A complete data message (`isBinary` false for text, already checked to be UTF-8). */
  message: [data: Buffer, isBinary: boolean];
  /** A ping (already answered with a pong). */
  ping: [payload: Buffer];
  pong: [payload: Buffer];
  /** Everything queued has been handed to the OS after a period of backpressure. */
  drain: [];
  /**
   * The peer broke RFC 6455 (or sent too big a message). A listener may call `close(code)` itself;
   * otherwise the connection is failed with `error.closeCode` right after the event.
   */
  protocolError: [error: WsError];
  /**
   * The socket is gone; emitted exactly once. `code` follows RFC 6455 §7.1.5: the code of the
   * peer's close frame, 1005 if it had none, 1006 if no close frame was received at all.
   */
  close: [code: number, reason: string];
}
