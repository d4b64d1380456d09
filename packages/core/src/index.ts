export { Hub, type AnyEventHandler, type ConnectionMiddleware, type EventContext, type EventHandler, type EventMiddleware, type HeartbeatOptions, type HubOptions } from './hub';
export { Connection, type AnyConnection, type ConnectionState, type EmitArgs } from './connection';
export { BroadcastOperator } from './broadcast';
export { LocalConnectionHandle, infoOf, type ConnectionHandle } from './handle';
export { MemoryAdapter, type Adapter, type AdapterHost, type BroadcastTarget, type ConnectionInfo, type Target } from './adapter';
export { cutReason, isPeerCloseCode, MAX_CLOSE_REASON_BYTES } from './close';
export { SendStatus, type Link, type LinkHandler, type LinkInfo, type TransportName } from './link';
export { AuthError, StelarError, toErrorBody } from './errors';
export { TokenBucket, type RateLimitAction, type RateLimiter, type RateLimitOptions, type RateLimitRule, type RateLimitSubject } from './rate-limit';
export { toPrometheus, type Stats } from './metrics';
export { PendingRequests } from './requests';
export { HandlerRegistry } from './registry';
export { runMiddleware, type Middleware } from './middleware';
export { randomId } from './ids';
export { now } from './clock';
export {
  asBytes,
  isBinary,
  type AnyEvents,
  type BinaryData,
  type EventData,
  type EventMap,
  type EventName,
  type EventReply,
  type HandlerResult,
  type MaybePromise,
  type RequestOptions,
  type SendOptions,
} from './types';
export { DisconnectCode, ErrorCode, PROTOCOL_VERSION } from '@stelar/codec-tcp';
export { ClientEngine, type ClientEventHandler, type ClientHeartbeatOptions, type ClientLifecycle, type ClientOptions, type ClientRequestOptions, type ClientState, type Dialer } from './client/engine';
export { backoffDelay, type BackoffOptions } from './client/backoff';
export { BoundedQueue, type OfflineQueueOptions, type QueuePolicy } from './client/queue';
