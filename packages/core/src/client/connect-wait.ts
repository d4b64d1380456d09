import { ErrorCode } from '@stelar/codec-tcp';
import { StelarError } from '../errors';
import type { ConnectOptions } from './options';

/** How long `connect()` waits for a session when the call does not say. */
export const DEFAULT_CONNECT_WAIT = 20_000;

/** setTimeout's largest delay; above it Node fires at once. */
const MAX_TIMER = 2_147_483_647;

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * The callers of `connect()` waiting for a session. Each has its own bounds (`timeout`,
 * `signal`): they end that wait only, never the client's attempts. The client settles all of them
 * at once when a session opens or when it stops.
 */
export class ConnectWaiters {
  private readonly waiters = new Set<Waiter>();

  /** @param lastFailure the error of the last failed attempt, quoted when a wait times out */
  constructor(private readonly lastFailure: () => Error | null) {}

  get size(): number {
    return this.waiters.size;
  }

  /** A new wait; rejected at once when `signal` already aborted. */
  add(options: ConnectOptions = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const { signal } = options;
      if (signal?.aborted) {
        reject(abortError(signal));
        return;
      }
      const w: Waiter = { resolve, reject, timer: undefined, signal, onAbort: undefined };
      const timeout = options.timeout ?? DEFAULT_CONNECT_WAIT;
      if (timeout > 0 && Number.isFinite(timeout)) {
        w.timer = setTimeout(() => {
          const last = this.lastFailure();
          this.settle(w, new StelarError(ErrorCode.TIMEOUT, `not connected within ${timeout} ms${last ? ` (last attempt: ${last.message})` : ''}`, last ?? undefined));
        }, Math.min(timeout, MAX_TIMER));
      }
      if (signal) {
        w.onAbort = () => this.settle(w, abortError(signal));
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.waiters.add(w);
    });
  }

  /** A session opened: every wait resolves. */
  resolveAll(): void {
    for (const w of [...this.waiters]) this.settle(w, null);
  }

  /** The client stopped: every wait rejects with `err`. */
  rejectAll(err: unknown): void {
    for (const w of [...this.waiters]) this.settle(w, err);
  }

  private settle(w: Waiter, err: unknown): void {
    if (!this.waiters.delete(w)) return;
    if (w.timer !== undefined) clearTimeout(w.timer);
    if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
    if (err === null) w.resolve();
    else w.reject(err);
  }
}

function abortError(signal: AbortSignal): StelarError {
  const reason: unknown = signal.reason;
  return new StelarError(ErrorCode.ABORTED, reason instanceof Error ? `connect() aborted: ${reason.message}` : 'connect() aborted', reason);
}
