import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TlsOptions } from 'node:tls';
import { Hub, type AnyEvents, type ConnectionData, type HubOptions, type Logger } from '@stelar/core';
import { consoleLogger, debugEnabled, LogSink } from '@stelar/core/internal';
import {
  attachWebSocket,
  ConnectionLimits,
  InputGuard,
  listenTcp,
  type TcpListener,
  type WebSocketHandle,
  type WebSocketServerOptions,
} from '@stelar/transport-node';
import { checkDashboardOptions, Dashboard, type DashboardOptions } from './dashboard';
import { createRoutes, type HealthOptions, type MetricsOptions } from './health';

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

type State = 'created' | 'starting' | 'listening' | 'closing' | 'closed';

/**
 * A Stelar server: one hub (handlers, rooms, ACKs, middleware…, see `@stelar/core`'s `Hub`) over
 * WebSocket and the binary TCP/TLS protocol at once, with health endpoints and graceful shutdown.
 */
export class StelarServer<In extends object = AnyEvents, Out extends object = In, Data extends object = ConnectionData> extends Hub<In, Out, Data> {
  private readonly options: ServerOptions;
  private readonly log: LogSink;
  private readonly shutdownHooks: ((info: ShutdownInfo) => unknown)[] = [];
  private shutdownSignal: NodeJS.Signals | undefined;
  private readonly limits: ConnectionLimits;
  private readonly inputGuard: InputGuard;
  private readonly ownsHttp: boolean;
  private httpServer: http.Server | https.Server | undefined;
  private wsHandle: WebSocketHandle | undefined;
  private tcp: TcpListener | undefined;
  private state: State = 'created';
  private signalHandler: ((signal: NodeJS.Signals) => void) | undefined;
  private closing: Promise<void> | undefined;
  private restoreRequestListeners: (() => void) | undefined;
  private readonly dashboard: Dashboard | undefined;

  constructor(options: ServerOptions = {}) {
    const log = serverLogger(options.logger);
    super({ ...options, logger: log });
    this.log = new LogSink(log);
    this.options = options;
    if (options.dashboard !== undefined) {
      checkDashboardOptions(options.dashboard);
      if (options.ws === false || (!options.server && options.port === undefined && options.tcpPort !== undefined)) {
        throw new TypeError('dashboard needs the HTTP server: set `port` or `server` (and not `ws: false`)');
      }
      this.dashboard = new Dashboard(this, options.dashboard, (err) => this.reportError(err));
    }
    this.limits = new ReportingLimits(
      {
        ...(options.maxConnections !== undefined && { maxConnections: options.maxConnections }),
        ...(options.maxConnectionsPerIp !== undefined && { maxConnectionsPerIp: options.maxConnectionsPerIp }),
      },
      (refusal, ip) =>
        this.limitReached(
          refusal === 'max-connections'
            ? { reason: 'maxConnections', limit: this.limits.maxConnections, remoteAddress: ip }
            : { reason: 'maxConnectionsPerIp', limit: this.limits.maxConnectionsPerIp, remoteAddress: ip },
        ),
    );
    this.inputGuard =
      options.maxUnfinishedBytes === undefined && options.messageTimeout === undefined
        ? InputGuard.shared
        : new InputGuard({
            ...(options.maxUnfinishedBytes !== undefined && { maxUnfinishedBytes: options.maxUnfinishedBytes }),
            ...(options.messageTimeout !== undefined && { messageTimeout: options.messageTimeout }),
          });
    this.ownsHttp = !options.server && options.ws !== false && (options.port !== undefined || options.tcpPort === undefined);
    if (options.onError) this.onError(options.onError as (err: unknown) => void);
  }

  /** True while listening and not draining. */
  override get isReady(): boolean {
    return this.state === 'listening' && super.isReady;
  }

  /** The HTTP server carrying WebSocket (yours or the standalone one). */
  get http(): http.Server | https.Server | undefined {
    return this.httpServer;
  }

  /**
   * Starts the listeners. Resolves with the bound ports; rejects on a bind or TLS set-up error
   * (then nothing is left listening). Never picks another port by itself.
   */
  async listen(): Promise<ListenInfo> {
    if (this.state !== 'created') throw new Error(`cannot listen: server is ${this.state}`);
    this.state = 'starting';
    const o = this.options;
    const report = (err: unknown): void => this.reportError(err);
    const linkOpts = {
      ...(o.highWaterMark !== undefined && { highWaterMark: o.highWaterMark }),
      ...(o.maxBufferedAmount !== undefined && { maxBufferedAmount: o.maxBufferedAmount }),
      ...(o.closeTimeout !== undefined && { closeTimeout: o.closeTimeout }),
    };
    try {
      await this.ready();
      if (o.ws !== false && (o.server || this.ownsHttp)) {
        const server = o.server ?? this.createHttpServer();
        this.httpServer = server;
        this.mountRoutes(server);
        this.wsHandle = attachWebSocket(server, this, { ...o.ws, ...linkOpts, limits: this.limits, guard: this.inputGuard, onError: report });
        if (this.ownsHttp) await listenHttp(server, o.port ?? 0, o.host);
      }
      if (o.tcpPort !== undefined) {
        this.tcp = await listenTcp(this, {
          ...linkOpts,
          port: o.tcpPort,
          ...(o.host !== undefined && { host: o.host }),
          ...(o.tls && { tls: o.tls }),
          limits: this.limits,
          guard: this.inputGuard,
          onError: report,
        });
      }
    } catch (err) {
      await this.shutdownListeners();
      this.state = 'closed';
      await this.dispose();
      throw err;
    }
    this.state = 'listening';
    if (o.handleSignals) this.installSignalHandlers();
    const where = this.address();
    this.log.info?.({ port: where.port, tcpPort: where.tcpPort }, 'listening');
    return where;
  }

  /**
   * Runs `fn` when `close()` has finished the drain and closed the listeners (and for a signal,
   * with `handleSignals`), before the adapter is closed: the place to close databases and flush
   * logs. Hooks run one after the other, each awaited; a hook that throws is reported (onError or
   * the logger) and the next one runs. `close()` waits for them up to its `timeout`. Stelar never
   * exits the process: a hook may (`process.exitCode = 0` is enough when nothing else runs).
   */
  onShutdown(fn: (info: ShutdownInfo) => unknown): this {
    this.shutdownHooks.push(fn);
    return this;
  }

  /** The bound ports. */
  address(): ListenInfo {
    const a = this.httpServer?.address();
    return {
      port: a && typeof a === 'object' ? (a as AddressInfo).port : undefined,
      tcpPort: this.tcp?.port,
    };
  }

  /**
   * Graceful shutdown: stops accepting (upgrades get 503, new TCP sessions DISCONNECT 1001; the
   * HTTP listener keeps answering, `/readyz` with 503, until the drain ends); refuses new requests; waits up to `timeout` for request
   * handlers to reply and for clients to answer pending requests; tells every client (close
   * 1001 on WebSocket, DISCONNECT 1001 on TCP); then closes what is left. Resolves once every
   * socket is gone. No `process.exit`.
   */
  close(options: CloseOptions = {}): Promise<void> {
    // Every caller (e.g. a signal handler and the application) waits for the same shutdown.
    this.closing ??= this.shutdown(options);
    return this.closing;
  }

  private async shutdown(options: CloseOptions): Promise<void> {
    const wasListening = this.state === 'listening' || this.state === 'starting';
    this.state = 'closing';
    this.removeSignalHandlers();
    let graceful = true;
    if (wasListening) {
      // Upgrades are refused (503) and new TCP sessions told 1001 from now on, but the HTTP
      // listener stays up until the drain ends so health probes see /readyz answer 503.
      this.wsHandle?.close();
      if (this.ownsHttp && this.httpServer) this.httpServer.on('upgrade', refuseUpgrade);
      graceful = await this.drain(options);
      await this.shutdownListeners();
    }
    this.state = 'closed';
    await this.runShutdownHooks({ signal: this.shutdownSignal, graceful }, options.timeout ?? 10_000);
    await this.dispose();
    this.log.info?.({ graceful }, 'closed');
  }

  private async runShutdownHooks(info: ShutdownInfo, timeout: number): Promise<void> {
    if (this.shutdownHooks.length === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeout);
    });
    const run = async (): Promise<void> => {
      for (const fn of this.shutdownHooks) {
        try {
          await fn(info);
        } catch (err) {
          this.reportError(err, 'an onShutdown hook failed');
        }
      }
    };
    const outcome = await Promise.race([run(), late]);
    clearTimeout(timer);
    if (outcome === 'late') this.reportError(new Error(`onShutdown hooks still running after ${timeout} ms; close() goes on without them`), 'onShutdown timed out');
  }

  private createHttpServer(): http.Server | https.Server {
    const o = this.options;
    const handshake = o.ws && o.ws.handshakeTimeout !== undefined ? o.ws.handshakeTimeout : 10_000;
    // Node checks headersTimeout only every connectionsCheckingInterval (30 s by default): check
    // often enough that a trickled handshake is cut near the handshake timeout.
    const base = { maxHeaderSize: o.maxHeaderSize ?? 16 * 1024, connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(handshake / 4))) };
    const server = o.https ? https.createServer({ ...base, ...o.https }) : http.createServer(base);
    // The header phase of every request (upgrades included) is bounded by the handshake time.
    server.headersTimeout = handshake;
    server.requestTimeout = Math.max(handshake, 30_000);
    server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
      if (res.headersSent || res.writableEnded) return;
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Not found\n');
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      // Headers over maxHeaderSize are 431; a request that took too long is 408; the rest 400.
      const status =
        err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADER_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      setTimeout(() => socket.destroy(), 1000).unref();
    });
    return server;
  }

  /**
   * Health, metrics and dashboard routes. On a standalone server they sit in front of the 404
   * handler; on your server they wrap the `request` listeners present now, answering only their
   * own paths and passing everything else on untouched.
   */
  private mountRoutes(server: http.Server | https.Server): void {
    const o = this.options;
    const health = o.health ? (o.health === true ? {} : o.health) : false;
    const metrics = o.metrics ? (o.metrics === true ? {} : o.metrics) : false;
    const dashboard = this.dashboard;
    if (!health && !metrics && !dashboard) return;
    const healthRoutes = createRoutes(
      {
        isLive: () => this.state !== 'closed',
        isReady: () => this.isReady,
        metricsText: (p) => this.metricsText(p),
        // Counters only, never getStats(): readiness stays O(1) whatever the stats hold.
        stats: () => this.metrics.connections(),
        failed: (err) => this.reportError(err, 'the health ready() hook failed'),
      },
      health,
      metrics,
    );
    const routes = dashboard ? (req: http.IncomingMessage, res: http.ServerResponse): boolean => healthRoutes(req, res) || dashboard.handle(req, res) : healthRoutes;
    const existing = server.listeners('request') as ((req: http.IncomingMessage, res: http.ServerResponse) => void)[];
    server.removeAllListeners('request');
    const front = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      if (routes(req, res)) return;
      for (const l of existing) l.call(server, req, res);
    };
    server.on('request', front);
    this.restoreRequestListeners = () => {
      server.removeListener('request', front);
      for (const l of existing) server.on('request', l);
    };
  }

  private async shutdownListeners(): Promise<void> {
    this.wsHandle?.close();
    this.wsHandle = undefined;
    const tcp = this.tcp;
    this.tcp = undefined;
    if (tcp) await tcp.close();
    const server = this.httpServer;
    if (server && this.ownsHttp) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    } else if (this.restoreRequestListeners) {
      this.restoreRequestListeners();
    }
    this.restoreRequestListeners = undefined;
  }

  /** To `onError` listeners (the `onError` option is one), else the logger. */
  private reportError(err: unknown, what = 'transport error'): void {
    this.reportFailure(err, what);
  }

  private installSignalHandlers(): void {
    const h = this.options.handleSignals;
    const timeout = typeof h === 'object' && h.timeout !== undefined ? h.timeout : 10_000;
    const handler = (signal: NodeJS.Signals): void => {
      this.shutdownSignal ??= signal;
      this.log.info?.({ signal }, 'signal received: closing');
      void this.close({ timeout });
    };
    this.signalHandler = handler;
    process.once('SIGINT', handler);
    process.once('SIGTERM', handler);
  }

  private removeSignalHandlers(): void {
    if (!this.signalHandler) return;
    process.removeListener('SIGINT', this.signalHandler);
    process.removeListener('SIGTERM', this.signalHandler);
    this.signalHandler = undefined;
  }
}

/** Answers an upgrade while draining: 503, then the socket is closed. */
function refuseUpgrade(_req: http.IncomingMessage, socket: Duplex): void {
  socket.on('error', () => socket.destroy());
  socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n');
  setTimeout(() => socket.destroy(), 1000).unref();
}

function listenHttp(server: http.Server | https.Server, port: number, host: string | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      server.removeListener('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.removeListener('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/**
 * Creates a server. Nothing listens until `listen()`.
 *
 * ```ts
 * const server = createServer({ port: 3000, tcpPort: 4000 });
 * server.on('chat', (msg, conn) => server.to('lobby').except(conn).emit('chat', msg));
 * await server.listen();
 * ```
 */
export function createServer<In extends object = AnyEvents, Out extends object = In, Data extends object = ConnectionData>(
  options: ServerOptions = {},
): StelarServer<In, Out, Data> {
  return new StelarServer<In, Out, Data>(options);
}

/**
 * The server's logger: the application's (`false` for none), else the console, at debug when the
 * `DEBUG` environment variable switches on `stelar:server` (`DEBUG=stelar:*`), else at warn.
 */
export function serverLogger(logger: Logger | false | undefined, env: string | undefined = process.env['DEBUG']): Logger | false {
  if (logger !== undefined) return logger;
  return consoleLogger('stelar:server', debugEnabled(env, 'stelar:server') ? 'debug' : 'warn');
}

/** The server's connection limits, telling the hub's `onLimit` listeners of each refusal. */
class ReportingLimits extends ConnectionLimits {
  constructor(
    options: ConstructorParameters<typeof ConnectionLimits>[0],
    private readonly refused: (why: 'max-connections' | 'max-connections-per-ip', ip: string) => void,
  ) {
    super(options);
  }

  override acquire(ip: string): ReturnType<ConnectionLimits['acquire']> {
    const got = super.acquire(ip);
    if (typeof got === 'string') this.refused(got, ip);
    return got;
  }
}
