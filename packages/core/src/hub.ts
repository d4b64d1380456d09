import { DisconnectCode, ErrorCode } from '@stelar/codec-tcp';
import { MemoryAdapter, type Adapter, type AdapterHost } from './adapter';
import type { ConnectionHandle } from './handle';
import { BroadcastOperator } from './broadcast';
import { now } from './clock';
import type { AnyConnection, Connection, ConnectionData } from './connection';
import { Delivery } from './delivery';
import { StelarError } from './errors';
import { Handshake } from './handshake';
import { HubContext } from './hub-context';
import { hubSettings, type AnyEventHandler, type ConnectionMiddleware, type EventHandler, type EventMiddleware, type HubOptions } from './hub-options';
import { randomId } from './ids';
import type { LimitEvent } from './limits';
import { SendStatus, type Link, type LinkHandler } from './link';
import { Liveness } from './liveness';
import { Metrics, toPrometheus, type Stats } from './metrics';
import { Pipeline } from './pipeline';
import { ConnectionBuckets } from './rate-limit';
import { Recovery } from './recovery';
import { Rooms } from './rooms';
import { ServerSession, type SessionHost } from './session';
import type { HandlerSlots } from './slots';
import type { AnyEvents, EventData, EventName } from './types';

/**
 * The application layer of a server: sessions, events, requests, rooms, broadcast, middleware,
 * rate limiting, heartbeats and metrics, over any number of transports. Transports hand it
 * links with `accept(link)`.
 *
 * This class is the public API and registration; the work is done by its parts (see "Inside
 * core" in the package README): the inbound pipeline, the handshake, delivery of events and
 * requests, rooms, and liveness.
 *
 * `In`: events the server receives; `Out`: events it sends (default: the same map); `Data`: what
 * `conn.data` holds (default: any fields).
 */
export class Hub<In extends object = AnyEvents, Out extends object = In, Data extends object = ConnectionData> {
  readonly nodeId: string;
  readonly adapter: Adapter;
  protected readonly metrics = new Metrics(now);
  private readonly ctx: HubContext<In, Out>;
  private readonly pipeline: Pipeline<In, Out>;
  private readonly liveness: Liveness<In, Out>;
  private readonly slots: HandlerSlots;
  private readonly sessionHost: SessionHost;
  private readonly attached: Promise<void>;
  private readonly recovery: Recovery<In, Out> | undefined;

  constructor(options: HubOptions = {}) {
    this.nodeId = options.nodeId ?? randomId();
    this.adapter = options.adapter ?? new MemoryAdapter();
    const metrics = this.metrics;
    const ctx = (this.ctx = new HubContext<In, Out>(this.nodeId, this.adapter, metrics, hubSettings(options), options));
    const rooms = new Rooms(ctx);
    const delivery = new Delivery(ctx);
    this.slots = delivery.slots;
    const rs = ctx.settings.recovery;
    let recovery: Recovery<In, Out> | undefined;
    if (rs) {
      const adapter = this.adapter;
      if (!adapter.recovery) throw new TypeError(`${adapter.constructor.name} does not support connection-state recovery (HubOptions.recovery)`);
      recovery = new Recovery(
        ctx,
        rs,
        (budget) => adapter.recovery!(rs, budget),
        (s, code, reason) => this.liveness.finish(s, code, reason),
        // A session that comes from another process (a shared log).
        (link, id) => new ServerSession(link, this.sessionHost, id, now()),
      );
    }
    this.recovery = recovery;
    this.liveness = new Liveness(ctx, rooms, delivery.slots, recovery);
    this.pipeline = new Pipeline(ctx, new Handshake(ctx, recovery), delivery, rooms, (s, code, reason, remote) => this.liveness.ended(s, code, reason, remote), recovery);

    this.sessionHost = {
      nodeId: this.nodeId,
      requestTimeout: ctx.settings.requestTimeout,
      joinRooms: (s, names) => rooms.join(s, names),
      leaveRoom: (s, room) => rooms.leave(s, room),
      countSend: (status, bytes) => {
        if (status === SendStatus.OK || status === SendStatus.BUFFERED) {
          metrics.messagesOut++;
          metrics.bytesOut += bytes;
          if (status === SendStatus.BUFFERED) metrics.buffered++;
        } else if (status === SendStatus.DROPPED) metrics.dropped++;
      },
      pendingDelta: (d) => {
        metrics.acksPending += d;
        if (d < 0) ctx.poke();
      },
      requestTimedOut: () => {
        metrics.acksTimedOut++;
        metrics.error(ErrorCode.TIMEOUT);
      },
      broadcastFrom: <O extends object>(conn: AnyConnection) => new BroadcastOperator<O>(this.adapter).except(conn),
      emitLogged: (conn, frame, compress) => recovery!.emitLogged(conn, frame, compress),
    };
    const host: AdapterHost = {
      nodeId: this.nodeId,
      connection: (id) => ctx.open.get(id),
      connections: () => ctx.open.values(),
      handleServerEvent: async (event, data, fromNode) => {
        const fn = ctx.callbacks.serverEvents.get(event);
        if (!fn) throw new StelarError(ErrorCode.NO_HANDLER, `no server-side handler for "${event}"`);
        return fn(data, fromNode);
      },
      countError: (code) => metrics.error(code),
      roomsDelta: (d) => {
        metrics.rooms += d;
      },
      requestTimeout: ctx.settings.requestTimeout,
    };
    this.attached = Promise.resolve(this.adapter.attach(host));
    this.attached.catch(() => undefined);
  }

  // ── registration ────────────────────────────────────────────────────────────

  /** Adds a handler for an event. Its return value answers requests (the first handler's). */
  on<K extends EventName<In>>(event: K, handler: EventHandler<In, Out, K, Data>): this {
    this.ctx.callbacks.handlers.on(event, handler as unknown as EventHandler<In, Out, EventName<In>>);
    return this;
  }

  /** Adds a handler that runs once. */
  once<K extends EventName<In>>(event: K, handler: EventHandler<In, Out, K, Data>): this {
    this.ctx.callbacks.handlers.on(event, handler as unknown as EventHandler<In, Out, EventName<In>>, true);
    return this;
  }

  /** Removes a handler, or all handlers of the event. */
  off<K extends EventName<In>>(event: K, handler?: EventHandler<In, Out, K, Data>): this {
    this.ctx.callbacks.handlers.off(event, handler as unknown as EventHandler<In, Out, EventName<In>> | undefined);
    return this;
  }

  /** Adds a catch-all handler (sees every event, before its own handlers; not a reply source). */
  onAny(handler: AnyEventHandler<In, Out, Data>): this {
    this.ctx.callbacks.handlers.onAny(handler as AnyEventHandler<In, Out>);
    return this;
  }

  offAny(handler?: AnyEventHandler<In, Out, Data>): this {
    this.ctx.callbacks.handlers.offAny(handler as AnyEventHandler<In, Out> | undefined);
    return this;
  }

  /** Connection middleware: runs on each client's CONNECT, in order, before the session opens. */
  use(mw: ConnectionMiddleware<In, Out, Data>): this {
    this.ctx.callbacks.connectionMiddleware.push(mw as unknown as ConnectionMiddleware<In, Out>);
    return this;
  }

  /** Event middleware: runs on each event and request before its handlers. */
  useEvent(mw: EventMiddleware<In, Out, Data>): this {
    this.ctx.callbacks.eventMiddleware.push(mw as unknown as EventMiddleware<In, Out>);
    return this;
  }

  /** Runs for each accepted session (after the client got its CONNECT answer). */
  onConnection(fn: (conn: Connection<In, Out, Data>) => unknown): this {
    this.ctx.callbacks.connection.push(fn as (conn: Connection<In, Out>) => unknown);
    return this;
  }

  /** Runs when an accepted session ends. */
  onDisconnect(fn: (conn: Connection<In, Out, Data>, code: number, reason: string) => void): this {
    this.ctx.callbacks.disconnect.push(fn as (conn: Connection<In, Out>, code: number, reason: string) => void);
    return this;
  }

  /**
   * Runs after a connection joins a room (server-side `join`, a client's JOIN, or a remote
   * `to(…).join`), once per room actually joined.
   */
  onJoin(fn: (conn: Connection<In, Out, Data>, room: string) => void): this {
    this.ctx.callbacks.join.push(fn as (conn: Connection<In, Out>, room: string) => void);
    return this;
  }

  /** Runs after a connection leaves a room, including the rooms it leaves by disconnecting. */
  onLeave(fn: (conn: Connection<In, Out, Data>, room: string) => void): this {
    this.ctx.callbacks.leave.push(fn as (conn: Connection<In, Out>, room: string) => void);
    return this;
  }

  /**
   * Errors thrown by handlers, middleware or listeners (also counted in `getStats().errors`),
   * except the `StelarError`s a handler or middleware throws to answer its client. Without an
   * `onError` listener they go to the logger at `error` (the console by default).
   */
  onError(fn: (err: unknown, conn?: Connection<In, Out, Data>) => void): this {
    this.ctx.callbacks.error.push(fn as (err: unknown, conn?: Connection<In, Out>) => void);
    return this;
  }

  /**
   * Runs when a limit refuses something: `maxConnections` and `maxConnectionsPerIp` (with
   * `@stelar/server`), `maxRooms`, `maxRoomsPerConnection`, `rateLimit`. The refusal itself is
   * unchanged (the client gets its usual answer); see `LimitEvent`. Nothing is built for it when
   * no listener (and no debug logger) is there.
   */
  onLimit(fn: (event: LimitEvent<Connection<In, Out, Data>>) => void): this {
    this.ctx.callbacks.limit.push(fn as unknown as (event: LimitEvent<Connection<In, Out>>) => void);
    return this;
  }

  /** Handles events other server processes send with `serverSideEmit`. */
  onServerEvent(event: string, fn: (data: unknown, fromNode: string) => unknown): this {
    this.ctx.callbacks.serverEvents.set(event, fn);
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

  /** Everyone, sent uncompressed with `false` (see `BroadcastOperator.compress`). */
  compress(enabled: boolean): BroadcastOperator<Out> {
    return new BroadcastOperator<Out>(this.adapter).compress(enabled);
  }

  /** Everyone, with `ms` to answer a `request` (`hub.timeout(ms).request(event, data)`: one reply per connection). */
  timeout(ms: number): BroadcastOperator<Out> {
    return new BroadcastOperator<Out>(this.adapter).timeout(ms);
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
  getConnection(id: string): Connection<In, Out, Data> | undefined {
    return this.ctx.open.get(id) as Connection<In, Out, Data> | undefined;
  }

  /** Open local connections by id. */
  get connections(): ReadonlyMap<string, Connection<In, Out, Data>> {
    return this.ctx.open as unknown as ReadonlyMap<string, Connection<In, Out, Data>>;
  }

  /**
   * The rooms of this process's open connections, with their local member counts, as a new map.
   * It walks every membership: O(connections + memberships), so it is for admin pages and
   * occasional checks, not per message. With a cluster adapter, rooms of other nodes are not in
   * it (`to(room).count()` asks every node about one room).
   */
  getRooms(): Map<string, number> {
    const rooms = new Map<string, number>();
    for (const conn of this.ctx.open.values()) {
      for (const room of conn.rooms) rooms.set(room, (rooms.get(room) ?? 0) + 1);
    }
    return rooms;
  }

  /** Counters, in O(1). `recovery` is there when connection-state recovery is on. */
  getStats(): Stats {
    return this.metrics.snapshot(this.adapter.metrics?.(), this.recovery?.stats());
  }

  /** The counters in Prometheus text format. */
  metricsText(prefix?: string): string {
    return toPrometheus(this.getStats(), prefix);
  }

  /** False while draining. */
  get isReady(): boolean {
    return !this.ctx.draining;
  }

  /** For `@stelar/server`: a failure outside any connection (a transport, a hook), to `onError` or the logger. */
  protected reportFailure(err: unknown, what: string): void {
    this.ctx.report(err, undefined, what);
  }

  /** For `@stelar/server`: a limit it owns (`maxConnections`, `maxConnectionsPerIp`) refused a connection. */
  protected limitReached(event: Extract<LimitEvent, { reason: 'maxConnections' | 'maxConnectionsPerIp' }>): void {
    this.ctx.limitReached(() => event);
  }

  /** Resolves once the adapter is ready (e.g. connected to Redis). */
  ready(): Promise<void> {
    return this.attached;
  }

  // ── transports ──────────────────────────────────────────────────────────────

  /** Frame-size limit transports must enforce on receive. */
  get maxFrameSize(): number {
    return this.ctx.settings.maxFrameSize;
  }

  /** Takes a new link from a transport. The client must send CONNECT next. */
  accept(link: Link): LinkHandler {
    const settings = this.ctx.settings;
    const s = new ServerSession(link, this.sessionHost, settings.generateId(), now());
    // Buckets exist from the start, so connection middleware may already override them.
    const rl = settings.rateLimit;
    if (rl && !rl.limiter) s.buckets = new ConnectionBuckets(rl.connection, rl.events);
    this.liveness.started(s);
    return this.pipeline.handlerFor(s);
  }

  // ── shutdown ────────────────────────────────────────────────────────────────

  /**
   * Graceful shutdown of the application layer: refuses new links and requests, waits (up to
   * `timeout`) for request handlers to reply and for clients to answer pending requests, then
   * closes every connection with `code` (1001) and waits for the links to go.
   * Resolves `true` if everything finished in time.
   */
  drain(options: { timeout?: number; code?: number; reason?: string } = {}): Promise<boolean> {
    const { timeout = 10_000, code = DisconnectCode.GOING_AWAY, reason = 'server shutting down' } = options;
    return this.liveness.drain(timeout, code, reason);
  }

  /** Stops timers and the adapter. Call after the transports are closed. */
  async dispose(): Promise<void> {
    this.liveness.stopSweep();
    this.recovery?.endAll(DisconnectCode.GOING_AWAY, 'server shutting down');
    this.recovery?.dispose();
    this.ctx.releaseWaiters();
    this.slots.clear();
    await this.adapter.close();
  }
}
