// The options of createServer and of close(), and what listen() and onShutdown hooks are told.
import type * as http from 'node:http';
import type * as https from 'node:https';
import type { TlsOptions } from 'node:tls';
import type { HubOptions } from '@stelar/core';
import type { WebSocketServerOptions } from '@stelar/transport-node';
import type { DashboardOptions } from './dashboard';
import type { HealthOptions, MetricsOptions } from './health';

/** WebSocket endpoint options (see `@stelar/transport-node`). */
export type WebSocketOptions = Omit<WebSocketServerOptions, 'limits' | 'guard' | 'onError' | keyof LinkLimitOptions>;

interface LinkLimitOptions {
  highWaterMark?: number;
  maxBufferedAmount?: number;
  closeTimeout?: number;
}

export interface ServerOptions extends HubOptions, LinkLimitOptions {
  /** Port of the standalone HTTP(S) server carrying WebSocket, health and metrics. 0 = any free port. */
  port?: number;
  /** Address to bind both listeners to. Default: all interfaces. */
  host?: string;
  /** Attach to your own `http`/`https` server instead of creating one (you call its `listen`). */
  server?: http.Server | https.Server;
  /** Make the standalone server HTTPS (`wss://`) with these options. */
  https?: https.ServerOptions;
  /** WebSocket endpoint options: `path`, `allowOrigins`, `perMessageDeflate`, `trustProxy`, … */
  ws?: WebSocketOptions | false;
  /** Port of the binary TCP listener. Omit for none; 0 = any free port. */
  tcpPort?: number;
  /** Serve the binary protocol over TLS with these options. */
  tls?: TlsOptions;
  /** Most open connections over both transports. Default: unlimited. */
  maxConnections?: number;
  /** Most open connections from one IP. Default: unlimited. */
  maxConnectionsPerIp?: number;
  /**
   * Most bytes held in messages peers have started and not finished, over both transports.
   * Above it the connection that would exceed it is closed with 1013. Default 64 MiB, shared
   * by every server of the process that sets neither this nor `messageTimeout`.
   */
  maxUnfinishedBytes?: number;
  /** Most time (ms) for a started message to arrive completely; past it, close 1008. Default 30 000. */
  messageTimeout?: number;
  /** Opt-in `/healthz` (liveness) and `/readyz` (readiness) on the HTTP server. Default off. */
  health?: boolean | HealthOptions;
  /** Opt-in `/metrics` in Prometheus text format on the HTTP server. Default off. */
  metrics?: boolean | MetricsOptions;
  /**
   * Opt-in live dashboard page on the HTTP server, behind your own `authorize(req, res)` check
   * (required). Default off.
   */
  dashboard?: DashboardOptions;
  /** Most bytes of HTTP headers (standalone server). Default 16 KiB. */
  maxHeaderSize?: number;
  /**
   * Close gracefully on SIGINT/SIGTERM (then `onShutdown` hooks run with the signal). Default
   * false: Stelar installs no signal handler. It never calls `process.exit`.
   */
  handleSignals?: boolean | { timeout?: number };
  /**
   * Errors from handlers, middleware, listeners and transports (the same as `server.onError`).
   * Without any `onError`, they are logged at `error` by `logger` (the console by default).
   */
  onError?: (err: unknown) => void;
}

/** What an `onShutdown` hook is told. */
export interface ShutdownInfo {
  /** The signal that started the shutdown (`handleSignals`), or undefined for a `close()` call. */
  signal: NodeJS.Signals | undefined;
  /** False when the drain ran out of time (handlers still running, or clients not gone). */
  graceful: boolean;
}

/** Where the server listens. */
export interface ListenInfo {
  /** HTTP/WebSocket port (undefined without an HTTP server, or an attached one not yet listening). */
  port: number | undefined;
  /** TCP/TLS port (undefined without a TCP listener). */
  tcpPort: number | undefined;
}

export interface CloseOptions {
  /**
   * Most time (ms) to wait for in-flight requests and replies before closing sockets. Default
   * 10 000. `onShutdown` hooks get as long again.
   */
  timeout?: number;
  /** Close code sent to clients. Default 1001 (going away). */
  code?: number;
  reason?: string;
}
