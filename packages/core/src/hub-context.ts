import { encodeError, ErrorCode } from '@stelar/codec-tcp';
import type { Adapter } from './adapter';
import type { Connection } from './connection';
import { now } from './clock';
import { guard, type FailureSink } from './dispatch';
import { toErrorBody } from './errors';
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
}

/**
 * What the hub's parts share: settings, counters, the adapter, the registered callbacks, the
 * connection tables, and the few operations every part needs (errors to listeners, answers to a
 * client, waiting for counters to fall). One per hub; never exposed.
 *
 * A logger, or a policy deciding which error details reach clients, would sit here: every error
 * from user code passes through `handlerFailed`/`report`, every answer through `reply`/`sendError`.
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
  };
  /** Open sessions (CONNECT accepted) by id. */
  readonly open = new Map<string, Connection<In, Out>>();
  /** Links that have not completed CONNECT. */
  readonly opening = new Set<ServerSession>();
  readonly authorizeJoin: HubOptions['authorizeJoin'];
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
  }

  // ── errors ──────────────────────────────────────────────────────────────────

  /** A user callback failed: counted, reported to `onError`, and told to the client when about its event. */
  handlerFailed(err: unknown, s: ServerSession, event: string | undefined): void {
    const b = toErrorBody(err, ErrorCode.HANDLER_ERROR);
    this.metrics.error(b.code);
    this.emitError(err, s.conn);
    if (event !== undefined && s.active) this.sendError(s, b.code, b.message, event);
  }

  /** An error with nothing to tell the client: counted as HANDLER_ERROR and reported to `onError`. */
  report(err: unknown, s?: ServerSession): void {
    this.metrics.error(ErrorCode.HANDLER_ERROR);
    this.emitError(err, s?.conn);
  }

  emitError(err: unknown, conn?: Connection<In, Out>): void {
    for (const fn of this.callbacks.error) {
      try {
        fn(err, conn);
      } catch {
        /* an error listener that throws has nowhere else to go */
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
      this.emitError(err, s.conn);
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
