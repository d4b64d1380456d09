/**
 * `@stelar/core/client`: the client engine shared by the client packages, and what a dialer
 * (a client transport) implements.
 */
export { ClientEngine } from './engine';
export type { ClientEventHandler, ClientHeartbeatOptions, ClientLifecycle, ClientOptions, ClientRequestOptions, ClientState, ConnectOptions, Dialer, ReconnectOptions } from './options';
export { backoffDelay, type BackoffOptions } from './backoff';
export type { OfflineQueueOptions, QueuePolicy } from './queue';
export type { ClientRecoveryOptions } from './resume';
export { SendStatus, type Link, type LinkHandler, type LinkInfo, type TransportName } from '../link';
export { StelarError } from '../errors';
export type { LogFields, Logger, LogLevel, LogMethod } from '../logger';
export type { AnyEvents, BinaryData, EventData, EventMap, EventName, EventReply, SendOptions } from '../types';
export { DisconnectCode, ErrorCode } from '@stelar/codec-tcp';
