import { DisconnectCode, encodeAckRequest, encodeBinary, encodeJson, ErrorCode } from '@stelar/codec-tcp';
import type { BroadcastOperator } from './broadcast';
import type { ConnectionInfo } from './adapter';
import { StelarError } from './errors';
import type { Link, LinkInfo } from './link';
import { SendStatus } from './link';
import type { RateLimitRule } from './rate-limit';
import type { PendingRequest } from './requests';
import type { ServerSession } from './session';
import {
  asBytes,
  isBinary,
  type AnyEvents,
  type DataArgs,
  type EventName,
  type EventReply,
  type RequestOptions,
  type SendOptions,
} from './types';

/** Life of a connection on the server. */
export type ConnectionState = 'opening' | 'open' | 'closing' | 'closed';

let create: (id: string, link: Link, session: ServerSession) => AnyConnection;
let readState: (conn: AnyConnection) => ConnectionState;
let writeState: (conn: AnyConnection, state: 'open' | 'closed') => void;
let readSession: (conn: AnyConnection) => ServerSession;
let readLink: (conn: AnyConnection) => Link;

/**
 * One client session on the server, whatever its transport: what handlers, listeners and your
 * code use. The protocol's per-connection state lives in the hub's session record behind it.
 *
 * `In` are the events this server receives, `Out` the events it sends.
 */
export class Connection<In extends object = AnyEvents, Out extends object = In> {
  /** Session id, sent to the client in CONNECT. */
  readonly id: string;
  /** `ws`, `wss`, `tcp` or `tls`. */
  readonly transport: string;
  readonly remoteAddress: string;
  readonly remotePort: number | undefined;
  /** The HTTP upgrade request (WebSocket connections only): url and headers. */
  readonly upgradeRequest: LinkInfo['upgradeRequest'];
  /** Whatever the client sent as `auth` in CONNECT. */
  auth: unknown = undefined;
  /**
   * Adapter contract (see `Adapter`): the rooms this connection is in, kept by the adapter
   * alongside its room index. Read them through `rooms`.
   */
  readonly roomSet = new Set<string>();
  /** Adapter contract: the adapter's dedupe stamp for multi-room broadcasts. */
  broadcastStamp = 0;
  private dataStore: Record<string, unknown> | undefined = undefined;
  /** The hub's record of this session. */
  private readonly session: ServerSession;
  /**
   * Where it is in its life: written by `disconnect` and, through `markOpen` / `markClosed`, by
   * the hub. Kept here with the link rather than in the record, so a send or a broadcast touches
   * this object and its link only.
   */
  private state: ConnectionState = 'opening';
  /** The link it runs on. */
  private readonly link: Link;

  /** Made by the hub with its session record (`Hub.accept`), through `newConnection`. */
  private constructor(id: string, link: Link, session: ServerSession) {
    this.id = id;
    this.link = link;
    this.session = session;
    this.transport = link.transport;
    this.remoteAddress = link.remoteAddress;
    this.remotePort = link.remotePort;
    this.upgradeRequest = link.upgradeRequest;
  }

  /** Free storage for the application (user, session…); created on first use. */
  get data(): Record<string, unknown> {
    return (this.dataStore ??= {});
  }
  set data(value: Record<string, unknown>) {
    this.dataStore = value;
  }

  /**
   * Aborts when the connection closes (its reason: a `StelarError` with code DISCONNECTED). Pass it
   * to the slow work a handler starts (`fetch`, timers, queries) so that work stops with the client.
   * Created on first use.
   */
  get signal(): AbortSignal {
    const s = this.session;
    if (!s.abort) {
      s.abort = new AbortController();
      if (this.state === 'closed') s.abort.abort(new StelarError(ErrorCode.DISCONNECTED, 'connection closed'));
    }
    return s.abort.signal;
  }

  /** True once the session is accepted and until it closes. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Rooms this connection is in. */
  get rooms(): ReadonlySet<string> {
    return this.roomSet;
  }

  /** Bytes queued for this client. */
  get bufferedAmount(): number {
    return this.link.bufferedAmount;
  }

  /** Requests sent to this client and not yet answered. */
  get pendingRequests(): number {
    return this.session.requests?.size ?? 0;
  }

  /**
   * Joins one or more rooms. Membership is local at once; the promise resolves when it is in
   * effect across a cluster too (at once with the in-memory adapter). Awaiting it is optional.
   * @throws StelarError ROOM_LIMIT when a limit would be exceeded (nothing is joined then)
   */
  join(rooms: string | readonly string[]): Promise<void> {
    const s = this.session;
    const pending = s.host.joinRooms(s, typeof rooms === 'string' ? [rooms] : rooms);
    return pending ?? Promise.resolve();
  }

  /** Leaves a room; returns whether it was in it. */
  leave(room: string): boolean {
    return this.session.host.leaveRoom(this.session, room);
  }

  /** Sends an event to this client. Uint8Array / ArrayBuffer data is sent as binary. */
  emit<K extends EventName<Out>>(event: K, ...args: EmitArgs<Out, K>): boolean {
    const [data, options] = args as [unknown, SendOptions | undefined];
    const frame = isBinary(data) ? encodeBinary(event, asBytes(data)) : encodeJson(event, data);
    const status = this.sendEncoded(frame, options?.volatile ?? false);
    return status === SendStatus.OK || status === SendStatus.BUFFERED;
  }

  /**
   * Sends a request to this client and resolves with its handler's reply. Rejects with a
   * StelarError: TIMEOUT, ABORTED, DISCONNECTED, or the code the client's handler threw.
   */
  request<K extends EventName<Out>>(event: K, ...args: DataArgs<Out, K, RequestOptions>): Promise<EventReply<Out, K>> {
    const [data, options = {}] = args as [unknown, RequestOptions | undefined];
    const s = this.session;
    if (this.state !== 'open') return Promise.reject(new StelarError(ErrorCode.DISCONNECTED, 'connection is not open'));
    const tracker = s.tracker();
    return new Promise<unknown>((resolve, reject) => {
      const p: PendingRequest = { event, id: 0, timer: undefined, signal: options.signal, onAbort: undefined, settled: false, resolve, reject };
      if (!tracker.track(p, options.timeout ?? s.host.requestTimeout)) return;
      let status: SendStatus;
      try {
        status = this.sendEncoded(encodeAckRequest(tracker.assign(p), event, data), false);
      } catch (err) {
        tracker.settle(p, false, err);
        return;
      }
      if (status === SendStatus.CLOSED) tracker.settle(p, false, new StelarError(ErrorCode.DISCONNECTED, 'connection closed'));
    }) as Promise<EventReply<Out, K>>;
  }

  /** Broadcasts to others: `conn.to('room').emit(…)` reaches the room except this connection. */
  to(rooms: string | readonly string[]): BroadcastOperator<Out> {
    return this.session.host.broadcastFrom<Out>(this).to(rooms);
  }

  /** Every other connection (`conn.broadcast.emit(…)`). */
  get broadcast(): BroadcastOperator<Out> {
    return this.session.host.broadcastFrom<Out>(this);
  }

  /** Per-connection rate limit override (`null` lifts the per-connection limit). */
  setRateLimit(rule: RateLimitRule | null): void {
    this.session.buckets?.override(rule);
  }

  /** Closes the session with a close code (default 1000) and reason. */
  disconnect(code: number = DisconnectCode.NORMAL, reason = ''): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'closing';
    this.link.close(code, reason);
  }

  /** Runs `fn` when the connection closes. */
  onClose(fn: (code: number, reason: string) => void): void {
    (this.session.closeHandlers ??= []).push(fn);
  }

  /** A serialisable description (used across nodes). */
  info(): ConnectionInfo {
    let data: unknown;
    try {
      data = this.dataStore === undefined ? {} : (JSON.parse(JSON.stringify(this.dataStore)) as unknown);
    } catch {
      data = {};
    }
    return {
      id: this.id,
      nodeId: this.session.host.nodeId,
      transport: this.transport,
      remoteAddress: this.remoteAddress,
      rooms: [...this.roomSet],
      data,
    };
  }

  /**
   * Adapter contract: sends a frame already encoded (with its totalLen, docs/protocol.md §1) and
   * counts it. A broadcast hands the same bytes to every recipient this way.
   */
  sendEncoded(frame: Uint8Array, volatile: boolean): SendStatus {
    if (this.state === 'closed') return SendStatus.CLOSED;
    const status = this.link.send(frame, volatile);
    this.session.host.countSend(status, frame.length);
    return status;
  }

  static {
    // The hub's only ways in (see `newConnection` and `sessionOf`).
    create = (id, link, session) => new Connection(id, link, session);
    readSession = (conn) => conn.session;
    readLink = (conn) => conn.link;
    readState = (conn) => conn.state;
    writeState = (conn, state) => {
      conn.state = state;
    };
  }
}

/** The connection of a new session record: for `ServerSession` only (not exported by the package). */
export function newConnection(id: string, link: Link, session: ServerSession): AnyConnection {
  return create(id, link, session);
}

/** The hub's record behind a connection: for the hub's parts only (not exported by the package). */
export function sessionOf(conn: AnyConnection): ServerSession {
  return readSession(conn);
}

/** `emit(event, data, options?)` arguments: data optional only for events that take none. */
export type EmitArgs<M, K extends keyof M> = DataArgs<M, K, SendOptions>;

/** A connection whatever its event maps (what adapters and internals handle). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyConnection = Connection<any, any>;

/**
 * The link a connection runs on: for the hub's parts (pause, resume, ping) and sibling packages
 * (a cluster adapter corking writes, tests cutting a socket).
 */
export function linkOf(conn: AnyConnection): Link {
  return readLink(conn);
}

/** A connection's state, for its session record. */
export function stateOf(conn: AnyConnection): ConnectionState {
  return readState(conn);
}

/** The handshake accepted the session. */
export function markOpen(conn: AnyConnection): void {
  writeState(conn, 'open');
}

/** The link closed. */
export function markClosed(conn: AnyConnection): void {
  writeState(conn, 'closed');
}
