export { createServer, StelarServer, type CloseOptions, type ListenInfo, type ServerOptions, type ShutdownInfo, type WebSocketOptions } from './server';
export type { HealthOptions, MetricsOptions } from './health';
export type { DashboardData, DashboardOptions } from './dashboard';
export {
  AuthError,
  Connection,
  DisconnectCode,
  ErrorCode,
  MemoryAdapter,
  StelarError,
  type Adapter,
  type AnyEvents,
  type ConnectionData,
  type ConnectionMiddleware,
  type EventContext,
  type EventMiddleware,
  type HubOptions,
  type LimitEvent,
  type LimitReason,
  type LogFields,
  type Logger,
  type LogLevel,
  type RateLimiter,
  type RateLimitOptions,
  type RateLimitRule,
  type Stats,
} from '@stelar/core';
