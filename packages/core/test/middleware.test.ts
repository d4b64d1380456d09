import { describe, expect, it } from 'vitest';
import { runMiddleware, type Middleware } from '../src/middleware';

describe('runMiddleware', () => {
  it('runs in order around `last` (Koa style) and resolves true when every step called next', async () => {
    const log: string[] = [];
    const chain: Middleware<{ n: number }>[] = [
      async (ctx, next) => {
        log.push('a>');
        ctx.n++;
        await next();
        log.push('<a');
      },
      async (ctx, next) => {
        log.push('b>');
        ctx.n *= 10;
        await next();
        log.push('<b');
      },
    ];
    const ctx = { n: 1 };
    await expect(runMiddleware(chain, ctx, () => log.push(`last ${ctx.n}`))).resolves.toBe(true);
    expect(log).toEqual(['a>', 'b>', 'last 20', '<b', '<a']);
    await expect(runMiddleware([], ctx, () => log.push('alone'))).resolves.toBe(true);
  });

  it('a step that does not call next stops the chain (false); a throw rejects; next twice is an error', async () => {
    let reached = false;
    await expect(runMiddleware([() => undefined], {}, () => (reached = true))).resolves.toBe(false);
    expect(reached).toBe(false);
    await expect(runMiddleware([() => Promise.reject(new Error('refused'))], {}, () => undefined)).rejects.toThrow('refused');
    await expect(
      runMiddleware(
        [
          async (_c, next) => {
            await next();
            await next();
          },
        ],
        {},
        () => undefined,
      ),
    ).rejects.toThrow('next() called more than once');
  });
});
