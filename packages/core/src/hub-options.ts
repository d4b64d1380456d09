import { DEFAULT_MAX_FRAME_SIZE } from '@stelar/codec-tcp';
import type { Adapter } from './adapter';
import type { Connection, ConnectionData } from './connection';
import { randomId } from './ids';
import type { Logger } from './logger';
import type { Middleware } from './middleware';
import type { RateLimitOptions } from './rate-limit';
import { recoverySettings, type RecoveryOptions, type RecoverySettings } from './recovery-log';
import type { AnyEvents, EventData, EventName, EventReply, HandlerResult } from './types';

/**
 * A handler for one event: its return value (or resolved promise) answers a request.
 * `conn.signal` aborts when the connection goes away: pass it to slow work you start.
 */
export type EventHandler<In extends object, Out extends object, K extends EventName<In>, Data extends object = ConnectionData> = (
  data: EventData<In, K>,
  conn: Connection<In, Out, Data>,
) => HandlerResult<EventReply<In, K>>;

/** A catch-all handler: sees every event before its own handlers. */
export type AnyEventHandler<In extends object, Out extends object, Data extends object = ConnectionData> = (event: string, data: unknown, conn: Connection<In, Out, Data>) => void;

/** What event middleware sees. Middleware may replace `data`. */
export interface EventContext<In extends object = AnyEvents, Out extends object = In, Data extends object = ConnectionData> {
  readonly conn: Connection<In, Out, Data>;
  readonly event: string;
  data: unknown;
  /** The client expects a reply (ACK_REQ). */
  readonly isRequest: boolean;
}

/** Runs when a client sends CONNECT; throw (e.g. `AuthError`) to refuse, `await next()` to go on. */
export type ConnectionMiddleware<In extends object = AnyEvents, Out extends object = In, Data extends object = ConnectionData> = Middleware<Connection<In, Out, Data>>;
/**
 * Runs for each event/request before its handlers. Not calling `next` drops the message (a
 * request is answered REJECTED); throwing answers with the error's code (default REJECTED).
 * `next()` resolves once handlers have started; it does not wait for async handlers.
 */
export type EventMiddleware<In extends object = AnyEvents, Out extends object = In, Data extends object = ConnectionData> = Middleware<EventContext<In, Out, Data>>;

export interface HeartbeatOptions {
  /** Ping a connection that has been silent this long (ms). Default 25 000. */
  interval?: number;
  /** Close (4004) a connection silent for `interval + timeout` (ms). Default 20 000. */
  timeout?: number;
}

export interface HubOptions {
  /** Rooms and broadcast engine. Default: in-memory. */
  adapter?: Adapter;
  /** This process's id in a cluster. Default: random. */
  nodeId?: string;
  /** Rooms one connection may be in. Default 256. */
  maxRoomsPerConnection?: number;
  /** Rooms in this process. Default 100 000. */
  maxRooms?: number;
  /** Close (4003) links that have not completed CONNECT in this many ms. Default 10 000. */
  handshakeTimeout?: number;
  /** Server heartbeats, or `false` for none. */
  heartbeat?: HeartbeatOptions | false;
  /** Default timeout of `conn.request` (ms). Default 10 000. */
  requestTimeout?: number;
  /** Largest frame accepted (announced to clients in CONNECT; transports enforce it). Default 1 MiB. */
  maxFrameSize?: number;
  /** Client requests one connection may have in flight before its reads are paused. Default 64. */
  maxConcurrentRequests?: number;
  /**
   * Request handlers running in the whole process (all connections). A request over it waits for
   * a handler to finish, in arrival order, while its connection's reads are paused. Default 10 000.
   */
  maxHandlersInFlight?: number;
  /** Frames queued per connection behind async middleware before its reads are paused. Default 64. */
  maxQueuedFrames?: number;
  /** Token-bucket rate limiting of client messages. */
  rateLimit?: RateLimitOptions;
  /** Decides whether a client may join a room on its own request. Default: any room. */
  authorizeJoin?: (conn: Connection<never, never>, room: string) => boolean | Promise<boolean>;
  /** Session ids. Default: 96 random bits, URL-safe. */
  generateId?: () => string;
  /**
   * Where the hub logs (`{ debug, info, warn, error }`, called as `(fields, message)`: pino,
   * bunyan, console…): errors nobody listens to with `onError` at `error`, connections opened and
   * closed at `debug`, drains at `info`. `false`: nothing. Default: `warn` and `error` to the
   * console (`@stelar/server` adds `DEBUG=stelar:*`).
   */
  logger?: Logger | false | undefined;
  /**
   * Send clients the message of errors that are not `StelarError`s (their code stays
   * INTERNAL_ERROR). For development only: messages may hold paths, queries or secrets.
   * Default false: clients get "internal server error".
   */
  exposeErrors?: boolean;
  /**
   * Connection-state recovery (docs/protocol.md §8): a client whose link is lost comes back to
   * the same session (id, rooms, `data`) and gets the messages it missed. Off by default; `true`
   * for the defaults. Needs an adapter that supports it (`MemoryAdapter` does).
   */
  recovery?: RecoveryOptions | boolean;
}

/** `HubOptions` with every default filled in (what the hub's parts read). */
export interface HubSettings {
  readonly maxRoomsPerConnection: number;
  readonly maxRooms: number;
  readonly handshakeTimeout: number;
  readonly heartbeat: Required<HeartbeatOptions> | false;
  readonly requestTimeout: number;
  readonly maxFrameSize: number;
  readonly maxConcurrentRequests: number;
  readonly maxHandlersInFlight: number;
  readonly maxQueuedFrames: number;
  readonly generateId: () => string;
  /** Set only when it limits something. */
  readonly rateLimit: RateLimitOptions | undefined;
  readonly exposeErrors: boolean;
  /** Set only when recovery is on. */
  readonly recovery: RecoverySettings | undefined;
}

const DEFAULT_HEARTBEAT: Required<HeartbeatOptions> = { interval: 25_000, timeout: 20_000 };

export function hubSettings(options: HubOptions): HubSettings {
  const rl = options.rateLimit;
  return {
    maxRoomsPerConnection: options.maxRoomsPerConnection ?? 256,
    maxRooms: options.maxRooms ?? 100_000,
    handshakeTimeout: options.handshakeTimeout ?? 10_000,
    heartbeat: options.heartbeat === false ? false : { ...DEFAULT_HEARTBEAT, ...options.heartbeat },
    requestTimeout: options.requestTimeout ?? 10_000,
    maxFrameSize: options.maxFrameSize ?? Math.min(DEFAULT_MAX_FRAME_SIZE, 1024 * 1024),
    maxConcurrentRequests: options.maxConcurrentRequests ?? 64,
    maxHandlersInFlight: options.maxHandlersInFlight ?? 10_000,
    maxQueuedFrames: options.maxQueuedFrames ?? 64,
    generateId: options.generateId ?? randomId,
    rateLimit: rl && (rl.connection || rl.events || rl.limiter) ? rl : undefined,
    exposeErrors: options.exposeErrors === true,
    recovery: recoverySettings(options.recovery),
  };
}
