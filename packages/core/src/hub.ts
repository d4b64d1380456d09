import {
  DEFAULT_MAX_FRAME_SIZE,
  DisconnectCode,
  decodeJson,
  encodeError,
  encodePong,
  encodeServerConnect,
  ErrorCode,
  FrameError,
  FrameType,
  parseAckRequest,
  parseAckResponse,
  parseClientHello,
  parseDisconnect,
  parseErrorBody,
  parseRoomRequestId,
  PROTOCOL_VERSION,
  type Frame,
} from '@stelar/codec-tcp';
import { MemoryAdapter, type Adapter, type AdapterHost } from './adapter';
import type { ConnectionHandle } from './handle';
import { BroadcastOperator } from './broadcast';
import { cutReason, isPeerCloseCode } from './close';
import { now, unrefTimer } from './clock';
import { Connection, type AnyConnection, type ConnectionOwner } from './connection';
import { StelarError, toErrorBody } from './errors';
import { randomId } from './ids';
import { encodeReply } from './replies';
import { SendStatus, type Link, type LinkHandler } from './link';
import { Metrics, toPrometheus, type Stats } from './metrics';
import { runMiddleware, type Middleware } from './middleware';
import { ConnectionBuckets, type RateLimitOptions } from './rate-limit';
import { HandlerRegistry } from './registry';
import { isThenable, type AnyEvents, type EventData, type EventName, type EventReply, type HandlerResult } from './types';

/**
 * A handler for one event: its return value (or resolved promise) answers a request.
 * `conn.signal` aborts when the connection goes away: pass it to slow work you start.
 */
export type EventHandler<In extends object, Out extends object, K extends EventName<In>> = (
  data: EventData<In, K>,
  conn: Connection<In, Out>,
) => HandlerResult<EventReply<In, K>>;

/** A catch-all handler: sees every event before its own handlers. */
export type AnyEventHandler<In extends object, Out extends object> = (event: string, data: unknown, conn: Connection<In, Out>) => void;

/** What event middleware sees. Middleware may replace `data`. */
export interface EventContext<In extends object = AnyEvents, Out extends object = In> {
  readonly conn: Connection<In, Out>;
  readonly event: string;
  data: unknown;
  /** The client expects a reply (ACK_REQ). */
  readonly isRequest: boolean;
}

/** Runs when a client sends CONNECT; throw (e.g. `AuthError`) to refuse, `await next()` to go on. */
export type ConnectionMiddleware<In extends object = AnyEvents, Out extends object = In> = Middleware<Connection<In, Out>>;
/**
 * Runs for each event/request before its handlers. Not calling `next` drops the message (a
 * request is answered REJECTED); throwing answers with the error's code (default REJECTED).
 * `next()` resolves once handlers have started; it does not wait for async handlers.
 */
export type EventMiddleware<In extends object = AnyEvents, Out extends object = In> = Middleware<EventContext<In, Out>>;

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
}

interface Waiter {
  check(): boolean;
  resolve(): void;
}

const DEFAULT_HEARTBEAT: Required<HeartbeatOptions> = { interval: 25_000, timeout: 20_000 };

/** What a link handler calls back into (one object per hub). */
interface HubInbound {
  frame(conn: AnyConnection, frame: Frame, size: number): void;
  protocolError(conn: AnyConnection, err: { code: string; message: string; closeCode: number }): void;
  closed(conn: AnyConnection, code: number, reason: string, remote: boolean): void;
}

/** A link's handler: two fields and prototype methods, instead of a closure per callback. */
class ConnectionLinkHandler implements LinkHandler {
  constructor(
    private readonly hub: HubInbound,
    private readonly conn: AnyConnection,
  ) {}
  onFrame(frame: Frame, size: number): void {
    this.hub.frame(this.conn, frame, size);
  }
  onProtocolError(err: { code: string; message: string; closeCode: number }): void {
    this.hub.protocolError(this.conn, err);
  }
  onPong(): void {
    this.conn.alive = true;
  }
  onDrain(): void {}
  onClose(code: number, reason: string, remote?: boolean): void {
    this.hub.closed(this.conn, code, reason, remote === true);
  }
}

/**
 * The application layer of a server: sessions, events, requests, rooms, broadcast, middleware,
 * rate limiting, heartbeats and metrics, over any number of transports. Transports hand it
 * links with `accept(link)`.
 *
 * `In`: events the server receives; `Out`: events it sends (default: the same map).
 */
export class Hub<In extends object = AnyEvents, Out extends object = In> {
  readonly nodeId: string;
  readonly adapter: Adapter;
  protected readonly metrics = new Metrics(now);
  private readonly open = new Map<string, Connection<In, Out>>();
  private readonly opening = new Set<Connection<In, Out>>();
  private readonly handlers = new HandlerRegistry<EventHandler<In, Out, EventName<In>>, AnyEventHandler<In, Out>>();
  private readonly serverEventHandlers = new Map<string, (data: unknown, fromNode: string) => unknown>();
  private readonly connectionMiddleware: ConnectionMiddleware<In, Out>[] = [];
  private readonly eventMiddleware: EventMiddleware<In, Out>[] = [];
  private readonly connectionListeners: ((conn: Connection<In, Out>) => unknown)[] = [];
  private readonly disconnectListeners: ((conn: Connection<In, Out>, code: number, reason: string) => void)[] = [];
  private readonly errorListeners: ((err: unknown, conn?: Connection<In, Out>) => void)[] = [];
  private readonly joinListeners: ((conn: Connection<In, Out>, room: string) => void)[] = [];
  private readonly leaveListeners: ((conn: Connection<In, Out>, room: string) => void)[] = [];
  private readonly waiters = new Set<Waiter>();
  /** Connections whose next request waits for a process-wide handler slot, in arrival order. */
  private readonly slotQueue = new Map<Connection<In, Out>, (granted: boolean) => void>();
  /** Slots handed to waiting connections whose request has not been dispatched yet. */
  private granted = 0;
  private readonly owner: ConnectionOwner;
  private readonly opts: {
    maxRoomsPerConnection: number;
    maxRooms: number;
    handshakeTimeout: number;
    heartbeat: Required<HeartbeatOptions> | false;
    requestTimeout: number;
    maxFrameSize: number;
    maxConcurrentRequests: number;
    maxHandlersInFlight: number;
    maxQueuedFrames: number;
    generateId: () => string;
  };
  private readonly rateLimit: RateLimitOptions | undefined;
  private readonly authorizeJoin: HubOptions['authorizeJoin'];
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private draining = false;
  private readonly attached: Promise<void>;

  constructor(options: HubOptions = {}) {
    this.nodeId = options.nodeId ?? randomId();
    this.adapter = options.adapter ?? new MemoryAdapter();
    this.opts = {
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
    };
    this.rateLimit = options.rateLimit && (options.rateLimit.connection || options.rateLimit.events || options.rateLimit.limiter) ? options.rateLimit : undefined;
    this.authorizeJoin = options.authorizeJoin;

    const metrics = this.metrics;
    this.owner = {
      nodeId: this.nodeId,
      requestTimeout: this.opts.requestTimeout,
      joinRooms: (conn, rooms) => this.joinRooms(conn, rooms),
      leaveRoom: (conn, room) => this.leaveRoom(conn, room),
      countSend: (status, bytes) => {
        if (status === SendStatus.OK || status === SendStatus.BUFFERED) {
          metrics.messagesOut++;
          metrics.bytesOut += bytes;
          if (status === SendStatus.BUFFERED) metrics.buffered++;
        } else if (status === SendStatus.DROPPED) metrics.dropped++;
      },
      pendingDelta: (d) => {
        metrics.acksPending += d;
        if (d < 0) this.poke();
      },
      requestTimedOut: () => {
        metrics.acksTimedOut++;
        metrics.error(ErrorCode.TIMEOUT);
      },
      broadcastFrom: (conn) => new BroadcastOperator(this.adapter).except(conn) as BroadcastOperator<AnyEvents>,
    };
    const host: AdapterHost = {
      nodeId: this.nodeId,
      connection: (id) => this.open.get(id),
      connections: () => this.open.values(),
      handleServerEvent: async (event, data, fromNode) => {
        const fn = this.serverEventHandlers.get(event);
        if (!fn) throw new StelarError(ErrorCode.NO_HANDLER, `no server-side handler for "${event}"`);
        return fn(data, fromNode);
      },
      countError: (code) => metrics.error(code),
      roomsDelta: (d) => {
        metrics.rooms += d;
      },
    };
    this.attached = Promise.resolve(this.adapter.attach(host));
    this.attached.catch(() => undefined);
  }

  // ── registration ────────────────────────────────────────────────────────────

  /** Adds a handler for an event. Its return value answers requests (the first handler's). */
  on<K extends EventName<In>>(event: K, handler: EventHandler<In, Out, K>): this {
    this.handlers.on(event, handler as EventHandler<In, Out, EventName<In>>);
    return this;
  }

  /** Adds a handler that runs once. */
  once<K extends EventName<In>>(event: K, handler: EventHandler<In, Out, K>): this {
    this.handlers.on(event, handler as EventHandler<In, Out, EventName<In>>, true);
    return this;
  }

  /** Removes a handler, or all handlers of the event. */
  off<K extends EventName<In>>(event: K, handler?: EventHandler<In, Out, K>): this {
    this.handlers.off(event, handler as EventHandler<In, Out, EventName<In>> | undefined);
    return this;
  }

  /** Adds a catch-all handler (sees every event, before its own handlers; not a reply source). */
  onAny(handler: AnyEventHandler<In, Out>): this {
    this.handlers.onAny(handler);
    return this;
  }

  offAny(handler?: AnyEventHandler<In, Out>): this {
    this.handlers.offAny(handler);
    return this;
  }

  /** Connection middleware: runs on each client's CONNECT, in order, before the session opens. */
  use(mw: ConnectionMiddleware<In, Out>): this {
    this.connectionMiddleware.push(mw);
    return this;
  }

  /** Event middleware: runs on each event and request before its handlers. */
  useEvent(mw: EventMiddleware<In, Out>): this {
    this.eventMiddleware.push(mw);
    return this;
  }

  /** Runs for each accepted session (after the client got its CONNECT answer). */
  onConnection(fn: (conn: Connection<In, Out>) => unknown): this {
    this.connectionListeners.push(fn);
    return this;
  }

  /** Runs when an accepted session ends. */
  onDisconnect(fn: (conn: Connection<In, Out>, code: number, reason: string) => void): this {
    this.disconnectListeners.push(fn);
    return this;
  }

  /**
   * Runs after a connection joins a room (server-side `join`, a client's JOIN, or a remote
   * `to(…).join`), once per room actually joined.
   */
  onJoin(fn: (conn: Connection<In, Out>, room: string) => void): this {
    this.joinListeners.push(fn);
    return this;
  }

  /** Runs after a connection leaves a room, including the rooms it leaves by disconnecting. */
  onLeave(fn: (conn: Connection<In, Out>, room: string) => void): this {
    this.leaveListeners.push(fn);
    return this;
  }

  /** Errors thrown by handlers, middleware or listeners (also counted in `getStats().errors`). */
  onError(fn: (err: unknown, conn?: Connection<In, Out>) => void): this {
    this.errorListeners.push(fn);
    return this;
  }

  /** Handles events other server processes send with `serverSideEmit`. */
  onServerEvent(event: string, fn: (data: unknown, fromNode: string) => unknown): this {
    this.serverEventHandlers.set(event, fn);
    return this;
  }

  // ── addressing ──────────────────────────────────────────────────────────────

  /** Addresses the members of one or more rooms. */
  to(rooms: string | readonly string[]): BroadcastOperator<Out> {
    return new BroadcastOperator<Out>(this.adapter).to(rooms);
  }

  /** Same as `to`. */
  in(rooms: string | readonly string[]): BroadcastOperator<Out> {
    return this.to(rooms);
  }

  /** Addresses everyone but some rooms or connections. */
  except(what: Parameters<BroadcastOperator<Out>['except']>[0]): BroadcastOperator<Out> {
    return new BroadcastOperator<Out>(this.adapter).except(what);
  }

  /** Everyone, but receivers under backpressure may miss it. */
  get volatile(): BroadcastOperator<Out> {
    return new BroadcastOperator<Out>(this.adapter).volatile;
  }

  /** Only this process's connections. */
  get local(): BroadcastOperator<Out> {
    return new BroadcastOperator<Out>(this.adapter).local;
  }

  /** Sends an event to every connection (on every node). */
  emit<K extends EventName<Out>>(event: K, ...args: undefined extends EventData<Out, K> ? [data?: EventData<Out, K>] : [data: EventData<Out, K>]): void {
    new BroadcastOperator<Out>(this.adapter).emit(event, ...args);
  }

  /** Every connection, on every node, as handles (see `BroadcastOperator.fetchConnections`). */
  fetchConnections(options?: { timeout?: number }): Promise<ConnectionHandle<Out>[]> {
    return new BroadcastOperator<Out>(this.adapter).fetchConnections(options);
  }

  /** Sends an event to the other server processes (see `onServerEvent`). */
  serverSideEmit(event: string, data?: unknown, options?: { ack?: boolean; timeout?: number }): Promise<unknown[]> {
    return this.adapter.serverSideEmit(event, data, options);
  }

  /** An open local connection by id. */
  getConnection(id: string): Connection<In, Out> | undefined {
    return this.open.get(id);
  }

  /** Open local connections by id. */
  get connections(): ReadonlyMap<string, Connection<In, Out>> {
    return this.open;
  }

  /** Counters, in O(1). */
  getStats(): Stats {
    return this.metrics.snapshot(this.adapter.metrics?.());
  }

  /** The counters in Prometheus text format. */
  metricsText(prefix?: string): string {
    return toPrometheus(this.getStats(), prefix);
  }

  /** False while draining. */
  get isReady(): boolean {
    return !this.draining;
  }

  /** Resolves once the adapter is ready (e.g. connected to Redis). */
  ready(): Promise<void> {
    return this.attached;
  }

  // ── transports ──────────────────────────────────────────────────────────────

  /** Frame-size limit transports must enforce on receive. */
  get maxFrameSize(): number {
    return this.opts.maxFrameSize;
  }

  /** Takes a new link from a transport. The client must send CONNECT next. */
  accept(link: Link): LinkHandler {
    const conn = new Connection<In, Out>(this.opts.generateId(), link, this.owner);
    conn.openedAt = conn.lastSeen = now();
    // Buckets exist from the start, so connection middleware may already override them.
    if (this.rateLimit && !this.rateLimit.limiter) conn.buckets = new ConnectionBuckets(this.rateLimit.connection, this.rateLimit.events);
    this.opening.add(conn);
    this.metrics.opening++;
    if (this.draining) conn.disconnect(DisconnectCode.GOING_AWAY, 'server shutting down');
    else this.startSweep();
    return new ConnectionLinkHandler(this.inbound, conn);
  }

  /** The hub's side of every link, shared: per connection only a small handler object exists. */
  private readonly inbound: HubInbound = {
    frame: (conn, frame, size) => this.onFrame(conn as Connection<In, Out>, frame, size),
    protocolError: (conn, err) => this.protocolError(conn as Connection<In, Out>, err.code, err.message, err.closeCode),
    closed: (conn, code, reason, remote) => this.linkClosed(conn as Connection<In, Out>, code, reason, remote),
  };

  // ── inbound ─────────────────────────────────────────────────────────────────

  private onFrame(conn: Connection<In, Out>, frame: Frame, size: number): void {
    const m = this.metrics;
    m.messagesIn++;
    m.bytesIn += size;
    conn.alive = true;
    if (conn.state === 'closed' || conn.state === 'closing') return;
    if (conn.inbox) {
      conn.inbox.push(frame);
      if (conn.inbox.length === this.opts.maxQueuedFrames) conn.link.pause();
      return;
    }
    const pending = this.process(conn, frame);
    if (pending) void this.runQueue(conn, pending);
  }

  /** Processes frames queued behind an async step, in order; pauses the link when full. */
  private async runQueue(conn: Connection<In, Out>, first: Promise<void>): Promise<void> {
    conn.inbox = [];
    await first.catch((err: unknown) => this.report(err, conn));
    while (conn.inbox && conn.inbox.length > 0) {
      const frame = conn.inbox.shift() as Frame;
      const pending = this.process(conn, frame);
      if (pending) await pending.catch((err: unknown) => this.report(err, conn));
    }
    if (conn.inbox) {
      conn.inbox = null;
      conn.link.resume();
    }
  }

  /** Handles one frame; returns a promise when an async step must finish before the next frame. */
  private process(conn: Connection<In, Out>, frame: Frame): Promise<void> | undefined {
    if (conn.state !== 'open' && conn.state !== 'opening') return undefined;
    try {
      switch (frame.type) {
        case FrameType.JSON:
        case FrameType.BINARY:
        case FrameType.ACK_REQ:
          if (conn.state !== 'open') return this.protocolError(conn, ErrorCode.PROTOCOL, 'CONNECT first', DisconnectCode.PROTOCOL_ERROR);
          return this.dispatch(conn, frame);
        case FrameType.ACK_RES: {
          if (conn.state !== 'open') return this.protocolError(conn, ErrorCode.PROTOCOL, 'CONNECT first', DisconnectCode.PROTOCOL_ERROR);
          const r = parseAckResponse(frame.payload);
          conn.answer(r.id, r.ok, r.body);
          return undefined;
        }
        case FrameType.PING:
          conn.sendEncoded(encodePong(frame.payload), false);
          return undefined;
        case FrameType.PONG:
          return undefined;
        case FrameType.CONNECT:
          if (conn.state !== 'opening' || conn.helloReceived) {
            return this.protocolError(conn, ErrorCode.PROTOCOL, 'duplicate CONNECT', DisconnectCode.PROTOCOL_ERROR);
          }
          return this.handshake(conn, frame);
        case FrameType.DISCONNECT: {
          // A malformed body is a protocol error (thrown); so is a code a client may not send.
          const body = parseDisconnect(frame.payload);
          if (body && !isPeerCloseCode(body.code)) {
            return this.protocolError(conn, ErrorCode.PROTOCOL, 'invalid close code', DisconnectCode.PROTOCOL_ERROR);
          }
          conn.disconnect(DisconnectCode.NORMAL, body ? cutReason(body.reason) : '');
          return undefined;
        }
        case FrameType.JOIN:
        case FrameType.LEAVE:
          if (conn.state !== 'open') return this.protocolError(conn, ErrorCode.PROTOCOL, 'CONNECT first', DisconnectCode.PROTOCOL_ERROR);
          return this.clientRoomOp(conn, frame);
        case FrameType.ERROR:
          // Counted under a fixed label: the peer's code is never a key (docs/security.md).
          if (conn.state !== 'open') return this.protocolError(conn, ErrorCode.PROTOCOL, 'CONNECT first', DisconnectCode.PROTOCOL_ERROR);
          this.metrics.peerError(parseErrorBody(frame.payload).code);
          return undefined;
      }
    } catch (err) {
      if (err instanceof FrameError) return this.protocolError(conn, err.code, err.message, err.closeCode);
      throw err;
    }
  }

  private protocolError(conn: Connection<In, Out>, code: string, message: string, closeCode: number): undefined {
    this.metrics.error(code);
    if (conn.state === 'open' || conn.state === 'opening') {
      // Reported to onDisconnect instead of whatever the peer's own close says.
      conn.failure = { code: closeCode, reason: message };
      conn.sendEncoded(encodeError(code, message), false);
      conn.disconnect(closeCode, message);
    }
    return undefined;
  }

  // ── session opening ─────────────────────────────────────────────────────────

  private handshake(conn: Connection<In, Out>, frame: Frame): Promise<void> | undefined {
    const hello = parseClientHello(frame.payload);
    conn.helloReceived = true;
    if (hello.v !== PROTOCOL_VERSION) {
      this.refuse(conn, ErrorCode.VERSION_MISMATCH, `protocol version ${hello.v} is not supported (server speaks ${PROTOCOL_VERSION})`, DisconnectCode.VERSION_MISMATCH);
      return undefined;
    }
    conn.auth = hello.auth;
    if (this.connectionMiddleware.length === 0) {
      this.acceptSession(conn);
      return undefined;
    }
    return runMiddleware(this.connectionMiddleware, conn, () => undefined).then(
      (completed) => {
        if (conn.state !== 'opening') return;
        if (completed) this.acceptSession(conn);
        else this.refuse(conn, ErrorCode.UNAUTHORIZED, 'refused by connection middleware', DisconnectCode.UNAUTHORIZED);
      },
      (err: unknown) => {
        if (conn.state !== 'opening') return;
        const body = toErrorBody(err, ErrorCode.UNAUTHORIZED);
        this.refuse(conn, body.code, body.message, body.code === ErrorCode.VERSION_MISMATCH ? DisconnectCode.VERSION_MISMATCH : DisconnectCode.UNAUTHORIZED);
      },
    );
  }

  private refuse(conn: Connection<In, Out>, code: string, message: string, closeCode: number): void {
    this.metrics.rejected++;
    this.metrics.error(code);
    conn.sendEncoded(encodeError(code, message), false);
    conn.disconnect(closeCode, message);
  }

  private acceptSession(conn: Connection<In, Out>): void {
    const m = this.metrics;
    this.opening.delete(conn);
    m.opening--;
    conn.state = 'open';
    this.open.set(conn.id, conn);
    m.open++;
    m.total++;
    m.transportDelta(conn.transport, 1);
    conn.sendEncoded(
      encodeServerConnect({
        v: PROTOCOL_VERSION,
        id: conn.id,
        heartbeat: this.opts.heartbeat ? this.opts.heartbeat.interval : 0,
        maxFrame: this.opts.maxFrameSize,
      }),
      false,
    );
    for (const fn of this.connectionListeners) this.guard(() => fn(conn), conn);
  }

  // ── events and requests ─────────────────────────────────────────────────────

  private dispatch(conn: Connection<In, Out>, frame: Frame, granted = false): Promise<void> | undefined {
    const isRequest = frame.type === FrameType.ACK_REQ;
    let id = 0;
    let body = frame.payload;
    if (isRequest) {
      const req = parseAckRequest(frame.payload);
      id = req.id;
      body = req.data;
      if (this.draining) {
        this.reply(conn, id, frame.event, false, { code: ErrorCode.SHUTTING_DOWN, message: 'server is shutting down' });
        return undefined;
      }
      if (conn.inFlight >= this.opts.maxConcurrentRequests) {
        // A closed connection's request is dropped, not retried (it would wait again at once).
        return this.waitForSlot(conn).then(() => (conn.isOpen ? this.dispatch(conn, frame) : undefined));
      }
      // The process-wide cap: wait in line (behind earlier waiters) while this connection's reads pause.
      const inFlight = this.metrics.inFlightHandlers;
      if (granted ? inFlight >= this.opts.maxHandlersInFlight : this.slotQueue.size > 0 || inFlight + this.granted >= this.opts.maxHandlersInFlight) {
        return this.waitForHandlerSlot(conn).then((got) => {
          if (got) this.granted--;
          const next = conn.isOpen ? this.dispatch(conn, frame, got) : undefined;
          // The slot may be left unused (a refusal, a closed connection): pass it on.
          this.grantSlots();
          return next;
        });
      }
    }
    const rl = this.rateLimit;
    if (rl) {
      if (rl.limiter) {
        const verdict = rl.limiter.consume(conn, frame.event, 1);
        if (isThenable(verdict)) {
          return Promise.resolve(verdict).then((ok) => (ok ? this.deliver(conn, frame, id, body, isRequest) : this.limited(conn, frame.event, id, isRequest)));
        }
        if (!verdict) return this.limited(conn, frame.event, id, isRequest);
      } else if (conn.buckets && !conn.buckets.take(frame.event, 1)) {
        return this.limited(conn, frame.event, id, isRequest);
      }
    }
    return this.deliver(conn, frame, id, body, isRequest);
  }

  private limited(conn: Connection<In, Out>, event: string, id: number, isRequest: boolean): undefined {
    const m = this.metrics;
    m.rateLimitHits++;
    m.error(ErrorCode.RATE_LIMITED);
    if (this.rateLimit?.onExceeded === 'disconnect') {
      m.rateLimitDisconnects++;
      conn.sendEncoded(encodeError(ErrorCode.RATE_LIMITED, 'rate limit exceeded', event), false);
      conn.disconnect(DisconnectCode.RATE_LIMITED, 'rate limit exceeded');
    } else if (isRequest) this.reply(conn, id, event, false, { code: ErrorCode.RATE_LIMITED, message: 'rate limit exceeded' });
    else conn.sendEncoded(encodeError(ErrorCode.RATE_LIMITED, 'rate limit exceeded', event), false);
    return undefined;
  }

  private deliver(conn: Connection<In, Out>, frame: Frame, id: number, body: Uint8Array, isRequest: boolean): Promise<void> | undefined {
    if (conn.state !== 'open') return undefined;
    let data: unknown;
    if (frame.type === FrameType.BINARY) data = body;
    else {
      try {
        data = decodeJson(body);
      } catch (err) {
        const e = err as FrameError;
        this.metrics.error(e.code);
        if (isRequest) this.reply(conn, id, frame.event, false, { code: e.code, message: e.message });
        else conn.sendEncoded(encodeError(e.code, e.message, frame.event), false);
        return undefined;
      }
    }
    if (this.eventMiddleware.length === 0) {
      this.invoke(conn, frame.event, data, id, isRequest);
      return undefined;
    }
    const ctx: EventContext<In, Out> = { conn, event: frame.event, data, isRequest };
    return runMiddleware(this.eventMiddleware, ctx, () => this.invoke(conn, ctx.event, ctx.data, id, isRequest)).then(
      (completed) => {
        if (!completed && isRequest) this.reply(conn, id, ctx.event, false, { code: ErrorCode.REJECTED, message: 'dropped by middleware' });
      },
      (err: unknown) => {
        const b = toErrorBody(err, ErrorCode.REJECTED);
        this.metrics.error(b.code);
        if (isRequest) this.reply(conn, id, ctx.event, false, b);
        else if (conn.isOpen) conn.sendEncoded(encodeError(b.code, b.message, ctx.event), false);
      },
    );
  }

  /** Calls catch-all and event handlers; for a request, the first handler's result is the reply. */
  private invoke(conn: Connection<In, Out>, event: string, data: unknown, id: number, isRequest: boolean): void {
    for (const any of this.handlers.any) this.guard(() => any(event, data, conn), conn);
    const fns = this.handlers.take(event);
    if (!fns) {
      if (isRequest) this.reply(conn, id, event, false, { code: ErrorCode.NO_HANDLER, message: `no handler for "${event}"` });
      return;
    }
    if (!isRequest) {
      for (const fn of fns) this.guard(() => fn(data as never, conn), conn, event);
      return;
    }
    const m = this.metrics;
    conn.inFlight++;
    m.inFlightHandlers++;
    const finish = (ok: boolean, value: unknown): void => {
      conn.inFlight--;
      m.inFlightHandlers--;
      this.grantSlots();
      if (ok) this.reply(conn, id, event, true, value);
      else {
        const b = toErrorBody(value, ErrorCode.HANDLER_ERROR);
        m.error(b.code);
        this.emitError(value, conn);
        this.reply(conn, id, event, false, b);
      }
      this.poke();
    };
    let result: unknown;
    try {
      result = fns[0]!(data as never, conn);
    } catch (err) {
      finish(false, err);
      return;
    } finally {
      for (let i = 1; i < fns.length; i++) this.guard(() => fns[i]!(data as never, conn), conn, event);
    }
    if (isThenable(result)) result.then((v) => finish(true, v), (e: unknown) => finish(false, e));
    else finish(true, result);
  }

  private reply(conn: Connection<In, Out>, id: number, event: string, ok: boolean, value: unknown): void {
    if (!conn.isOpen) return;
    const outcome = ok ? { ok: true as const, value } : { ok: false as const, error: value as { code: string; message: string } };
    const frame = encodeReply(id, event, outcome, (err) => {
      this.metrics.error(ErrorCode.HANDLER_ERROR);
      this.emitError(err, conn);
    });
    conn.sendEncoded(frame, false);
  }

  /** Runs a user callback; a throw or rejection is counted, reported, and sent as ERROR when about an event. */
  private guard(fn: () => unknown, conn: Connection<In, Out>, event?: string): void {
    const fail = (err: unknown): void => {
      const b = toErrorBody(err, ErrorCode.HANDLER_ERROR);
      this.metrics.error(b.code);
      this.emitError(err, conn);
      if (event !== undefined && conn.isOpen) conn.sendEncoded(encodeError(b.code, b.message, event), false);
    };
    try {
      const r = fn();
      if (isThenable(r)) r.then(undefined, fail);
    } catch (err) {
      fail(err);
    }
  }

  private report(err: unknown, conn?: Connection<In, Out>): void {
    this.metrics.error(ErrorCode.HANDLER_ERROR);
    this.emitError(err, conn);
  }

  private emitError(err: unknown, conn?: Connection<In, Out>): void {
    for (const fn of this.errorListeners) {
      try {
        fn(err, conn);
      } catch {
        /* an error listener that throws has nowhere else to go */
      }
    }
  }

  private waitForSlot(conn: Connection<In, Out>): Promise<void> {
    return this.waitFor(() => conn.inFlight < this.opts.maxConcurrentRequests || !conn.isOpen, Infinity).then(() => undefined);
  }

  /** Resolves `true` when a process-wide handler slot is granted, `false` if the connection went first. */
  private waitForHandlerSlot(conn: Connection<In, Out>): Promise<boolean> {
    // One waiting request per connection at most: the next frames queue behind it (reads pause).
    return new Promise<boolean>((resolve) => this.slotQueue.set(conn, resolve));
  }

  /** Hands free process-wide slots to waiting connections, first come first served. */
  private grantSlots(): void {
    if (this.slotQueue.size === 0) return;
    const cap = this.opts.maxHandlersInFlight;
    for (const [conn, resolve] of this.slotQueue) {
      if (this.metrics.inFlightHandlers + this.granted >= cap) return;
      this.slotQueue.delete(conn);
      this.granted++;
      resolve(true);
    }
  }

  // ── rooms ───────────────────────────────────────────────────────────────────

  private joinRooms(conn: AnyConnection, rooms: readonly string[]): void | Promise<void> {
    const fresh: string[] = [];
    for (const r of rooms) {
      if (typeof r !== 'string' || r.length === 0) throw new StelarError(ErrorCode.BAD_EVENT, 'room names are non-empty strings');
      if (!conn.roomSet.has(r) && !fresh.includes(r)) fresh.push(r);
    }
    if (fresh.length === 0) return undefined;
    const { maxRoomsPerConnection, maxRooms } = this.opts;
    if (conn.roomSet.size + fresh.length > maxRoomsPerConnection) {
      this.metrics.error(ErrorCode.ROOM_LIMIT);
      throw new StelarError(ErrorCode.ROOM_LIMIT, `a connection may be in at most ${maxRoomsPerConnection} rooms`);
    }
    let created = 0;
    for (const r of fresh) if (!this.adapter.members(r)) created++;
    if (created > 0 && this.adapter.roomCount + created > maxRooms) {
      this.metrics.error(ErrorCode.ROOM_LIMIT);
      throw new StelarError(ErrorCode.ROOM_LIMIT, `the server is at its limit of ${maxRooms} rooms`);
    }
    const pending = this.adapter.join(conn, fresh);
    if (this.joinListeners.length) for (const room of fresh) for (const fn of this.joinListeners) this.guard(() => fn(conn, room), conn);
    return pending;
  }

  private leaveRoom(conn: AnyConnection, room: string): boolean {
    const was = this.adapter.leave(conn, room);
    if (was) for (const fn of this.leaveListeners) this.guard(() => fn(conn, room), conn);
    return was;
  }

  private clientRoomOp(conn: Connection<In, Out>, frame: Frame): Promise<void> | undefined {
    const room = frame.event;
    const id = parseRoomRequestId(frame.payload);
    const answer = (err?: { code: string; message: string }): void => {
      if (id !== undefined) this.reply(conn, id, room, !err, err ?? true);
      else if (err && conn.isOpen) conn.sendEncoded(encodeError(err.code, err.message, room), false);
    };
    if (frame.type === FrameType.LEAVE) {
      this.leaveRoom(conn, room);
      answer();
      return undefined;
    }
    const join = (allowed: boolean): void => {
      if (!conn.isOpen) return;
      if (!allowed) {
        this.metrics.error(ErrorCode.REJECTED);
        answer({ code: ErrorCode.REJECTED, message: `not allowed to join "${room}"` });
        return;
      }
      let pending: void | Promise<void>;
      try {
        pending = this.joinRooms(conn, [room]);
      } catch (err) {
        answer(toErrorBody(err, ErrorCode.ROOM_LIMIT));
        return;
      }
      // A cluster adapter may need a moment (a subscription) before the room is live everywhere.
      if (pending) pending.then(() => answer(), () => answer());
      else answer();
    };
    if (!this.authorizeJoin) {
      join(true);
      return undefined;
    }
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = this.authorizeJoin(conn as unknown as Connection<never, never>, room);
    } catch (err) {
      this.report(err, conn);
      join(false);
      return undefined;
    }
    if (!isThenable(verdict)) {
      join(verdict);
      return undefined;
    }
    return Promise.resolve(verdict).then(join, (err: unknown) => {
      this.report(err, conn);
      join(false);
    });
  }

  // ── closing ─────────────────────────────────────────────────────────────────

  private linkClosed(conn: Connection<In, Out>, code: number, reason: string, remote: boolean): void {
    if (conn.state === 'closed') return;
    const m = this.metrics;
    if (remote) {
      // The peer's own code: after a violation the hub's verdict stands; a code a client may not
      // send (docs/protocol.md §5, e.g. 4006) is reported as the protocol error it is.
      const failure = conn.failure;
      if (failure) {
        code = failure.code;
        reason = failure.reason;
      } else if (code !== 1005 && !isPeerCloseCode(code)) {
        m.error(ErrorCode.PROTOCOL);
        reason = 'invalid close code from the peer';
        code = DisconnectCode.PROTOCOL_ERROR;
      } else reason = cutReason(reason);
    }
    const wasOpen = this.open.delete(conn.id);
    if (this.opening.delete(conn)) m.opening--;
    if (wasOpen) {
      m.open--;
      m.transportDelta(conn.transport, -1);
    }
    if (!remote && code === DisconnectCode.SLOW_CONSUMER) m.slowConsumer++;
    const waiting = this.slotQueue.get(conn);
    if (waiting) {
      this.slotQueue.delete(conn);
      waiting(false);
    }
    if (this.leaveListeners.length) for (const room of [...conn.roomSet]) this.leaveRoom(conn, room);
    else this.adapter.leaveAll(conn);
    this.rateLimit?.limiter?.release?.(conn);
    conn.closed(code, reason);
    if (wasOpen) for (const fn of this.disconnectListeners) this.guard(() => fn(conn, code, reason), conn);
    this.poke();
  }

  /**
   * Graceful shutdown of the application layer: refuses new links and requests, waits (up to
   * `timeout`) for request handlers to reply and for clients to answer pending requests, then
   * closes every connection with `code` (1001) and waits for the links to go.
   * Resolves `true` if everything finished in time.
   */
  async drain(options: { timeout?: number; code?: number; reason?: string } = {}): Promise<boolean> {
    const { timeout = 10_000, code = DisconnectCode.GOING_AWAY, reason = 'server shutting down' } = options;
    this.draining = true;
    const deadline = now() + timeout;
    const m = this.metrics;
    const idle = await this.waitFor(() => m.inFlightHandlers === 0 && m.acksPending === 0, deadline);
    for (const c of [...this.opening, ...this.open.values()]) c.disconnect(code, reason);
    const closed = await this.waitFor(() => this.opening.size === 0 && this.open.size === 0, deadline);
    this.stopSweep();
    return idle && closed;
  }

  /** Stops timers and the adapter. Call after the transports are closed. */
  async dispose(): Promise<void> {
    this.stopSweep();
    for (const w of this.waiters) w.resolve();
    this.waiters.clear();
    for (const resolve of this.slotQueue.values()) resolve(false);
    this.slotQueue.clear();
    await this.adapter.close();
  }

  private waitFor(cond: () => boolean, deadline: number): Promise<boolean> {
    if (cond()) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const w: Waiter = {
        check: cond,
        resolve: () => {
          this.waiters.delete(w);
          if (timer !== undefined) clearTimeout(timer);
          resolve(cond());
        },
      };
      this.waiters.add(w);
      if (Number.isFinite(deadline)) timer = setTimeout(w.resolve, Math.max(0, deadline - now()));
    });
  }

  /** Re-checks waiters after a counter went down. */
  private poke(): void {
    if (this.waiters.size === 0) return;
    for (const w of [...this.waiters]) if (w.check()) w.resolve();
  }

  // ── timers: one sweep for handshakes and heartbeats ─────────────────────────

  private startSweep(): void {
    if (this.sweepTimer !== undefined) return;
    const hb = this.opts.heartbeat;
    const shortest = Math.min(this.opts.handshakeTimeout, hb ? Math.min(hb.interval, hb.timeout) : Infinity);
    const every = Math.max(20, Math.min(5_000, Math.floor(shortest / 4)));
    this.sweepTimer = setInterval(() => this.sweep(), every);
    unrefTimer(this.sweepTimer);
  }

  private stopSweep(): void {
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** One pass over all links: handshake deadlines, heartbeat pings, dead peers. */
  private sweep(): void {
    const t = now();
    for (const c of this.opening) {
      if (c.state === 'opening' && t - c.openedAt > this.opts.handshakeTimeout) {
        this.metrics.error('HANDSHAKE_TIMEOUT');
        c.disconnect(DisconnectCode.HANDSHAKE_TIMEOUT, 'handshake timeout');
      }
    }
    const hb = this.opts.heartbeat;
    if (hb) {
      for (const c of this.open.values()) {
        if (c.alive) {
          c.alive = false;
          c.lastSeen = t;
          c.pingSent = false;
          continue;
        }
        const idle = t - c.lastSeen;
        if (idle >= hb.interval + hb.timeout) {
          // Told 4004 if it can still hear; the transport destroys the socket after its close timeout.
          this.metrics.error('HEARTBEAT_TIMEOUT');
          c.disconnect(DisconnectCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
        } else if (idle >= hb.interval && !c.pingSent) {
          c.pingSent = true;
          c.link.ping();
        }
      }
    }
    if (this.opening.size === 0 && this.open.size === 0) this.stopSweep();
  }
}
