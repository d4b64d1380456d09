import type { StelarError } from '../errors';
import type { Link, LinkHandler } from '../link';
import type { Logger } from '../logger';
import type { EventData, EventName, EventReply, HandlerResult, SendOptions } from '../types';
import type { BackoffOptions } from './backoff';
import type { OfflineQueueOptions } from './queue';
import type { ClientRecoveryOptions } from './resume';

/** Where a client is in its life. */
export type ClientState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

/**
 * Opens one transport connection for the engine. It resolves once the link can carry frames
 * (TCP connected, WebSocket upgraded) and reports everything after that through `handler`.
 * It rejects with an error; `fatal: true` on the error (e.g. HTTP 403, a certificate refusal)
 * stops reconnection.
 */
export type Dialer = (handler: LinkHandler, signal: AbortSignal) => Promise<Link>;

export interface ClientHeartbeatOptions {
  /** Send a PING after this long without hearing from the server (ms). Default: the server's heartbeat, else 25 000. */
  interval?: number;
  /** Treat the server as gone this long after the PING went unanswered (ms). Default 10 000. */
  timeout?: number;
}

/** Reconnection policy: the backoff, or a delay of your own. */
export interface ReconnectOptions extends BackoffOptions {
  /**
   * Your own delay before retry `attempt` (from 1, as in `reconnecting`), given the error that
   * ended the previous attempt or session and `backoff`, the delay the policy above would use
   * (to adjust rather than replace it). `maxAttempts` still applies. A value that is not a
   * finite number ≥ 0, or a throw, falls back to `backoff` and is reported as an `error`
   * notification (`BAD_OPTIONS`).
   */
  delay?: (attempt: number, error: Error, backoff: number) => number;
}

/** Bounds of one `connect()` call (they end that wait only; see `ClientEngine.connect`). */
export interface ConnectOptions {
  /**
   * Most milliseconds to wait for a session. Default 20 000; `0` or `Infinity`: no bound (the
   * call then settles when a session opens or the client stops).
   */
  timeout?: number;
  /** Aborting rejects the call with ABORTED. */
  signal?: AbortSignal;
}

export interface ClientOptions {
  /** Credentials for CONNECT; a function is called before every (re)connection. */
  auth?: unknown;
  /** Reconnection with exponential backoff and full jitter; `false` disables it. Default on. */
  reconnect?: boolean | ReconnectOptions;
  /** Messages sent while not connected are queued (bounded); `false` drops them instead. */
  queue?: OfflineQueueOptions | false;
  /** Default request timeout (ms). Default 10 000. */
  requestTimeout?: number;
  /** Time allowed for the transport to open and the server to accept the session (ms). Default 10 000. */
  connectTimeout?: number;
  /** Dead-server detection; `false` disables it. */
  heartbeat?: ClientHeartbeatOptions | false;
  /**
   * Logs the lifecycle (`{ debug, info, warn, error }` called as `(fields, message)`: pino,
   * bunyan, console…): connected/disconnected at info, reconnection and failed attempts at debug,
   * errors, giving up and a failed attempt that stops the client at warn.
   * Default none (`@stelar/client-node` uses the console when `DEBUG=stelar:client` or `stelar:*`).
   */
  logger?: Logger | false;
  /**
   * Connection-state recovery (docs/protocol.md §8), used when the server has it on: after a
   * lost link the client resumes its session (same id and rooms; the messages it missed are
   * replayed; what the server did not get is sent again; pending requests keep waiting). Sent
   * messages are kept to send again, bounded by this ring (default 1000 messages / 1 MiB).
   * Default on; `false` turns it off.
   */
  recovery?: boolean | ClientRecoveryOptions;
}

export interface ClientRequestOptions extends SendOptions {
  timeout?: number;
  signal?: AbortSignal;
  /**
   * Keep the request across a reconnection (it is sent again once connected) instead of
   * rejecting it with DISCONNECTED when the connection drops. Use for idempotent requests.
   */
  retry?: boolean;
}

/** Lifecycle notifications (never triggered by event names from the wire). */
export interface ClientLifecycle {
  state: (state: ClientState) => void;
  /** `recovered`: the session was resumed (same id, rooms; missed messages replayed). */
  connected: (info: { id: string; recovered?: boolean }) => void;
  /**
   * The session could not be resumed (expired, or its missed messages were no longer all kept):
   * `id` is a fresh session that replaces `previousId`. Rooms are joined again; requests pending
   * in the old one failed with DISCONNECTED, or were sent again with `retry`.
   */
  recovery_failed: (info: { id: string; previousId: string }) => void;
  disconnected: (info: { code: number; reason: string; willReconnect: boolean }) => void;
  reconnecting: (info: { attempt: number; delay: number }) => void;
  reconnect_failed: (info: { attempts: number; error: unknown }) => void;
  /**
   * A connection attempt failed, before any session: the dial (DNS, ECONNREFUSED, TLS, an HTTP
   * status), the connect timeout, a refusal by the server, a link closed before the session, or
   * `NOT_STELAR`. `attempt` is 0 for the first try and then the retry's number (as in
   * `reconnecting`); `willRetry` is false when the client stops after it.
   */
  connect_error: (error: Error, info: { attempt: number; willRetry: boolean }) => void;
  /** ERROR frames from the server, failed re-joins, handler failures. */
  error: (error: StelarError, event?: string) => void;
}

/** Reply-less handlers are fine; for requests the first handler's return value is the reply. */
export type ClientEventHandler<In extends object, K extends EventName<In>> = (data: EventData<In, K>) => HandlerResult<EventReply<In, K>>;
