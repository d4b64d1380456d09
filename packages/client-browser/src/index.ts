export { connect, createClient, DialError, resolveUrl, StelarClient, type BrowserClientOptions } from './client';
export { dialWebSocket } from './dial';
export {
  DisconnectCode,
  ErrorCode,
  StelarError,
  type AnyEvents,
  type BackoffOptions,
  type ClientLifecycle,
  type ClientOptions,
  type ClientRequestOptions,
  type ClientState,
  type OfflineQueueOptions,
} from '@stelar/core';
