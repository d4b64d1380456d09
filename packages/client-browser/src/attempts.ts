import { StelarError, type ConnectOptions, type ReconnectOptions } from '@stelar/core/client';
import type { Waiter } from './helpers';
import { attempt, T } from './wire';

// The parts of the client (src/client.ts) behind the ATTEMPTS switch of src/features.ts that keep
// no state of their own: what a Stelar server sends first, connect()'s own bounds, and the user's
// `reconnect.delay`. Functions of what they are given, so stelar.min.js, built without them, pays
// nothing for the module.

/** Frame types a Stelar server may send before its CONNECT (bit per type byte): PING, PONG, CONNECT, DISCONNECT, ERROR. */
export const BEFORE_SESSION = (1 << T.PING) | (1 << T.PONG) | (1 << T.CONNECT) | (1 << T.DISCONNECT) | (1 << T.ERROR);

/** connect()'s rejection when its signal aborts. */
export const aborted = (signal: AbortSignal): StelarError =>
  new StelarError('ABORTED', signal.reason instanceof Error ? `connect() aborted: ${signal.reason.message}` : 'connect() aborted', signal.reason);

/**
 * A connect() caller with its own bounds (they end this wait only, never the client's attempts):
 * the waiter leaves `waiters` when it settles; `last()` is the error of the last failed attempt,
 * quoted by a timeout.
 */
export const bounded = ({ timeout = 20_000, signal }: ConnectOptions = {}, resolve: () => void, reject: (e: unknown) => void, waiters: Waiter[], last: () => Error | undefined): Waiter => {
  const abort = (): void => w[1](aborted(signal!));
  const t =
    timeout > 0 &&
    timeout < Infinity &&
    setTimeout(() => w[1](new StelarError('TIMEOUT', `not connected within ${timeout} ms${last() ? ` (last attempt: ${last()!.message})` : ''}`, last())), Math.min(timeout, 2147483647));
  const done =
    (i: 0 | 1) =>
    (v?: unknown): void => {
      clearTimeout(t as never); // false: no timer
      signal?.removeEventListener('abort', abort);
      if (waiters.includes(w)) waiters.splice(waiters.indexOf(w), 1);
      [resolve, reject][i]!(v as never);
    };
  const w: Waiter = [done(0), done(1)];
  signal?.addEventListener('abort', abort);
  return w;
};

/**
 * The delay before the next attempt: the user's `reconnect.delay` given the policy's `delay`; one
 * that throws or is not a finite number ≥ 0 falls back to the policy's, and is an `error` notification.
 */
export const userDelay = (fn: NonNullable<ReconnectOptions['delay']>, attempts: number, e: Error, delay: number, notify: (name: 'error', e: StelarError) => void): number => {
  const [v, ok] = attempt(() => fn(attempts, e, delay));
  if (ok && (v as number) >= 0 && (v as number) < Infinity) return Math.min(Math.floor(v as number), 2147483647);
  notify('error', new StelarError('BAD_OPTIONS', ok ? `reconnect.delay returned ${typeof v == 'number' ? v : typeof v}, not a finite number ≥ 0` : `reconnect.delay threw: ${(v as Error)?.message ?? v}`, v));
  return delay;
};
