import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { connect } from '../src/index';
import { client, onCleanup, startServer, tick, until, useFixtures, type ClientToServer, type ServerToClient } from './helpers';

useFixtures();

describe.each(['ws', 'tcp'] as const)('requests over %s://', (scheme) => {
  /** A server whose `hang` handler answers only when the test says so. */
  async function hangingServer() {
    const answers: ((v: string) => void)[] = [];
    const calls: string[] = [];
    const started = await startServer({}, (s) => {
      s.on('hang', (tag) => {
        calls.push(tag);
        return new Promise<string>((r) => answers.push(r));
      });
      s.on('sum', async ({ a, b }) => {
        await tick((a * 7) % 13);
        return a + b;
      });
    });
    onCleanup(() => answers.forEach((r) => r('too late')));
    return { ...started, answers, calls };
  }

  it('a request times out with TIMEOUT (per request and the client default); a late reply is ignored', async () => {
    const { url, answers } = await hangingServer();
    const c = client(url(scheme), { requestTimeout: 150 });
    await c.connect();
    const started = Date.now();
    await expect(c.request('hang', 'a', { timeout: 60 })).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining('"hang" timed out after 60 ms') });
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    await expect(c.request('hang', 'b')).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining('150 ms') });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    for (const answer of answers) answer('late');
    await tick(20);
    expect(c.state).toBe('connected');
    await expect(c.request('sum', { a: 1, b: 2 })).resolves.toBe(3);
  });

  it('an AbortSignal cancels a request in flight, before it is sent, and while it is queued', async () => {
    const { url, calls } = await hangingServer();
    const c = client(url(scheme), { autoConnect: false });

    const queuedAbort = new AbortController();
    const queued = c.request('hang', 'queued', { signal: queuedAbort.signal });
    expect(c.queued).toBe(1);
    queuedAbort.abort();
    await expect(queued).rejects.toMatchObject({ code: 'ABORTED' });
    expect(c.queued).toBe(0);

    await c.connect();
    const ac = new AbortController();
    const inFlight = c.request('hang', 'in flight', { signal: ac.signal });
    await until(() => calls.length === 1);
    ac.abort();
    await expect(inFlight).rejects.toMatchObject({ code: 'ABORTED' });
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);

    await expect(c.request('hang', 'never sent', { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORTED' });
    await tick(20);
    expect(calls).toEqual(['in flight']); // neither the queued nor the pre-aborted one reached the server
  });

  it('a queued request times out while offline and leaves the queue', async () => {
    const { url } = await hangingServer();
    const c = client(url(scheme), { autoConnect: false });
    const r = c.request('sum', { a: 1, b: 1 }, { timeout: 50 });
    expect(c.queued).toBe(1);
    await expect(r).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(c.queued).toBe(0);
  });

  it('many concurrent requests each get their own reply', async () => {
    const { url } = await hangingServer();
    const c = client(url(scheme));
    await c.connect();
    const n = 300;
    const replies = await Promise.all(Array.from({ length: n }, (_, i) => c.request('sum', { a: i, b: 1000 })));
    expect(replies).toEqual(Array.from({ length: n }, (_, i) => i + 1000));
  });

  it('a server request the client never answers times out at the server; an unknown event is NO_HANDLER', async () => {
    const { server, url } = await startServer();
    const c = client(url(scheme));
    c.on('confirm', () => new Promise<boolean>(() => undefined));
    await c.connect();
    const conn = server.getConnection(c.id!)!;
    await expect(conn.request('confirm', 'still there?', { timeout: 50 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    await expect(conn.request('nobody', 1)).rejects.toMatchObject({ code: 'NO_HANDLER' });
    expect(server.getStats().acks.timedOut).toBe(1);
  });
});

describe('request bookkeeping (no sockets)', () => {
  // With the `error` queue policy a refused request rejects with QUEUE_FULL and leaves its
  // timeout timer and abort listener behind neither.
  it('a request refused by a full queue (error policy) leaves no timer or abort listener behind', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const c = connect<ServerToClient, ClientToServer>('tcp://127.0.0.1:9', { autoConnect: false, queue: { maxMessages: 1, policy: 'error' } });
    try {
      c.emit('chat', { n: 1, text: '' });
      const ac = new AbortController();
      await expect(c.request('sum', { a: 1, b: 2 }, { signal: ac.signal })).rejects.toMatchObject({ code: 'QUEUE_FULL' });
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      c.close();
      vi.clearAllTimers();
      vi.useRealTimers();
    }
  });

  it('with the drop-newest policy the same refusal leaves nothing behind', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const c = connect<ServerToClient, ClientToServer>('tcp://127.0.0.1:9', { autoConnect: false, queue: { maxMessages: 1, policy: 'drop-newest' } });
    try {
      c.emit('chat', { n: 1, text: '' });
      const ac = new AbortController();
      await expect(c.request('sum', { a: 1, b: 2 }, { signal: ac.signal })).rejects.toMatchObject({ code: 'QUEUE_FULL' });
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      c.close();
      vi.clearAllTimers();
      vi.useRealTimers();
    }
  });
});
