import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectWaiters, DEFAULT_CONNECT_WAIT } from '../../src/client/connect-wait';
import { StelarError } from '../../src/errors';

const settle = (p: Promise<void>) => p.then(() => 'resolved', (e: StelarError) => e);

afterEach(() => {
  vi.useRealTimers();
});

describe('ConnectWaiters (the callers of connect())', () => {
  it('by default a wait ends after 20 s with TIMEOUT, quoting the last attempt’s error and keeping it as details', async () => {
    vi.useFakeTimers();
    const last = new Error('connect ECONNREFUSED 127.0.0.1:9');
    const w = new ConnectWaiters(() => last);
    const p = settle(w.add());
    await vi.advanceTimersByTimeAsync(DEFAULT_CONNECT_WAIT - 1);
    expect(w.size).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    const err = (await p) as StelarError;
    expect(DEFAULT_CONNECT_WAIT).toBe(20_000);
    expect([err.code, err.message, err.details]).toEqual(['TIMEOUT', 'not connected within 20000 ms (last attempt: connect ECONNREFUSED 127.0.0.1:9)', last]);
    expect(w.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('timeout 0 or Infinity: no timer, the wait lasts until resolveAll or rejectAll', async () => {
    vi.useFakeTimers();
    const w = new ConnectWaiters(() => null);
    const a = settle(w.add({ timeout: 0 }));
    const b = settle(w.add({ timeout: Infinity }));
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10 * DEFAULT_CONNECT_WAIT);
    w.resolveAll();
    expect([await a, await b]).toEqual(['resolved', 'resolved']);
  });

  it('a signal ends its own wait with ABORTED (at once when already aborted); others keep waiting; nothing is left behind', async () => {
    const w = new ConnectWaiters(() => null);
    const ac = new AbortController();
    const mine = settle(w.add({ signal: ac.signal, timeout: 60_000 }));
    const other = settle(w.add({ timeout: 60_000 }));
    ac.abort(new Error('user left'));
    expect(await mine).toMatchObject({ code: 'ABORTED', message: 'connect() aborted: user left' });
    expect(w.size).toBe(1);
    expect(await settle(w.add({ signal: AbortSignal.abort('no reason given') }))).toMatchObject({ code: 'ABORTED', message: 'connect() aborted', details: 'no reason given' });
    expect(w.size).toBe(1);
    const stop = new StelarError('UNAUTHORIZED', 'bad token');
    w.rejectAll(stop);
    expect(await other).toBe(stop);
    expect(w.size).toBe(0);
  });
});
