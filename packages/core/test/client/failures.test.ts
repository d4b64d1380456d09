import { FrameType } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import { allowedBeforeSession, asError, isFinal, retryDelay, undecodableFirstBytes, unexpectedFirstFrame } from '../../src/client/failures';
import { StelarError } from '../../src/errors';

describe('failed connection attempts', () => {
  it('final: refusals (codes and close codes), NOT_STELAR, fatal dial errors; anything else is retried', () => {
    expect(isFinal(new StelarError('UNAUTHORIZED', 'x'))).toBe(true);
    expect(isFinal(new StelarError('VERSION_MISMATCH', 'x'))).toBe(true);
    expect(isFinal(new StelarError('NOT_STELAR', 'x'))).toBe(true);
    expect(isFinal(Object.assign(new Error('HTTP 403'), { fatal: true }))).toBe(true);
    expect(isFinal(new StelarError('INTERNAL', 'middleware crashed'), 4001)).toBe(true);
    expect(isFinal(new StelarError('INTERNAL', 'middleware crashed'), 4002)).toBe(true);
    // A server failing inside its middleware, a timeout, a refused socket: try again.
    expect(isFinal(new StelarError('INTERNAL', 'middleware crashed'), 1011)).toBe(false);
    expect(isFinal(new StelarError('TIMEOUT', 'slow'))).toBe(false);
    expect(isFinal(Object.assign(new Error('refused'), { code: 'ECONNREFUSED', fatal: false }))).toBe(false);
    expect(isFinal(null)).toBe(false);
  });

  it('before its CONNECT a Stelar server sends only CONNECT, ERROR, DISCONNECT, PING or PONG; anything else is NOT_STELAR', () => {
    const allowed = Object.values(FrameType).filter(allowedBeforeSession);
    expect(allowed.sort()).toEqual([FrameType.PING, FrameType.PONG, FrameType.CONNECT, FrameType.DISCONNECT, FrameType.ERROR].sort());
    expect(unexpectedFirstFrame(FrameType.JSON)).toMatchObject({ code: 'NOT_STELAR', message: 'not a Stelar server: its first frame is JSON, not CONNECT or ERROR' });
    expect(unexpectedFirstFrame(99).message).toContain('type 99');
    expect(undecodableFirstBytes({ code: 'FRAME_TOO_LARGE', message: 'frame of 1213486160 bytes' })).toMatchObject({
      code: 'NOT_STELAR',
      message: 'not a Stelar server: its first bytes are not a Stelar frame (FRAME_TOO_LARGE: frame of 1213486160 bytes)',
    });
    // A transport that judged the bytes itself keeps its words.
    expect(undecodableFirstBytes({ code: 'NOT_STELAR', message: 'tcp://h:1 is not a Stelar server: it answered with HTTP' }).message).toBe('tcp://h:1 is not a Stelar server: it answered with HTTP');
  });

  it('errors are Errors: a dialer rejecting with something else is wrapped', () => {
    const e = new Error('x');
    expect(asError(e)).toBe(e);
    expect(asError('boom')).toMatchObject({ code: 'DIAL_FAILED', message: 'boom' });
    expect(asError(42)).toMatchObject({ code: 'DIAL_FAILED', message: 'connection attempt failed', details: 42 });
  });

  it('reconnect.delay: its value is used (floored, capped to what setTimeout takes); a throw or an unusable value falls back to the backoff and is reported', () => {
    const err = new Error('ECONNREFUSED');
    const seen: unknown[][] = [];
    const bad: StelarError[] = [];
    const own = { baseDelay: 100, maxDelay: 100, delay: (attempt: number, error: Error, backoff: number) => (seen.push([attempt, error, backoff]), attempt * 250.7) };
    expect(retryDelay(own, 3, err, (b) => bad.push(b))).toBe(752);
    expect(seen).toEqual([[3, err, expect.any(Number)]]);
    expect(seen[0]![2]).toBeLessThanOrEqual(100); // what the backoff would have waited
    expect(retryDelay({ baseDelay: 8, maxDelay: 8, delay: (_a, _e, backoff) => backoff + 1000 }, 1, err, (b) => bad.push(b))).toBeGreaterThanOrEqual(1000);
    expect(retryDelay({ delay: () => 1e12 }, 1, err, (b) => bad.push(b))).toBe(2_147_483_647);
    expect(retryDelay({ delay: () => 0 }, 1, err, (b) => bad.push(b))).toBe(0);
    expect(bad).toEqual([]);
    for (const value of [-1, NaN, Infinity, '5', undefined]) {
      const d = retryDelay({ baseDelay: 8, maxDelay: 8, delay: () => value as number }, 1, err, (b) => bad.push(b));
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(8);
    }
    const d = retryDelay({ baseDelay: 8, maxDelay: 8, delay: () => { throw new Error('oops'); } }, 1, err, (b) => bad.push(b));
    expect(d).toBeLessThanOrEqual(8);
    expect(bad.map((b) => [b.code, b.message])).toEqual([
      ['BAD_OPTIONS', 'reconnect.delay returned -1, not a finite number ≥ 0'],
      ['BAD_OPTIONS', 'reconnect.delay returned NaN, not a finite number ≥ 0'],
      ['BAD_OPTIONS', 'reconnect.delay returned Infinity, not a finite number ≥ 0'],
      ['BAD_OPTIONS', 'reconnect.delay returned string, not a finite number ≥ 0'],
      ['BAD_OPTIONS', 'reconnect.delay returned undefined, not a finite number ≥ 0'],
      ['BAD_OPTIONS', 'reconnect.delay threw: oops'],
    ]);
    // Without a delay of its own: the backoff (full jitter within its ceiling).
    for (let i = 0; i < 20; i++) expect(retryDelay({ baseDelay: 10, factor: 2, maxDelay: 1000 }, 3, err, () => undefined)).toBeLessThanOrEqual(40);
  });
});
