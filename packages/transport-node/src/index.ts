/**
 * @stelar/transport-node — all of Stelar's Node I/O: the WebSocket upgrade on an http/https
 * server, the TCP/TLS listener, and the WebSocket and TCP/TLS dialers for Node clients. Every
 * connection becomes a core `Link`.
 */
export { attachWebSocket, type WebSocketHandle, type WebSocketServerOptions, type WsServerDeflateOptions } from './ws-server';
export { listenTcp, type TcpListener, type TcpListenOptions } from './tcp-server';
export { dialWebSocket, type DialWebSocketOptions, type WsClientDeflateOptions } from './dial-ws';
export { dialTcp, type DialTcpOptions } from './dial-tcp';
export {
  InputGuard,
  InputEntry,
  DEFAULT_MAX_UNFINISHED_BYTES,
  DEFAULT_MESSAGE_TIMEOUT,
  type InputGuardOptions,
} from './input-guard';
export { ConnectionLimits, type ConnectionLimitsOptions, type ConnectionSlot, type LimitRefusal } from './limits';
export { WsConnection } from './ws-connection';
export type { WsConnectionEvents, WsConnectionOptions, WsReadyState } from './ws-connection-options';
export { WsLink, type WsLinkOptions } from './ws-link';
export { TcpLink, type TcpLinkOptions } from './tcp-link';
export { DialError, type DialErrorDetails } from './errors';
export type { DialTlsOptions } from './endpoint';
export {
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_BUFFERED_AMOUNT,
  type Acceptor,
  type ErrorReporter,
  type LinkOptions,
} from './options';
