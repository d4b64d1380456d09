import { encodeError, ErrorCode } from '@stelar/codec-tcp';
import type { Adapter } from './adapter';
import type { Connection } from './connection';
import { now } from './clock';
import { guard, type FailureSink } from './dispatch';
import { isExposed, publicErrorBody } from './errors';
import type { LimitEvent } from './limits';
import { defaultLogger, LogSink } from './logger';
import type { AnyEventHandler, ConnectionMiddleware, EventHandler, EventMiddleware, HubOptions, HubSettings } from './hub-options';
import { Metrics } from './metrics';
import { HandlerRegistry } from './registry';
import { encodeReply } from './replies';
import type { ServerSession } from './session';
import type { EventName } from './types';

interface Waiter {
  check(): boolean;
  resolve(): void;
}

/** The hub's user callbacks, as registered through its public API. */
export interface HubCallbacks<In extends object, Out extends object> {
  readonly handlers: HandlerRegistry<EventHandler<In, Out, EventName<In>>, AnyEventHandler<In, Out>>;
  readonly serverEvents: Map<string, (data: unknown, fromNode: string) => unknown>;
  readonly connectionMiddleware: ConnectionMiddleware<In, Out>[];
  readonly eventMiddleware: EventMiddleware<In, Out>[];
  readonly connection: ((conn: Connection<In, Out>) => unknown)[];
  readonly disconnect: ((conn: Connection<In, Out>, code: number, reason: string) => void)[];
  readonly error: ((err: unknown, conn?: Connection<In, Out>) => void)[];
  readonly join: ((conn: Connection<In, Out>, room: string) => void)[];
  readonly leave: ((conn: Connection<In, Out>, room: string) => void)[];
  readonly limit: ((event: LimitEvent<Connection<In, Out>>) => void)[];
}

/**
 * What the hub's parts share: settings, counters, the adapter, the registered callbacks, the
 * connection tables, and the few operations every part needs (errors to listeners or the logger,
 * answers to a client, limits to their listeners, waiting for counters to fall). One per hub;
 * never exposed.
 *
 * Every error from user code passes through `handlerFailed`/`report`/`failed` (to `onError`, or
 * the logger when nobody listens); what a client is told of it is `publicErrorBody`'s decision.
 */
export class HubContext<In extends object, Out extends object> implements FailureSink<ServerSession> {
  readonly callbacks: HubCallbacks<In, Out> = {
    handlers: new HandlerRegistry(),
    serverEvents: new Map(),
    connectionMiddleware: [],
    eventMiddleware: [],
    connection: [],
    disconnect: [],
    error: [],
    join: [],
    leave: [],
    limit: [],
  };
  /** Open sessions (CONNECT accepted) by id. */
  readonly open = new Map<string, Connection<In, Out>>();
  /** Links that have not completed CONNECT. */
  readonly opening = new Set<ServerSession>();
  readonly authorizeJoin: HubOptions['authorizeJoin'];
  /** Each level is `undefined` when off: `log.debug?.(…)` builds nothing then. */
  readonly log: LogSink;
  draining = false;
  private readonly waiters = new Set<Waiter>();

  constructor(
    readonly nodeId: string,
    readonly adapter: Adapter,
    readonly metrics: Metrics,
    readonly settings: HubSettings,
    options: HubOptions,
  ) {
    this.authorizeJoin = options.authorizeJoin;
    // Without a logger of the application's, the console gets warnings and errors only.
    this.log = new LogSink(options.logger === undefined ? defaultLogger('stelar') : options.logger);
  }

  // ── errors ──────────────────────────────────────────────────────────────────

  /**
   * A user callback failed. About an event (`event` set) the client is told with ERROR: a
   * `StelarError` is then an answer the application meant (logged at debug only); anything else
   * is INTERNAL_ERROR to the client and reported. Listener failures are always reported.
   */
  handlerFailed(err: unknown, s: ServerSession, event: string | undefined): void {
    const b = publicErrorBody(err, this.settings.exposeErrors);
    this.metrics.error(b.code);
    if (event !== undefined && s.active) this.sendError(s, b.code, b.message, event);
    if (event !== undefined && isExposed(err)) this.log.debug?.({ conn: s.conn.id, event, code: b.code }, 'error sent to the client');
    else this.emitError(err, s.conn, event === undefined ? 'a listener failed' : `a handler of "${event}" failed`);
  }

  /**
   * A request's first handler or event middleware failed: counted; reported unless it is a
   * `StelarError` (an answer); returns what the client is told.
   */
  failed(err: unknown, s: ServerSession, what: string): { code: string; message: string } {
    const b = publicErrorBody(err, this.settings.exposeErrors);
    this.metrics.error(b.code);
    if (isExposed(err)) this.log.debug?.({ conn: s.conn.id, code: b.code }, `${what}: error sent to the client`);
    else this.emitError(err, s.conn, `${what} failed`);
    return b;
  }

  /** An error with nothing to tell the client: counted as INTERNAL_ERROR and reported. */
  report(err: unknown, s?: ServerSession, what = 'application code failed'): void {
    this.metrics.error(ErrorCode.INTERNAL_ERROR);
    this.emitError(err, s?.conn, what);
  }

  /** To the `onError` listeners, or to the logger (at `error`) when there is none. */
  emitError(err: unknown, conn?: Connection<In, Out>, what = 'error'): void {
    const fns = this.callbacks.error;
    if (fns.length === 0) {
      this.log.error?.({ err, conn: conn?.id }, what);
      return;
    }
    for (const fn of fns) {
      try {
        fn(err, conn);
      } catch (e) {
        // An error listener that throws has only the logger left.
        this.log.error?.({ err: e, conn: conn?.id }, 'an onError listener failed');
      }
    }
  }

  /** A limit refused something: to the `onLimit` listeners (nothing is built when there is none). */
  limitReached(make: () => LimitEvent<Connection<In, Out>>): void {
    const fns = this.callbacks.limit;
    const debug = this.log.debug;
    if (fns.length === 0 && !debug) return;
    const ev = make();
    debug?.({ reason: ev.reason, conn: 'conn' in ev ? ev.conn.id : undefined, limit: 'limit' in ev ? ev.limit : undefined }, 'limit reached');
    for (const fn of fns) {
      try {
        fn(ev);
      } catch (err) {
        this.emitError(err, 'conn' in ev ? ev.conn : undefined, 'an onLimit listener failed');
      }
    }
  }

  /** Runs lifecycle listeners `fns(conn, …)`, each guarded. */
  notify(s: ServerSession, fns: readonly ((conn: Connection<In, Out>, ...rest: never[]) => unknown)[], b?: unknown, c?: unknown): void {
    for (let i = 0; i < fns.length; i++) guard(this, s, undefined, fns[i]!, s.conn, b, c);
  }

  // ── answers to a client ─────────────────────────────────────────────────────

  /** Answers request `id` (an error `value` is a `{ code, message }` body). */
  reply(s: ServerSession, id: number, event: string, ok: boolean, value: unknown): void {
    if (!s.active) return;
    const outcome = ok ? { ok: true as const, value } : { ok: false as const, error: value as { code: string; message: string } };
    const frame = encodeReply(id, event, outcome, (err) => {
      this.metrics.error(ErrorCode.HANDLER_ERROR);
      this.emitError(err, s.conn, `the reply to "${event}" is not JSON`);
    });
    s.rec?.answered(id, frame);
    s.conn.sendEncoded(frame, false);
  }

  /** Sends an ERROR frame. */
  sendError(s: ServerSession, code: string, message: string, event?: string): void {
    s.conn.sendEncoded(encodeError(code, message, event), false);
  }

  // ── waiting for counters to fall ────────────────────────────────────────────

  /** Resolves `true` once `cond` holds, `false` at `deadline` (monotonic ms; Infinity for none). */
  waitFor(cond: () => boolean, deadline: number): Promise<boolean> {
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
  poke(): void {
    if (this.waiters.size === 0) return;
    for (const w of [...this.waiters]) if (w.check()) w.resolve();
  }

  /** Resolves every waiter now (dispose). */
  releaseWaiters(): void {
    for (const w of [...this.waiters]) w.resolve();
    this.waiters.clear();
  }
}
