import { DisconnectCode, encodeAckRequest, encodeBinary, encodeJson, ErrorCode } from '@stelar/codec-tcp';
import type { BroadcastOperator } from './broadcast';
import type { ConnectionInfo } from './adapter';
import { StelarError } from './errors';
import type { Link, LinkInfo } from './link';
import { SendStatus } from './link';
import { ConnectionBuckets, type RateLimitRule } from './rate-limit';
import { PendingRequests } from './requests';
import {
  asBytes,
  isBinary,
  type AnyEvents,
  type EventData,
  type EventName,
  type EventReply,
  type RequestOptions,
  type SendOptions,
} from './types';

/** Life of a connection on the server. */
export type ConnectionState = 'opening' | 'open' | 'closing' | 'closed';

/** The parts of the hub a connection calls back into (kept narrow on purpose). */
export interface ConnectionOwner {
  readonly requestTimeout: number;
  joinRooms(conn: AnyConnection, rooms: readonly string[]): void | Promise<void>;
  leaveRoom(conn: AnyConnection, room: string): boolean;
  /** Counts one delivery and its outcome. */
  countSend(status: SendStatus, bytes: number): void;
  pendingDelta(delta: number): void;
  requestTimedOut(): void;
  broadcastFrom(conn: AnyConnection): BroadcastOperator<AnyEvents>;
  readonly nodeId: string;
}

/**
 * One client session on the server, whatever its transport.
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
  private dataStore: Record<string, unknown> | undefined;
  /** @internal */
  state: ConnectionState = 'opening';
  /** @internal rooms this connection is in; read them through `rooms`. */
  readonly roomSet = new Set<string>();
  /** @internal dedupe stamp used by adapters during multi-room broadcasts. */
  broadcastStamp = 0;
  /** @internal inbound frames waiting while an async step runs. */
  inbox: unknown[] | null = null;
  /** @internal heartbeat bookkeeping, updated by the hub's sweep. */
  alive = true;
  lastSeen = 0;
  pingSent = false;
  openedAt = 0;
  /** @internal the client's CONNECT has arrived. */
  helloReceived = false;
  /** @internal requests from the client still being handled. */
  inFlight = 0;
  /** @internal set when the hub closes it for a protocol violation: reported instead of the peer's code. */
  failure: { code: number; reason: string } | undefined = undefined;
  /** @internal */
  readonly link: Link;
  /** @internal */
  buckets: ConnectionBuckets | undefined;
  private readonly owner: ConnectionOwner;
  /** Created on the first server → client request (most connections never make one). */
  private pendingRequestsTable: PendingRequests | undefined;
  private closeHandlers: ((code: number, reason: string) => void)[] | undefined;
  /** Created on the first read of `signal`. */
  private abortController: AbortController | undefined;

  constructor(id: string, link: Link, owner: ConnectionOwner) {
    this.id = id;
    this.link = link;
    this.owner = owner;
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
    if (!this.abortController) {
      this.abortController = new AbortController();
      if (this.state === 'closed') this.abortController.abort(new StelarError(ErrorCode.DISCONNECTED, 'connection closed'));
    }
    return this.abortController.signal;
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
    return this.pendingRequestsTable?.size ?? 0;
  }

  /**
   * Joins one or more rooms. Membership is local at once; the promise resolves when it is in
   * effect across a cluster too (at once with the in-memory adapter). Awaiting it is optional.
   * @throws StelarError ROOM_LIMIT when a limit would be exceeded (nothing is joined then)
   */
  join(rooms: string | readonly string[]): Promise<void> {
    const pending = this.owner.joinRooms(this, typeof rooms === 'string' ? [rooms] : rooms);
    return pending ?? Promise.resolve();
  }

  /** Leaves a room; returns whether it was in it. */
  leave(room: string): boolean {
    return this.owner.leaveRoom(this, room);
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
  request<K extends EventName<Out>>(event: K, data: EventData<Out, K>, options: RequestOptions = {}): Promise<EventReply<Out, K>> {
    if (!this.isOpen) return Promise.reject(new StelarError(ErrorCode.DISCONNECTED, 'connection is not open'));
    const { id, promise } = this.pending().create(event, options.timeout ?? this.owner.requestTimeout, options.signal);
    if (id !== 0) {
      let status: SendStatus;
      try {
        status = this.sendEncoded(encodeAckRequest(id, event, data), false);
      } catch (err) {
        this.pending().fail(id, err);
        return promise as Promise<EventReply<Out, K>>;
      }
      if (status === SendStatus.CLOSED) this.pending().fail(id, new StelarError(ErrorCode.DISCONNECTED, 'connection closed'));
    }
    return promise as Promise<EventReply<Out, K>>;
  }

  /** Broadcasts to others: `conn.to('room').emit(…)` reaches the room except this connection. */
  to(rooms: string | readonly string[]): BroadcastOperator<Out> {
    return this.owner.broadcastFrom(this).to(rooms) as unknown as BroadcastOperator<Out>;
  }

  /** Every other connection (`conn.broadcast.emit(…)`). */
  get broadcast(): BroadcastOperator<Out> {
    return this.owner.broadcastFrom(this) as unknown as BroadcastOperator<Out>;
  }

  /** Per-connection rate limit override (`null` lifts the per-connection limit). */
  setRateLimit(rule: RateLimitRule | null): void {
    this.buckets?.override(rule);
  }

  /** Closes the session with a close code (default 1000) and reason. */
  disconnect(code: number = DisconnectCode.NORMAL, reason = ''): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'closing';
    this.link.close(code, reason);
  }

  /** Runs `fn` when the connection closes. */
  onClose(fn: (code: number, reason: string) => void): void {
    (this.closeHandlers ??= []).push(fn);
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
      nodeId: this.owner.nodeId,
      transport: this.transport,
      remoteAddress: this.remoteAddress,
      rooms: [...this.roomSet],
      data,
    };
  }

  private pending(): PendingRequests {
    if (this.pendingRequestsTable) return this.pendingRequestsTable;
    const owner = this.owner;
    return (this.pendingRequestsTable = new PendingRequests({
      onCount: (d) => owner.pendingDelta(d),
      onTimeout: () => owner.requestTimedOut(),
    }));
  }

  /** @internal sends an already encoded frame and counts it. */
  sendEncoded(frame: Uint8Array, volatile: boolean): SendStatus {
    if (this.state === 'closed') return SendStatus.CLOSED;
    const status = this.link.send(frame, volatile);
    this.owner.countSend(status, frame.length);
    return status;
  }

  /** @internal a reply from the client to one of our requests. */
  answer(id: number, ok: boolean, body: Uint8Array): void {
    this.pendingRequestsTable?.answer(id, ok, body);
  }

  /** @internal the link closed: reject what waits, run close handlers. */
  closed(code: number, reason: string): void {
    this.state = 'closed';
    if (this.pendingRequestsTable || this.abortController) {
      const gone = new StelarError(ErrorCode.DISCONNECTED, `connection closed (${code}${reason ? `: ${reason}` : ''})`);
      this.pendingRequestsTable?.failAll(gone);
      this.abortController?.abort(gone);
    }
    this.inbox = null;
    const handlers = this.closeHandlers;
    this.closeHandlers = undefined;
    if (handlers) for (const fn of handlers) fn(code, reason);
  }
}

/** `emit(event, data, options?)` arguments: data optional only for events that take none. */
export type EmitArgs<M, K extends keyof M> = undefined extends EventData<M, K>
  ? [data?: EventData<M, K>, options?: SendOptions]
  : [data: EventData<M, K>, options?: SendOptions];

/** A connection whatever its event maps (what adapters and internals handle). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyConnection = Connection<any, any>;
