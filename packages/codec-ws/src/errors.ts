/**
 * Close codes (RFC 6455 §7.4.1 and the IANA registry) and the typed errors of this package.
 */

/** WebSocket close status codes. */
export const CloseCode = {
  /** 1000: normal closure. */
  NORMAL: 1000,
  /** 1001: endpoint going away (server shutdown, page navigation). */
  GOING_AWAY: 1001,
  /** 1002: protocol error. */
  PROTOCOL_ERROR: 1002,
  /** 1003: unsupported data type. */
  UNSUPPORTED_DATA: 1003,
  /** 1004: reserved, never valid on the wire. */
  RESERVED: 1004,
  /** 1005: "no status received"; only reported locally, never sent. */
  NO_STATUS: 1005,
  /** 1006: "abnormal closure" (no close frame); only reported locally, never sent. */
  ABNORMAL: 1006,
  /** 1007: invalid frame payload data (e.g. invalid UTF-8). */
  INVALID_PAYLOAD: 1007,
  /** 1008: policy violation. */
  POLICY_VIOLATION: 1008,
  /** 1009: message too big. */
  MESSAGE_TOO_BIG: 1009,
  /** 1010: the client expected an extension the server did not negotiate. */
  MANDATORY_EXTENSION: 1010,
  /** 1011: internal server error. */
  INTERNAL_ERROR: 1011,
  /** 1012: service restart (IANA registered). */
  SERVICE_RESTART: 1012,
  /** 1013: try again later (IANA registered). */
  TRY_AGAIN_LATER: 1013,
  /** 1014: bad gateway (IANA registered). */
  BAD_GATEWAY: 1014,
  /** 1015: TLS handshake failure; only reported locally, never sent. */
  TLS_HANDSHAKE: 1015,
} as const;

/** One of the named close codes. */
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/** Stable string codes of {@link WsError}. */
export type WsErrorCode =
  | 'WS_BAD_OPCODE'
  | 'WS_RSV_BITS'
  | 'WS_UNMASKED_FRAME'
  | 'WS_MASKED_FRAME'
  | 'WS_BAD_LENGTH'
  | 'WS_CONTROL_TOO_LONG'
  | 'WS_CONTROL_FRAGMENTED'
  | 'WS_UNEXPECTED_CONTINUATION'
  | 'WS_EXPECTED_CONTINUATION'
  | 'WS_FRAME_TOO_LARGE'
  | 'WS_MESSAGE_TOO_LARGE'
  | 'WS_BUFFER_OVERFLOW'
  | 'WS_INVALID_UTF8'
  | 'WS_BAD_CLOSE_PAYLOAD'
  | 'WS_BAD_CLOSE_CODE'
  | 'WS_INFLATE_FAILED'
  | 'WS_DEFLATE_FAILED'
  | 'WS_DEFLATE_CLOSED'
  | 'WS_INVALID_ARGUMENT'
  /** A process-wide budget is full (unfinished input, zlib memory): close 1013. */
  | 'WS_OVERLOADED'
  /** A started message did not finish in time (set by the transport): close 1008. */
  | 'WS_MESSAGE_TIMEOUT';

/**
 * A protocol error found while decoding (or a misuse found while encoding).
 * `closeCode` is the status the endpoint should send in its close frame;
 * `code` is a stable machine-readable identifier.
 */
export class WsError extends Error {
  override readonly name = 'WsError';
  readonly code: WsErrorCode;
  readonly closeCode: number;

  constructor(code: WsErrorCode, closeCode: number, message: string) {
    super(message);
    this.code = code;
    this.closeCode = closeCode;
  }
}

/** Stable string codes of {@link WsHandshakeError}. */
export type WsHandshakeErrorCode =
  | 'WS_HANDSHAKE_BAD_METHOD'
  | 'WS_HANDSHAKE_BAD_HTTP_VERSION'
  | 'WS_HANDSHAKE_MISSING_HOST'
  | 'WS_HANDSHAKE_BAD_UPGRADE'
  | 'WS_HANDSHAKE_BAD_CONNECTION'
  | 'WS_HANDSHAKE_BAD_VERSION'
  | 'WS_HANDSHAKE_BAD_KEY'
  | 'WS_HANDSHAKE_BAD_PROTOCOL'
  | 'WS_HANDSHAKE_BAD_EXTENSIONS'
  | 'WS_HANDSHAKE_HEADERS_TOO_LARGE'
  | 'WS_HANDSHAKE_BAD_STATUS'
  | 'WS_HANDSHAKE_BAD_ACCEPT'
  | 'WS_HANDSHAKE_UNEXPECTED_PROTOCOL'
  | 'WS_HANDSHAKE_UNEXPECTED_EXTENSION'
  | 'WS_HANDSHAKE_BAD_EXTENSION_PARAMS'
  | 'WS_HANDSHAKE_INVALID_ARGUMENT';

/** An opening-handshake failure (either side), with a stable string `code`. */
export class WsHandshakeError extends Error {
  override readonly name = 'WsHandshakeError';
  readonly code: WsHandshakeErrorCode;

  constructor(code: WsHandshakeErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
