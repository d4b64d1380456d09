/**
 * @stelar/codec-ws — RFC 6455 WebSocket framing and handshake helpers and RFC 7692
 * permessage-deflate, with no I/O: a transport pushes socket bytes in and writes the frames out.
 */
export { CloseCode, WsError, WsHandshakeError } from './errors.js';
export type { CloseCodeValue, WsErrorCode, WsHandshakeErrorCode } from './errors.js';

export {
  Opcode,
  MAX_CONTROL_PAYLOAD,
  isControlOpcode,
  isKnownOpcode,
  frameHeaderLength,
  encodeFrameHeader,
  encodeFrame,
  parseFrameHeader,
  randomMaskKey,
} from './frame.js';
export type { OpcodeValue, Role, EncodedFrame, FrameHeaderOptions, EncodeFrameOptions, FrameHeader } from './frame.js';

export { mask, unmask, maskImplementation } from './mask.js';
export type { NativeMask } from './mask.js';
export { isValidUtf8, Utf8Validator } from './utf8.js';
export {
  MAX_CLOSE_REASON_BYTES,
  isValidCloseCode,
  decodeCloseBody,
  encodeCloseBody,
  truncateUtf8,
} from './close.js';
export type { CloseBody } from './close.js';

export { Receiver, DEFAULT_MAX_MESSAGE_SIZE } from './receiver.js';
export type { ReceiverHandlers, ReceiverOptions } from './receiver.js';

export { Sender, encodeMessage, encodeControlFrame, encodeCloseFrame } from './sender.js';
export type { SenderOptions, SendOptions } from './sender.js';

export {
  DEFAULT_EXTENSION_LIMITS,
  parseExtensions,
  formatExtension,
  formatExtensions,
  isToken,
} from './extensions.js';
export type { ExtensionParam, ExtensionOffer, ExtensionParseLimits, ExtensionParseResult } from './extensions.js';

export {
  PERMESSAGE_DEFLATE,
  PerMessageDeflate,
  negotiateDeflateServer,
  createDeflateOffer,
  acceptDeflateResponse,
} from './permessage-deflate.js';
export type {
  DeflateParams,
  DeflateNegotiation,
  DeflateCallback,
  PerMessageDeflateOptions,
  PerMessageDeflateServerOptions,
  PerMessageDeflateClientOptions,
} from './permessage-deflate.js';

export {
  ZlibPool,
  ZlibContext,
  Grant,
  DEFAULT_ZLIB_CONCURRENCY,
  DEFAULT_ZLIB_MEMORY,
  deflateMemory,
  inflateMemory,
} from './zlib-pool.js';
export type { ZlibPoolOptions, PoolJob } from './zlib-pool.js';

export {
  WS_GUID,
  computeAcceptKey,
  isValidWebSocketKey,
  validateUpgradeRequest,
  selectSubprotocol,
  buildUpgradeResponse,
  buildHttpErrorResponse,
  acceptUpgrade,
} from './handshake-server.js';
export type {
  UpgradeRequestLike,
  ServerHandshakeOptions,
  ServerHandshakeResult,
  HandshakeRejection,
  SubprotocolSelector,
  UpgradeResponseOptions,
  AcceptUpgradeOptions,
  AcceptUpgradeResult,
} from './handshake-server.js';

export { createClientHandshake, verifyUpgradeResponse } from './handshake-client.js';
export type {
  ClientHandshakeOptions,
  ClientHandshake,
  UpgradeResponseLike,
  ClientHandshakeResult,
} from './handshake-client.js';

export type { HttpHeaders, HeaderInit } from './http.js';
