export { connect, createClient, DialError, dialWebSocket, resolveUrl, StelarClient, type BrowserClientOptions } from './client';
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
} from '@stelar/core/client';
