/**
 * `@stelar/core`: what server-side code uses. The client engine is `@stelar/core/client`; what
 * transports and adapters need besides is `@stelar/core/internal` (not semver-stable).
 */
export { Hub } from './hub';
export type { AnyEventHandler, ConnectionMiddleware, EventContext, EventHandler, EventMiddleware, HeartbeatOptions, HubOptions } from './hub-options';
export { Connection, type ConnectionData, type ConnectionEmitter } from './connection';
export type { LimitEvent, LimitReason } from './limits';
export type { LogFields, Logger, LogLevel, LogMethod } from './logger';
export type { BroadcastOperator, BroadcastRequestDetails } from './broadcast';
export type { ConnectionHandle } from './handle';
export { MemoryAdapter, type Adapter, type ConnectionInfo } from './adapter';
export { AuthError, StelarError } from './errors';
export type { RateLimitAction, RateLimiter, RateLimitOptions, RateLimitRule, RateLimitSubject } from './rate-limit';
export type { Stats } from './metrics';
export type { RecoveryOptions } from './recovery-log';
export type { RecoveryStats } from './recovery-log';
export type { AnyEvents, BinaryData, EventData, EventMap, EventName, EventReply, RequestOptions, SendOptions, EmitOptions } from './types';
export { DisconnectCode, ErrorCode } from '@stelar/codec-tcp';
