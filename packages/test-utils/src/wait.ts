/** Resolves after `ms` milliseconds. */
export const sleep = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `cond` every 5 ms until it holds (it may be async) and resolves with the milliseconds it
 * took; rejects after `timeout` ms (default 5000) with an error naming `what`. Called as
 * `until(cond, timeout)` or `until(cond, what, timeout)`; `what` may be a function, called when
 * the wait times out, to say what the state was then.
 */
export async function until(cond: () => boolean | Promise<boolean>, what?: string | (() => string) | number, timeout?: number): Promise<number> {
  const limit = typeof what === 'number' ? what : (timeout ?? 5000);
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > limit) throw new Error(`timed out after ${limit} ms waiting for ${typeof what === 'string' ? what : typeof what === 'function' ? what() : 'condition'}`);
    await sleep(5);
  }
  return Date.now() - start;
}
