import { ErrorCode, type Frame, type Offset } from '@stelar/codec-tcp';
import type { BroadcastOperator } from './broadcast';
import type { AnyConnection, ConnectionState } from './connection';
import { newConnection } from './connection';
import { markClosed, stateOf } from './connection-access';
import { StelarError } from './errors';
import type { Link, SendStatus } from './link';
import type { ConnectionBuckets } from './rate-limit';
import type { LogEntry } from './recovery-log';
import type { SessionRecovery } from './recovery-session';
import { RequestTracker } from './requests';

/** What a session (and its `Connection`) may ask of the hub. */
export interface SessionHost {
  readonly nodeId: string;
  readonly requestTimeout: number;
  joinRooms(s: ServerSession, rooms: readonly string[]): void | Promise<void>;
  leaveRoom(s: ServerSession, room: string): boolean;
  /** Counts one delivery and its outcome. */
  countSend(status: SendStatus, bytes: number): void;
  pendingDelta(delta: number): void;
  requestTimedOut(): void;
  /** Everyone but `conn` (`conn.broadcast`, `conn.to(…)`). */
  broadcastFrom<Out extends object>(conn: AnyConnection): BroadcastOperator<Out>;
  /** Connection-state recovery (a hub with it on): a direct emit, logged as a broadcast to `conn.id`; true when sent or kept. */
  emitLogged?(conn: AnyConnection, frame: Uint8Array, compress?: boolean): boolean;
}

/**
 * The hub's record of one session: everything the protocol keeps per connection, written only by
 * the hub's parts (inbound pipeline, handshake, rooms, liveness). The user-facing `Connection` is
 * a view over it; nothing here is reachable from the public API.
 *
 * With connection-state recovery the record outlives its link: it is kept while the client is
 * away (state `absent`) and re-attached to the client's next link (`recovery.ts`).
 */
export class ServerSession {
  /** Inbound frames waiting while an async step (middleware, limiter, a request slot) runs. */
  inbox: Frame[] | null = null;
  /** Heard from since the last sweep (any frame or pong). */
  alive = true;
  /** When the sweep last found it alive. */
  lastSeen: number;
  readonly openedAt: number;
  /** Wall-clock ms when the link was accepted (`conn.connectedAt`). */
  readonly connectedAt: number;
  /** Wall-clock ms of the last frame or pong from the client (`conn.lastSeen`). */
  lastSeenAt: number;
  /** Frames received (`conn.messagesIn`). */
  messagesIn = 0;
  /** A heartbeat ping is out. */
  pingSent = false;
  /** The client's CONNECT has arrived. */
  helloReceived = false;
  /** Requests from the client still being handled. */
  inFlight = 0;
  /** Set when the hub closes it for a protocol violation: reported instead of the peer's code. */
  failure: { code: number; reason: string } | undefined = undefined;
  /** Token buckets (built-in rate limiting only). */
  buckets: ConnectionBuckets | undefined = undefined;
  /** Requests sent to the client; created on the first one (most connections never make one). */
  requests: RequestTracker | undefined = undefined;
  /** Behind `conn.signal`; created on first use. */
  abort: AbortController | undefined = undefined;
  /** `conn.onClose` callbacks. */
  closeHandlers: ((code: number, reason: string) => void)[] | undefined = undefined;
  /** Connection-state recovery, when the client opted in (see `Recovery`). */
  rec: SessionRecovery | undefined = undefined;
  /** The link handler feeding this session: a resume points it at the session it brings back. */
  inbound: { session: ServerSession | null } | undefined = undefined;
  /** While this new link's middleware runs: the absent session it asks to resume, and from which offset. */
  resuming: ServerSession | undefined = undefined;
  resumeFrom: Offset | undefined = undefined;
  /** Shared log: the entries read from the store for that resume (older than the process holds). */
  resumeOlder: LogEntry[] | undefined = undefined;
  readonly conn: AnyConnection;

  constructor(link: Link, readonly host: SessionHost, id: string, now: number) {
    this.openedAt = this.lastSeen = now;
    this.connectedAt = this.lastSeenAt = Date.now();
    this.conn = newConnection(id, link, this);
  }

  /** Where the connection is in its life (the `Connection` keeps it: senders read it there). */
  get state(): ConnectionState {
    return stateOf(this.conn);
  }

  /** Open, or absent with recovery: its frames are handled and its answers sent (or kept for it). */
  get active(): boolean {
    const st = stateOf(this.conn);
    return st === 'open' || st === 'absent';
  }

  /** The request table, created on first use. */
  tracker(): RequestTracker {
    if (this.requests) return this.requests;
    const host = this.host;
    return (this.requests = new RequestTracker({
      onCount: (d) => host.pendingDelta(d),
      onTimeout: () => host.requestTimedOut(),
    }));
  }

  /** The link closed: reject what waits for the client, abort `conn.signal`, run close handlers. */
  closed(code: number, reason: string): void {
    markClosed(this.conn);
    this.inbox = null;
    if (this.requests || this.abort) {
      const gone = new StelarError(ErrorCode.DISCONNECTED, `connection closed (${code}${reason ? `: ${reason}` : ''})`);
      this.requests?.failAll(gone);
      this.abort?.abort(gone);
    }
    const handlers = this.closeHandlers;
    this.closeHandlers = undefined;
    if (handlers) for (const fn of handlers) fn(code, reason);
  }
}
