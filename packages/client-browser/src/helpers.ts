import { StelarError, type ClientEventHandler, type EventName } from '@stelar/core/client';

// Types and helpers of the client (src/client.ts).

export type Fn = (...args: never[]) => unknown;
export type Waiter = [resolve: () => void, reject: (e: unknown) => void];

/**
 * A frame to send. A request's frame (its id picked when the request is made) is the request
 * itself, in the offline queue or on the wire: it carries `d` and `r`.
 */
export type Msg = Uint8Array & {
  /** Settles the request (resolves when `ok`, else rejects), clearing its timer, abort listener and queue place. */
  d?: (v: unknown, ok?: unknown) => void;
  /** Kept across a reconnection (`retry: true`). */
  r?: boolean | undefined;
  /** Settled: a request's frame kept for a resume is not sent again (recovery builds only). */
  s?: 1;
  /** Counted in `messagesSent` (counters builds only). */
  c?: 1;
};

/** join() callers waiting for a room; `j`: a JOIN for it is on its way (recovery builds only). */
export type Joining = Waiter[] & { j?: 0 | 1 };

/**
 * A failed handler's error, as core's `toErrorBody` reads it: its own `code` (else
 * HANDLER_ERROR) and message; `details` is what it threw. (Core's `toErrorBody` would bring the
 * whole ErrorCode table into the bundle.)
 */
export const failure = (e: unknown): StelarError => {
  const error = e instanceof Error && (e as Error & { code?: unknown });
  return new StelarError((error && typeof error.code == 'string' && error.code) || 'HANDLER_ERROR', error ? error.message : typeof e == 'string' ? e : 'failed', e);
};
/** Calls every waiter's resolve (0) or reject (1) and empties the list. */
export const wake = (list: Waiter[], i: 0 | 1, v?: unknown): void => list.splice(0).forEach((w) => w[i](v as never));

/** The methods that return the client itself, typed with `this` (a Pick would say `ClientEngine`). */
export interface Chain<In extends object> {
  on<K extends EventName<In>>(event: K, handler: ClientEventHandler<In, K>): this;
  once<K extends EventName<In>>(event: K, handler: ClientEventHandler<In, K>): this;
  off<K extends EventName<In>>(event: K, handler?: ClientEventHandler<In, K>): this;
  onAny(handler: (event: string, data: unknown) => void): this;
  offAny(handler?: (event: string, data: unknown) => void): this;
}
