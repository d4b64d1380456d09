export { clientLogger, connect, dialerFor, StelarClient, type NodeClientOptions } from './client';
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
  type ConnectOptions,
  type Logger,
  type OfflineQueueOptions,
  type ReconnectOptions,
} from '@stelar/core/client';
export { DialError } from '@stelar/transport-node';
