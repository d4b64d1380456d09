/**
 * Scheduling and small helpers without any Node module: where the platform has Node's
 * `setImmediate` / `process.nextTick` they are used (the adapter's batching and corking are
 * measured with them), elsewhere `setTimeout(0)` / `queueMicrotask`.
 */

type Immediate = (fn: () => void) => unknown;
interface NodeLike {
  setImmediate?: Immediate;
  clearImmediate?: (h: unknown) => void;
  process?: { nextTick?: (fn: () => void) => void };
}
const g = globalThis as unknown as NodeLike;

/** Runs `fn` after the I/O of the current event-loop turn (Node's setImmediate). */
export const soon: (fn: () => void) => unknown =
  typeof g.setImmediate === 'function' ? (fn) => g.setImmediate!(fn) : (fn) => setTimeout(fn, 0);

/** Cancels a `soon`. */
export const cancelSoon: (h: unknown) => void =
  typeof g.clearImmediate === 'function' ? (h) => g.clearImmediate!(h) : (h) => clearTimeout(h as ReturnType<typeof setTimeout>);

/** Runs `fn` when the current callback has returned, before any I/O. */
export const afterCallback: (fn: () => void) => void =
  typeof g.process?.nextTick === 'function' ? (fn) => g.process!.nextTick!(fn) : (fn) => queueMicrotask(fn);

/** Monotonic milliseconds. */
export const now = (): number => performance.now();

/** Lets a timer not keep a Node process alive; no-op elsewhere. */
export function unref(t: unknown): void {
  (t as { unref?: () => void } | null)?.unref?.();
}

export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** A promise that rejects after `ms` (the timer is cleared either way). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not complete in ${ms} ms`)), ms);
    unref(timer);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** A random non-zero 32-bit number (a stream's epoch). */
export function randomEpoch(): number {
  const c = globalThis.crypto;
  if (!c || typeof c.getRandomValues !== 'function') throw new Error('@stelar/cluster needs globalThis.crypto.getRandomValues');
  const a = new Uint32Array(1);
  do c.getRandomValues(a);
  while (a[0] === 0 || a[0] === 0xffffffff);
  return a[0]!;
}
