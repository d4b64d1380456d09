/** Koa-style middleware: do work, `await next()` to run the rest, throw to refuse. */
export type Middleware<C> = (ctx: C, next: () => Promise<void>) => unknown;

/**
 * Runs middleware in order, then `last`. Resolves `true` when the whole chain ran (every
 * middleware called `next`), `false` when one stopped without calling it; rejects with what a
 * middleware threw.
 */
export async function runMiddleware<C>(chain: readonly Middleware<C>[], ctx: C, last: () => void): Promise<boolean> {
  let reached = false;
  let index = -1;
  const dispatch = async (i: number): Promise<void> => {
    if (i <= index) throw new Error('next() called more than once');
    index = i;
    if (i === chain.length) {
      reached = true;
      last();
      return;
    }
    await chain[i]!(ctx, () => dispatch(i + 1));
  };
  await dispatch(0);
  return reached;
}
