/** Monotonic milliseconds (performance.now where the platform has it). */
export const now: () => number =
  typeof globalThis.performance?.now === 'function' ? () => globalThis.performance.now() : () => Date.now();

/** Lets a timer not keep a Node process alive; no-op in browsers. */
export function unrefTimer(timer: unknown): void {
  const t = timer as { unref?: () => void } | null;
  if (t && typeof t.unref === 'function') t.unref();
}
