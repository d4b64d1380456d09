import { DisconnectCode, ErrorCode } from './constants';

/** Codes a frame decoder or encoder can fail with. */
export type FrameErrorCode =
  | typeof ErrorCode.FRAME_TOO_SHORT
  | typeof ErrorCode.FRAME_TOO_LARGE
  | typeof ErrorCode.BAD_TYPE
  | typeof ErrorCode.BAD_EVENT_LENGTH
  | typeof ErrorCode.BAD_UTF8
  | typeof ErrorCode.BAD_EVENT
  | typeof ErrorCode.BAD_PAYLOAD
  | typeof ErrorCode.BAD_JSON;

/**
 * The only error the codec throws. `code` is stable (docs/protocol.md §6); `closeCode` is the
 * close code a transport should use when the error ends a connection.
 */
export class FrameError extends Error {
  override readonly name = 'FrameError';
  readonly code: FrameErrorCode;
  readonly closeCode: number;

  constructor(code: FrameErrorCode, message: string) {
    super(message);
    this.code = code;
    this.closeCode =
      code === ErrorCode.FRAME_TOO_LARGE
        ? DisconnectCode.MESSAGE_TOO_BIG
        : code === ErrorCode.BAD_JSON
          ? DisconnectCode.INVALID_DATA
          : DisconnectCode.PROTOCOL_ERROR;
  }
}
