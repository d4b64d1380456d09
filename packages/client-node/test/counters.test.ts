// What 3.x clients had and Stelar's lacked (issue 15, migration §5): counters on the client, a
// reconnection delay of the user's own, another URL (and fresh credentials) between attempts.
import { describe, expect, it } from 'vitest';
import { linkOf } from '@stelar/core/internal';
import { client, freePort, SCHEMES, startServer, standardHandlers, until, useFixtures } from './helpers';

useFixtures();

describe('client counters', () => {
  it.each(SCHEMES)('over %s: messagesSent / messagesReceived count events, requests and replies both ways; connectedAt is the session’s start; lastError the last failure', async (scheme) => {
    const { server, url } = await startServer({ secure: scheme === 'wss' || scheme === 'tls' }, standardHandlers);
    const c = client(url(scheme), { autoConnect: false, reconnect: { baseDelay: 5, maxDelay: 10 } });
    c.on('confirm', (q) => q === 'ok?');
    expect(c.emit('chat', { n: 1, text: 'queued' })).toBe(true);
    expect([c.messagesSent, c.messagesReceived, c.connectedAt, c.lastError]).toEqual([0, 0, undefined, undefined]);
    const before = Date.now();
    await c.connect();
    const at = c.connectedAt!;
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
    expect(await c.request('sum', { a: 2, b: 3 })).toBe(5);
    c.emit('blob', new Uint8Array([1, 2, 3])); // the server sends it back
    const conn = server.getConnection(c.id!)!;
    expect(await conn.request('confirm', 'ok?')).toBe(true);
    conn.emit('news', { text: 'hi' });
    await until(() => c.messagesReceived === 4, () => `4 received, not ${c.messagesReceived}`);
    // Sent: the queued chat, the request, the blob, the reply. Received: the reply, the blob, the request, the news.
    expect([c.messagesSent, c.messagesReceived]).toEqual([4, 4]);
    // The server goes away and comes back: a new session, a new connectedAt, the drop as lastError; the counters go on.
    conn.disconnect(4100, 'moving');
    await until(() => c.connected && c.connectedAt !== at, 'the reconnection');
    expect(c.lastError).toMatchObject({ code: 'DISCONNECTED', message: 'connection closed (4100: moving)' });
    c.emit('chat', { n: 2, text: 'after' });
    expect(c.messagesSent).toBe(5);
    expect(c.connectedAt!).toBeGreaterThanOrEqual(at);
  });

  it('a burst past the socket’s high-water mark: every message the link took counts once, dropped volatile ones do not', async () => {
    let got = 0;
    const { server, url } = await startServer({}, (s) => s.on('chat', () => void got++));
    const c = client(url('tcp'), { highWaterMark: 64 * 1024 });
    await c.connect();
    const link = linkOf(server.getConnection(c.id!)!);
    link.pause(); // the server stops reading: the kernel's buffers fill, then the client's
    const n = 3000;
    let dropped = 0;
    const text = 'x'.repeat(4096);
    for (let i = 0; i < n; i++) if (!c.emit('chat', { n: i, text }, { volatile: true })) dropped++;
    expect(dropped).toBeGreaterThan(0);
    expect(c.messagesSent).toBe(n - dropped);
    link.resume();
    await until(() => got === n - dropped, () => `${n - dropped} chats at the server, not ${got}`);
  });
});

describe('reconnect.delay: a reconnection delay of your own', () => {
  it('replaces the backoff: the client waits what it returns, given the retry number and the error', async () => {
    const port = await freePort();
    const seen: [number, string][] = [];
    const c = client(`tcp://127.0.0.1:${port}`, {
      autoConnect: false,
      reconnect: { maxAttempts: 3, delay: (attempt, err) => (seen.push([attempt, (err as Error & { code: string }).code]), attempt * 60) },
    });
    const delays: number[] = [];
    c.onLifecycle('reconnecting', ({ delay }) => void delays.push(delay));
    const started = Date.now();
    await expect(c.connect()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(60 + 120 + 180 - 10);
    expect(delays).toEqual([60, 120, 180]);
    expect(seen).toEqual([
      [1, 'ECONNREFUSED'],
      [2, 'ECONNREFUSED'],
      [3, 'ECONNREFUSED'],
    ]);
  });
});

describe('setUrl and credentials between attempts', () => {
  it('the next attempts go to the new URL (any scheme), with credentials from the auth function of each attempt; a bad URL throws and changes nothing', async () => {
    const port = await freePort();
    const auths: unknown[] = [];
    const { server, url } = await startServer({}, (s) =>
      s.use(async (conn, next) => {
        auths.push(conn.auth);
        await next();
      }),
    );
    let n = 0;
    const c = client(`tcp://127.0.0.1:${port}`, { autoConnect: false, reconnect: { baseDelay: 10, maxDelay: 20 }, auth: () => ({ token: `t${++n}` }) });
    const failed = new Promise<void>((r) => c.onLifecycle('connect_error', () => r()));
    const connected = c.connect({ timeout: 0 });
    await failed;
    expect(() => c.setUrl('http://127.0.0.1:1/')).toThrow(/unsupported URL scheme "http:"/);
    expect(() => c.setUrl('tcp://127.0.0.1')).toThrow(/port/);
    expect(c.url).toBe(`tcp://127.0.0.1:${port}`);
    c.setUrl(url('ws'));
    expect(c.url).toBe(url('ws'));
    await connected;
    expect(server.getConnection(c.id!)!.transport).toBe('ws');
    expect(auths).toEqual([{ token: `t${n}` }]); // a fresh token, after n - 1 failed attempts that each asked for one
    expect(n).toBeGreaterThanOrEqual(2);
    // The session in place is kept: setUrl only concerns later attempts.
    c.setUrl(url('tcp'));
    expect(server.getConnection(c.id!)!.transport).toBe('ws');
    server.getConnection(c.id!)!.disconnect(4100, 'moving');
    await until(() => c.connected && server.getConnection(c.id!)?.transport === 'tcp', 'the reconnection over tcp');
  });
});
