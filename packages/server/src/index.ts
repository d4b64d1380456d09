export { createServer, StelarServer } from './server';
export type { CloseOptions, ListenInfo, ServerOptions, ShutdownInfo, WebSocketOptions } from './options';
export type { HealthOptions, MetricsOptions } from './health';
export type { DashboardOptions } from './dashboard';
export type { DashboardData } from './dashboard-data';
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
