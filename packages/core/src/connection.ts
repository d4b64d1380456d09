import { carriesOffset, DisconnectCode, encodeAckRequest, encodeBinary, encodeJson, ErrorCode, withOffset, ZERO_OFFSET } from '@stelar/codec-tcp';
import type { BroadcastOperator } from './broadcast';
import type { ConnectionInfo } from './adapter';
import { grantAccess } from './connection-access';
import { StelarError } from './errors';
import type { Link, LinkInfo } from './link';
import { SendStatus } from './link';
import type { RateLimitRule } from './rate-limit';
import type { OutFrame } from './recovery-log';
import type { SessionRecovery } from './recovery-session';
import type { PendingRequest } from './requests';
import type { ServerSession } from './session';
import {
  asBytes,
  isBinary,
  type AnyEvents,
  type DataArgs,
  type EventName,
  type EventReply,
  type EmitOptions,
  type RequestOptions,
} from './types';

/** What `conn.data` holds unless the hub is given a `Data` type. */
export type ConnectionData = Record<string, unknown>;

/**
 * Life of a connection on the server. `absent`: its link was lost and connection-state recovery
 * keeps the session for its client to come back (not open, not yet ended).
 */
export type ConnectionState = 'opening' | 'open' | 'absent' | 'closing' | 'closed';

let create: (id: string, link: Link, session: ServerSession) => AnyConnection;

/** What a connection's link facts look like when a resume moves it to another link. */
type LinkFacts = { -readonly [K in 'transport' | 'remoteAddress' | 'remotePort' | 'upgradeRequest']: Connection[K] };

/**
 * One client session on the server, whatever its transport: what handlers, listeners and your
 * code use. The protocol's per-connection state lives in the hub's session record behind it.
 *
 * `In` are the events this server receives, `Out` the events it sends, `Data` what `conn.data`
 * holds (like Socket.IO's `SocketData`).
 */
export class Connection<In extends object = AnyEvents, Out extends object = In, Data extends object = ConnectionData> {
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
   * The rooms it is in: written by the adapter only (`addRoom`, `removeRoom`), as it updates its
   * room index; read through `rooms`.
   */
  private readonly roomNames = new Set<string>();
  /** The stamp of the last multi-room broadcast that visited it: read and written by `firstVisit` only. */
  private visited = 0;
  private dataStore: Data | undefined = undefined;
  /** Frames sent to this client (`messagesOut`). */
  private sent = 0;
  /** The hub's record of this session. */
  private readonly session: ServerSession;
  /**
   * Where it is in its life: written by `disconnect` and, through `markOpen` / `markClosed`, by
   * the hub. Kept here with the link rather than in the record, so a send or a broadcast touches
   * this object and its link only.
   */
  private state: ConnectionState = 'opening';
  /** The link it runs on (another one after a resume). */
  private link: Link;
  /** Connection-state recovery, for a session that opted in once it is accepted. */
  private rec: SessionRecovery | undefined = undefined;

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

  /**
   * Storage for the application (user, session…), typed by the hub's `Data` parameter. It starts
   * as an empty object, created on first use: the fields of `Data` are there once your code (say,
   * connection middleware) has set them, as with Socket.IO's `socket.data`.
   */
  get data(): Data {
    return (this.dataStore ??= {} as Data);
  }
  set data(value: Data) {
    this.dataStore = value;
  }

  /** Frames received from this client since it connected (control frames included, as in `getStats().messages.in`). */
  get messagesIn(): number {
    return this.session.messagesIn;
  }

  /** Frames sent to this client (written to its link or buffered; dropped volatile ones are not counted). */
  get messagesOut(): number {
    return this.sent;
  }

  /** When the link was accepted (`Date.now()` milliseconds). */
  get connectedAt(): number {
    return this.session.connectedAt;
  }

  /** When a frame or a heartbeat answer last arrived from this client (`Date.now()` milliseconds). */
  get lastSeen(): number {
    return this.session.lastSeenAt;
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

  /** True once the session is accepted and until it closes (false while its client is away). */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /**
   * True once the session was resumed by connection-state recovery (same id, rooms and `data`;
   * missed messages replayed), already while connection middleware runs for the resume.
   */
  get recovered(): boolean {
    return this.rec?.recovered ?? false;
  }

  /** Rooms this connection is in. */
  get rooms(): ReadonlySet<string> {
    return this.roomNames;
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

  /**
   * Sends an event to this client. Uint8Array / ArrayBuffer data is sent as binary, and so are
   * binary values inside JSON data (they arrive as Uint8Array). With recovery, a message that is
   * not volatile is logged as a broadcast to this id, so it reaches the client even if away.
   */
  emit<K extends EventName<Out>>(event: K, ...args: EmitArgs<Out, K>): boolean {
    // Indexed, not destructured: no iterator on the per-message path.
    const options = args[1] as EmitOptions | undefined;
    return this.sendEvent(event, args[0], options?.volatile ?? false, options?.compress);
  }

  /** This connection's `emit` with permessage-deflate allowed (`true`, the default) or not: `conn.compress(false).emit('img', bytes)`. */
  compress(enabled: boolean): ConnectionEmitter<Out> {
    const emit = <K extends EventName<Out>>(event: K, ...args: EmitArgs<Out, K>): boolean => {
      const [data, options] = args as [unknown, EmitOptions | undefined];
      return this.sendEvent(event, data, options?.volatile ?? false, options?.compress ?? enabled);
    };
    return { emit };
  }

  /** What `emit` and `compress(…).emit` do. */
  private sendEvent(event: string, data: unknown, volatile: boolean, compress: boolean | undefined): boolean {
    const frame = isBinary(data) ? encodeBinary(event, asBytes(data)) : encodeJson(event, data);
    if (this.rec !== undefined && !volatile && (this.state === 'open' || this.state === 'absent')) {
      const host = this.session.host;
      if (host.emitLogged) return host.emitLogged(this, frame, compress);
    }
    const status = this.sendEncoded(frame, volatile, compress);
    return status === SendStatus.OK || status === SendStatus.BUFFERED;
  }

  /**
   * Sends a request to this client and resolves with its handler's reply. Rejects with a
   * StelarError: TIMEOUT, ABORTED, DISCONNECTED, or the code the client's handler threw.
   */
  request<K extends EventName<Out>>(event: K, ...args: DataArgs<Out, K, RequestOptions>): Promise<EventReply<Out, K>> {
    const [data, options = {}] = args as [unknown, RequestOptions | undefined];
    const s = this.session;
    if (this.state !== 'open' && this.state !== 'absent') return Promise.reject(new StelarError(ErrorCode.DISCONNECTED, 'connection is not open'));
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
      rooms: [...this.roomNames],
      data,
    };
  }

  /**
   * Adapter contract: sends a frame already encoded (with its totalLen, docs/protocol.md §1) and
   * counts it. A broadcast hands the same bytes to every recipient this way. `compress: false`
   * keeps it uncompressed on a WebSocket with permessage-deflate (see `Link.send`).
   */
  sendEncoded(frame: Uint8Array, volatile: boolean, compress?: boolean): SendStatus {
    if (this.state === 'closed') return SendStatus.CLOSED;
    // A session with recovery gets an offset on every JSON and BINARY frame (zero: not logged).
    if (this.rec !== undefined && carriesOffset(frame)) frame = withOffset(frame, ZERO_OFFSET, true);
    const status = this.link.send(frame, volatile, compress);
    if (status === SendStatus.OK || status === SendStatus.BUFFERED) this.sent++;
    this.session.host.countSend(status, frame.length);
    return status;
  }

  /**
   * Adapter contract, with connection-state recovery: sends one broadcast, the variant carrying
   * its offset to a session that opted in (and remembers the offset as sent), the frame as it is
   * to the others.
   */
  sendOut(out: OutFrame, volatile: boolean, compress?: boolean): SendStatus {
    const rec = this.rec;
    if (rec === undefined) return this.sendEncoded(out.frame, volatile, compress);
    if (this.state === 'closed') return SendStatus.CLOSED;
    const frame = out.stamped();
    const status = this.link.send(frame, volatile, compress);
    this.session.host.countSend(status, frame.length);
    if (out.entry !== undefined) {
      if (status === SendStatus.OK || status === SendStatus.BUFFERED) rec.sent = out.entry.seq;
      else rec.missed = true;
    }
    return status;
  }

  static {
    create = (id, link, session) => new Connection(id, link, session);
    // The hub's and the adapter's only ways in (see connection-access.ts).
    grantAccess({
      session: (conn) => conn.session,
      link: (conn) => conn.link,
      setLink: (conn, link) => {
        conn.link = link;
        const facts = conn as unknown as LinkFacts;
        facts.transport = link.transport;
        facts.remoteAddress = link.remoteAddress;
        facts.remotePort = link.remotePort;
        facts.upgradeRequest = link.upgradeRequest;
      },
      setRecovery: (conn, rec) => {
        conn.rec = rec;
      },
      state: (conn) => conn.state,
      setState: (conn, state) => {
        conn.state = state;
      },
      rooms: (conn) => conn.roomNames,
      visit: (conn, stamp) => {
        if (conn.visited === stamp) return false;
        conn.visited = stamp;
        return true;
      },
    });
  }
}

/** `emit(event, data, options?)` arguments: data optional only for events that take none. */
export type EmitArgs<M, K extends keyof M> = DataArgs<M, K, EmitOptions>;

/** What `conn.compress(flag)` returns: the connection's `emit` with that compress flag. */
export interface ConnectionEmitter<Out extends object = AnyEvents> {
  emit<K extends EventName<Out>>(event: K, ...args: EmitArgs<Out, K>): boolean;
}

/** A connection whatever its event maps (what adapters and internals handle). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyConnection = Connection<any, any, any>;

/**
 * The connection of a new session record: for `ServerSession` only (not exported by the
 * package). Here rather than in connection-access.ts so that making one loads this module.
 */
export function newConnection(id: string, link: Link, session: ServerSession): AnyConnection {
  return create(id, link, session);
}
