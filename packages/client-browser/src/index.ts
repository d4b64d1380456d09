export { StelarClient } from './client';
export { connect, createClient } from './create';
export { DialError, resolveUrl, type BrowserClientOptions } from './options';
export { dialWebSocket } from './dial';
export type { MinClient, MinClientOptions, MinGlobal, MinLifecycle } from './min';
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
