import type { Frame } from '@stelar/codec-tcp';

/** What happened to a frame handed to `Link.send`. */
export const SendStatus = {
  /** Written, or queued under the high-water mark. */
  OK: 0,
  /** Queued, but the outgoing buffer is now above the high-water mark (backpressure). */
  BUFFERED: 1,
  /** A volatile frame dropped because the outgoing buffer was above the high-water mark. */
  DROPPED: 2,
  /** Not sent: the link is closing or closed (or overflowed and closed itself). */
  CLOSED: 3,
} as const;
export type SendStatus = (typeof SendStatus)[keyof typeof SendStatus];

/** Transport names a link reports. */
export type TransportName = 'ws' | 'wss' | 'tcp' | 'tls' | (string & {});

/** Facts about the peer, fixed when the link opens. */
export interface LinkInfo {
  readonly transport: TransportName;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  /** The HTTP upgrade request (WebSocket only). */
  readonly upgradeRequest?: {
    readonly url: string;
    readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  };
}

/**
 * One connection as the core sees it. A transport implements it; the core never sees a socket.
 *
 * Frames are encoded once, complete with their 4-byte totalLen (docs/protocol.md §1). A TCP link
 * writes them as they are; a WebSocket link writes `frame.subarray(4)` as one binary message. The
 * same frame object may be sent on many links (broadcast): links must not modify it.
 */
export interface Link extends LinkInfo {
  /**
   * Queues a frame; never throws. A volatile frame may be dropped under backpressure.
   * `compress: false` asks a transport that compresses (WebSocket permessage-deflate) to send this
   * frame uncompressed; `true` or omitted leaves it to the transport's rule (its threshold).
   */
  send(frame: Uint8Array, volatile?: boolean, compress?: boolean): SendStatus;
  /** Sends a liveness probe (TCP: a PING frame; WebSocket: a ping control frame). */
  ping(): void;
  /**
   * Closes: flushes what is queued (bounded by the transport's close timeout), tells the peer
   * (TCP: DISCONNECT frame; WebSocket: close frame) with `code` and `reason`, then ends. The
   * handler's `onClose` follows once the socket is gone.
   */
  close(code: number, reason: string): void;
  /** Destroys the connection at once, without a closing handshake (dead peers). */
  terminate(): void;
  /** Stops reading from the peer (inbound backpressure). */
  pause(): void;
  /** Resumes reading. */
  resume(): void;
  /** Bytes queued for the peer and not yet handed to the OS. */
  readonly bufferedAmount: number;
  /**
   * Optional: holds this link's writes until `uncork()`, so the frames sent meanwhile leave in
   * one system call (a cluster adapter corks the recipients of a burst of remote broadcasts).
   * Calls nest; every `cork()` is followed by one `uncork()`.
   */
  cork?(): void;
  uncork?(): void;
}

/** What the core gives a transport for each link it opens. */
export interface LinkHandler {
  /** A decoded frame arrived; `size` is its size on the wire in bytes. */
  onFrame(frame: Frame, size: number): void;
  /**
   * The peer broke the protocol (a codec error). The core counts it and closes the link with
   * the error's close code; the transport only stops decoding.
   */
  onProtocolError(error: { code: string; message: string; closeCode: number }): void;
  /** Any sign of life that is not a frame (a WebSocket pong). */
  onPong(): void;
  /** The outgoing buffer fell back below its low-water mark. */
  onDrain(): void;
  /**
   * The link is closed; called exactly once. `code` is what was sent or received (1006 if none).
   * `remote` is true when `code` and `reason` came from the peer (its close frame or DISCONNECT),
   * false when this side chose them: a server hub checks a peer's code (docs/protocol.md §5)
   * and never takes it for one of its own decisions. Omitted: taken as this side's.
   */
  onClose(code: number, reason: string, remote?: boolean): void;
}
