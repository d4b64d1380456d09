import { DisconnectCode, ErrorCode, FrameType, parseAckRequest, type Frame, type FrameError } from '@stelar/codec-tcp';
import { dispatchEvent, eventData, noHandlerError, type DispatchHost } from './dispatch';
import { toErrorBody } from './errors';
import type { HubContext } from './hub-context';
import type { EventContext } from './hub-options';
import { runMiddleware } from './middleware';
import type { ServerSession } from './session';
import { HandlerSlots } from './slots';
import { isThenable } from './types';

/**
 * Events and requests from clients, after the frame switch: the drain refusal, the request caps
 * (per connection and process-wide), rate limits, event middleware, then the handlers through the
 * dispatch shared with the client engine. Returns a promise when an async step must finish before
 * the connection's next frame.
 */
export class Delivery<In extends object, Out extends object> implements DispatchHost<ServerSession> {
  readonly catchAllEvent = false;
  readonly slots: HandlerSlots;

  constructor(private readonly hub: HubContext<In, Out>) {
    this.slots = new HandlerSlots(hub.metrics, hub.settings.maxHandlersInFlight);
  }

  /** A JSON, BINARY or ACK_REQ frame of an open session. */
  dispatch(s: ServerSession, frame: Frame, granted = false): Promise<void> | undefined {
    const hub = this.hub;
    const isRequest = frame.type === FrameType.ACK_REQ;
    let id = 0;
    let body = frame.payload;
    if (isRequest) {
      const req = parseAckRequest(frame.payload);
      id = req.id;
      body = req.data;
      if (hub.draining) {
        hub.reply(s, id, frame.event, false, { code: ErrorCode.SHUTTING_DOWN, message: 'server is shutting down' });
        return undefined;
      }
      if (s.inFlight >= hub.settings.maxConcurrentRequests) {
        // A closed connection's request is dropped, not retried (it would wait again at once).
        return this.connectionSlot(s).then(() => (s.active ? this.dispatch(s, frame) : undefined));
      }
      // The process-wide cap: wait in line (behind earlier waiters) while this connection's reads pause.
      if (this.slots.mustWait(granted)) {
        return this.slots.wait(s).then((got) => {
          if (got) this.slots.taken();
          const next = s.active ? this.dispatch(s, frame, got) : undefined;
          // The slot may be left unused (a refusal, a closed connection): pass it on.
          this.slots.grant();
          return next;
        });
      }
    }
    const rl = hub.settings.rateLimit;
    if (rl) {
      if (rl.limiter) {
        const verdict = rl.limiter.consume(s.conn, frame.event, 1);
        if (isThenable(verdict)) {
          return Promise.resolve(verdict).then((ok) => (ok ? this.deliver(s, frame, id, body, isRequest) : this.limited(s, frame.event, id, isRequest)));
        }
        if (!verdict) return this.limited(s, frame.event, id, isRequest);
      } else if (s.buckets && !s.buckets.take(frame.event, 1)) {
        return this.limited(s, frame.event, id, isRequest);
      }
    }
    return this.deliver(s, frame, id, body, isRequest);
  }

  /** Waits until the connection is under `maxConcurrentRequests` (or closed). */
  private connectionSlot(s: ServerSession): Promise<boolean> {
    const max = this.hub.settings.maxConcurrentRequests;
    return this.hub.waitFor(() => s.inFlight < max || !s.active, Infinity);
  }

  private limited(s: ServerSession, event: string, id: number, isRequest: boolean): undefined {
    const hub = this.hub;
    const m = hub.metrics;
    m.rateLimitHits++;
    m.error(ErrorCode.RATE_LIMITED);
    const action = hub.settings.rateLimit?.onExceeded === 'disconnect' ? 'disconnect' : 'drop';
    hub.limitReached(() => ({ reason: 'rateLimit', conn: s.conn, event, action }));
    if (action === 'disconnect') {
      m.rateLimitDisconnects++;
      hub.sendError(s, ErrorCode.RATE_LIMITED, 'rate limit exceeded', event);
      s.conn.disconnect(DisconnectCode.RATE_LIMITED, 'rate limit exceeded');
    } else if (isRequest) hub.reply(s, id, event, false, { code: ErrorCode.RATE_LIMITED, message: 'rate limit exceeded' });
    else hub.sendError(s, ErrorCode.RATE_LIMITED, 'rate limit exceeded', event);
    return undefined;
  }

  private deliver(s: ServerSession, frame: Frame, id: number, body: Uint8Array, isRequest: boolean): Promise<void> | undefined {
    if (!s.active) return undefined;
    const hub = this.hub;
    let data: unknown;
    try {
      data = eventData(frame.type, body);
    } catch (err) {
      const e = err as FrameError;
      hub.metrics.error(e.code);
      if (isRequest) hub.reply(s, id, frame.event, false, { code: e.code, message: e.message });
      else hub.sendError(s, e.code, e.message, frame.event);
      return undefined;
    }
    const chain = hub.callbacks.eventMiddleware;
    if (chain.length === 0) {
      dispatchEvent(hub.callbacks.handlers, this, s, s.conn, frame.event, data, id, isRequest);
      return undefined;
    }
    const ctx: EventContext<In, Out> = { conn: s.conn, event: frame.event, data, isRequest };
    return runMiddleware(chain, ctx, () => dispatchEvent(hub.callbacks.handlers, this, s, s.conn, ctx.event, ctx.data, id, isRequest)).then(
      (completed) => {
        if (!completed && isRequest) hub.reply(s, id, ctx.event, false, { code: ErrorCode.REJECTED, message: 'dropped by middleware' });
      },
      (err: unknown) => {
        const b = hub.failed(err, s, 'event middleware');
        if (isRequest) hub.reply(s, id, ctx.event, false, b);
        else if (s.active) hub.sendError(s, b.code, b.message, ctx.event);
      },
    );
  }

  // ── what the shared dispatch reports back ───────────────────────────────────

  handlerFailed(err: unknown, s: ServerSession, event: string | undefined): void {
    this.hub.handlerFailed(err, s, event);
  }

  noHandler(s: ServerSession, id: number, event: string): void {
    this.hub.reply(s, id, event, false, toErrorBody(noHandlerError(event)));
  }

  requestStarted(s: ServerSession): void {
    s.inFlight++;
    this.hub.metrics.inFlightHandlers++;
  }

  requestDone(s: ServerSession, id: number, event: string, ok: boolean, value: unknown): void {
    const hub = this.hub;
    s.inFlight--;
    hub.metrics.inFlightHandlers--;
    this.slots.grant();
    if (ok) hub.reply(s, id, event, true, value);
    else hub.reply(s, id, event, false, hub.failed(value, s, `the handler of request "${event}"`));
    hub.poke();
  }
}
