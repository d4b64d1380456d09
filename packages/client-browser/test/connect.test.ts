// connect()'s default bound (20 s) on a scripted WebSocket with fake timers: the Chromium tests
// (test/features.test.ts) use short timeouts; this checks the default without waiting for it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient } from '../src/index';
import { ScriptedSocket } from './scripted';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('connect() with no options', () => {
  it('rejects with TIMEOUT after 20 s while the client keeps trying; timeout: 0 waits without bound', async () => {
    vi.useFakeTimers();
    // A fixed jitter (every delay 50 ms): with a random one, the 1 ms dial could be under way at
    // 20 s (state 'connecting'), about one run in fifty.
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    // Every socket closes before opening: each attempt fails, and the client retries.
    const Failing = class extends ScriptedSocket {
      constructor(url: string) {
        super(url);
        setTimeout(() => this.end(1006), 1);
      }
    };
    const c = createClient('ws://127.0.0.1:9/', { WebSocket: Failing as never, reconnect: { baseDelay: 100, maxDelay: 100 } });
    let settled: unknown;
    void c.connect().catch((e: { code: string; message: string }) => (settled = [e.code, e.message]));
    let patient: unknown;
    void c.connect({ timeout: 0 }).catch((e: { code: string }) => (patient = e.code));
    await vi.advanceTimersByTimeAsync(19_990);
    expect(settled).toBeUndefined();
    await vi.advanceTimersByTimeAsync(20);
    expect(settled).toEqual(['TIMEOUT', expect.stringMatching(/^not connected within 20000 ms \(last attempt: cannot open ws:\/\/127\.0\.0\.1:9\/ \(1006\)\)$/)]);
    expect(c.state).toBe('reconnecting'); // only the wait ended
    await vi.advanceTimersByTimeAsync(60_000);
    expect(patient).toBeUndefined();
    c.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(patient).toBe('DISCONNECTED');
  });
});
