/**
 * @stelar/codec-ws — RFC 6455 WebSocket framing and handshake helpers and RFC 7692
 * permessage-deflate, with no I/O: a transport pushes socket bytes in and writes the frames out.
 */
export { CloseCode, WsError, WsHandshakeError } from './errors';
export type { CloseCodeValue, WsErrorCode, WsHandshakeErrorCode } from './errors';

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
} from './frame';
export type { OpcodeValue, Role, EncodedFrame, FrameHeaderOptions, EncodeFrameOptions, FrameHeader } from './frame';

export { mask, unmask, maskImplementation } from './mask';
export type { NativeMask } from './mask';
export { isValidUtf8, Utf8Validator } from './utf8';
export {
  MAX_CLOSE_REASON_BYTES,
  isValidCloseCode,
  decodeCloseBody,
  encodeCloseBody,
  truncateUtf8,
} from './close';
export type { CloseBody } from './close';

export { Receiver } from './receiver';
export { DEFAULT_MAX_MESSAGE_SIZE, type ReceiverHandlers, type ReceiverOptions } from './receiver-options';

export { Sender, encodeMessage, encodeControlFrame, encodeCloseFrame } from './sender';
export type { SenderOptions, SendOptions } from './sender';

export {
  DEFAULT_EXTENSION_LIMITS,
  parseExtensions,
  formatExtension,
  formatExtensions,
  isToken,
} from './extensions';
export type { ExtensionParam, ExtensionOffer, ExtensionParseLimits, ExtensionParseResult } from './extensions';

export { PerMessageDeflate } from './permessage-deflate';
export type { DeflateCallback, PerMessageDeflateOptions } from './permessage-deflate';
export { PERMESSAGE_DEFLATE, negotiateDeflateServer, createDeflateOffer, acceptDeflateResponse } from './deflate-negotiation';
export type { DeflateParams, DeflateNegotiation, PerMessageDeflateServerOptions, PerMessageDeflateClientOptions } from './deflate-negotiation';

export {
  ZlibPool,
  ZlibContext,
  Grant,
  DEFAULT_ZLIB_CONCURRENCY,
  DEFAULT_ZLIB_MEMORY,
  deflateMemory,
  inflateMemory,
} from './zlib-pool';
export type { ZlibPoolOptions, PoolJob } from './zlib-pool';

export {
  WS_GUID,
  computeAcceptKey,
  isValidWebSocketKey,
  validateUpgradeRequest,
  selectSubprotocol,
  buildUpgradeResponse,
  buildHttpErrorResponse,
  acceptUpgrade,
} from './handshake-server';
export type {
  UpgradeRequestLike,
  ServerHandshakeOptions,
  ServerHandshakeResult,
  HandshakeRejection,
  SubprotocolSelector,
  UpgradeResponseOptions,
  AcceptUpgradeOptions,
  AcceptUpgradeResult,
} from './handshake-server';

export { createClientHandshake, verifyUpgradeResponse } from './handshake-client';
export type {
  ClientHandshakeOptions,
  ClientHandshake,
  UpgradeResponseLike,
  ClientHandshakeResult,
} from './handshake-client';

export type { HttpHeaders, HeaderInit } from './http';
