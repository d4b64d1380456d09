/** Resolves after `ms` milliseconds. */
export const sleep = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `cond` every 5 ms until it holds (it may be async) and resolves with the milliseconds it
 * took; rejects after `timeout` ms (default 5000) with an error naming `what`. Called as
 * `until(cond, timeout)` or `until(cond, what, timeout)`.
 */
export async function until(cond: () => boolean | Promise<boolean>, what?: string | number, timeout?: number): Promise<number> {
  const name = typeof what === 'string' ? what : 'condition';
  const limit = typeof what === 'number' ? what : (timeout ?? 5000);
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > limit) throw new Error(`timed out after ${limit} ms waiting for ${name}`);
    await sleep(5);
  }
  return Date.now() - start;
}
