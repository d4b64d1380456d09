export {
  AckStatus,
  DEFAULT_MAX_FRAME_SIZE,
  DisconnectCode,
  ErrorCode,
  FRAME_TYPE_NAMES,
  FrameType,
  HEADER_SIZE,
  LENGTH_PREFIX_SIZE,
  MAX_EVENT_LENGTH,
  MAX_FRAME_SIZE_LIMIT,
  MAX_PING_PAYLOAD,
  PROTOCOL_VERSION,
} from './constants';
export { FrameError, type FrameErrorCode } from './errors';
export {
  encodeAckError,
  encodeAckRequest,
  encodeAckRequestPayload,
  encodeAckResult,
  encodeBinary,
  encodeClientConnect,
  encodeDisconnect,
  encodeError,
  encodeEventName,
  encodeFrame,
  encodeJoin,
  encodeJson,
  encodeJsonPayload,
  encodeLeave,
  encodePing,
  encodePong,
  encodeServerConnect,
  type ClientHello,
  type ServerHello,
} from './encode';
export { checkHeader, decodeFrame, decodeMessage, FrameDecoder, type DecodeOptions, type Frame } from './decode';
export {
  decodeJson,
  parseAckRequest,
  parseAckResponse,
  parseClientHello,
  parseDisconnect,
  parseErrorBody,
  parseRoomRequestId,
  parseServerHello,
  type AckRequestPayload,
  type AckResponsePayload,
  type DisconnectBody,
  type ErrorBody,
} from './payloads';
export { utf8Decode, utf8Encode } from './utf8';
export { isBinaryValue } from './attachments';
