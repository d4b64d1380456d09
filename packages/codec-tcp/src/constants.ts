/** Frame types of the Stelar wire protocol (docs/protocol.md §2). */
export const FrameType = {
  JSON: 0x01,
  BINARY: 0x02,
  PING: 0x03,
  PONG: 0x04,
  ACK_REQ: 0x05,
  ACK_RES: 0x06,
  CONNECT: 0x07,
  DISCONNECT: 0x08,
  JOIN: 0x09,
  LEAVE: 0x0a,
  ERROR: 0x0b,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Names of the frame types, indexed by type byte (for logs and errors). */
export const FRAME_TYPE_NAMES: Readonly<Record<FrameType, string>> = {
  1: 'JSON',
  2: 'BINARY',
  3: 'PING',
  4: 'PONG',
  5: 'ACK_REQ',
  6: 'ACK_RES',
  7: 'CONNECT',
  8: 'DISCONNECT',
  9: 'JOIN',
  10: 'LEAVE',
  11: 'ERROR',
};

/** Protocol version spoken by this codec (the `v` of CONNECT). */
export const PROTOCOL_VERSION = 1;
/** Size of the fixed header: totalLen u32, type u8, eventLen u16. */
export const HEADER_SIZE = 7;
/** Bytes of the totalLen field, which WebSocket messages leave out. */
export const LENGTH_PREFIX_SIZE = 4;
/** Longest event or room name, in UTF-8 bytes. */
export const MAX_EVENT_LENGTH = 255;
/** Longest PING/PONG payload. */
export const MAX_PING_PAYLOAD = 125;
/** Default receiver limit on a whole frame (header included). */
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;
/** Largest frame the format can describe (u32 totalLen). */
export const MAX_FRAME_SIZE_LIMIT = 0xffff_ffff;

/** ACK_RES status byte. */
export const AckStatus = { OK: 0, ERROR: 1 } as const;
export type AckStatus = (typeof AckStatus)[keyof typeof AckStatus];

/** Close codes shared by both transports (docs/protocol.md §5). */
export const DisconnectCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  INVALID_DATA: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  TRY_AGAIN_LATER: 1013,
  UNAUTHORIZED: 4001,
  VERSION_MISMATCH: 4002,
  HANDSHAKE_TIMEOUT: 4003,
  HEARTBEAT_TIMEOUT: 4004,
  RATE_LIMITED: 4005,
  SLOW_CONSUMER: 4006,
} as const;
export type DisconnectCode = (typeof DisconnectCode)[keyof typeof DisconnectCode];

/** Stable error code strings (docs/protocol.md §6). */
export const ErrorCode = {
  FRAME_TOO_SHORT: 'FRAME_TOO_SHORT',
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  BAD_TYPE: 'BAD_TYPE',
  BAD_EVENT_LENGTH: 'BAD_EVENT_LENGTH',
  BAD_UTF8: 'BAD_UTF8',
  BAD_EVENT: 'BAD_EVENT',
  BAD_PAYLOAD: 'BAD_PAYLOAD',
  BAD_JSON: 'BAD_JSON',
  PROTOCOL: 'PROTOCOL',
  UNAUTHORIZED: 'UNAUTHORIZED',
  VERSION_MISMATCH: 'VERSION_MISMATCH',
  RATE_LIMITED: 'RATE_LIMITED',
  ROOM_LIMIT: 'ROOM_LIMIT',
  REJECTED: 'REJECTED',
  NO_HANDLER: 'NO_HANDLER',
  HANDLER_ERROR: 'HANDLER_ERROR',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
  TIMEOUT: 'TIMEOUT',
  ABORTED: 'ABORTED',
  DISCONNECTED: 'DISCONNECTED',
  QUEUE_FULL: 'QUEUE_FULL',
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  OVERLOADED: 'OVERLOADED',
  MESSAGE_TIMEOUT: 'MESSAGE_TIMEOUT',
  /** Local to a client, never sent: the peer is not a Stelar server (docs/protocol.md §6). */
  NOT_STELAR: 'NOT_STELAR',
  NO_SUPPORT: 'NO_SUPPORT',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
