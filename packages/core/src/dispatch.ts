import { decodeJson, ErrorCode, FrameType } from '@stelar/codec-tcp';
import { StelarError } from './errors';
import type { HandlerRegistry } from './registry';
import { isThenable } from './types';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Fn = (...args: any[]) => unknown;

/**
 * Where a side (the hub, or the client engine) reports what its user callbacks threw. `C` is that
 * side's own per-connection context (the hub's session record; the client's session), never
 * shown to user code.
 */
export interface FailureSink<C> {
  /**
   * A handler or listener threw or rejected. `event` is set when the failure is about an event
   * from the peer (the hub then tells the peer with ERROR).
   */
  handlerFailed(err: unknown, ctx: C, event: string | undefined): void;
}

/** What one side does with the outcomes of its event handlers. */
export interface DispatchHost<C> extends FailureSink<C> {
  /** Catch-all failures carry the event too (the client reports it; the hub does not send ERROR for them). */
  readonly catchAllEvent: boolean;
  /** A request found no handler. */
  noHandler(ctx: C, id: number, event: string): void;
  /** A request's first handler is about to run. */
  requestStarted(ctx: C): void;
  /** A request's first handler returned (or its promise settled): answer the peer. */
  requestDone(ctx: C, id: number, event: string, ok: boolean, value: unknown): void;
}

/**
 * Calls a user callback; a throw or a rejected promise goes to `host.handlerFailed`. Calls
 * `fn(a)`, `fn(a, b)` or `fn(a, b, c)` as the arguments are given (no closure, no array).
 */
export function guard<C>(host: FailureSink<C>, ctx: C, event: string | undefined, fn: Fn, a: unknown, b?: unknown, c?: unknown): void {
  try {
    const r = c !== undefined ? fn(a, b, c) : b !== undefined ? fn(a, b) : fn(a);
    if (isThenable(r)) r.then(undefined, (err: unknown) => host.handlerFailed(err, ctx, event));
  } catch (err) {
    host.handlerFailed(err, ctx, event);
  }
}

/**
 * Runs the handlers of one event, the same way on both ends: catch-all handlers first, then the
 * event's handlers in order. For a request the first handler's return value (or resolved
 * promise) is the reply and a throw the error reply; the others run for their effects. `arg` is
 * the second argument handlers get (the server's connection; none on a client). Nothing is
 * allocated for a plain event.
 */
export function dispatchEvent<C>(
  handlers: HandlerRegistry<Fn, Fn>,
  host: DispatchHost<C>,
  ctx: C,
  arg: unknown,
  event: string,
  data: unknown,
  id: number,
  isRequest: boolean,
): void {
  const any = handlers.any;
  if (any.length > 0) {
    const anyEvent = host.catchAllEvent ? event : undefined;
    for (let i = 0; i < any.length; i++) guard(host, ctx, anyEvent, any[i]!, event, data, arg);
  }
  const fns = handlers.take(event);
  if (!fns) {
    if (isRequest) host.noHandler(ctx, id, event);
    return;
  }
  if (!isRequest) {
    for (let i = 0; i < fns.length; i++) guard(host, ctx, event, fns[i]!, data, arg);
    return;
  }
  host.requestStarted(ctx);
  let result: unknown;
  try {
    result = arg !== undefined ? fns[0]!(data, arg) : fns[0]!(data);
  } catch (err) {
    host.requestDone(ctx, id, event, false, err);
    return;
  } finally {
    for (let i = 1; i < fns.length; i++) guard(host, ctx, event, fns[i]!, data, arg);
  }
  if (isThenable(result)) {
    result.then(
      (v) => host.requestDone(ctx, id, event, true, v),
      (e: unknown) => host.requestDone(ctx, id, event, false, e),
    );
  } else host.requestDone(ctx, id, event, true, result);
}

/** The data of a JSON, BINARY or ACK_REQ frame: bytes for BINARY, else decoded JSON (throws FrameError). */
export function eventData(type: number, body: Uint8Array): unknown {
  return type === FrameType.BINARY ? body : decodeJson(body);
}

/** The error a request gets when the other side has no handler for it. */
export function noHandlerError(event: string): StelarError {
  return new StelarError(ErrorCode.NO_HANDLER, `no handler for "${event}"`);
}
