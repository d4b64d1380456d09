import { describe, expect, it } from 'vitest';
import { linkOf } from '@stelar/core/internal';
import { client, startServer, standardHandlers, tick, until, useFixtures } from './helpers';

useFixtures();

describe.each(['ws', 'tcp'] as const)('sessions over %s://', (scheme) => {
  it('rooms: joined while offline, refused joins reject with the server code, left rooms are not re-joined', async () => {
    const { server, url } = await startServer({ authorizeJoin: (_conn, room) => !room.startsWith('vip') }, standardHandlers);
    const c = client(url(scheme), { autoConnect: false, reconnect: { baseDelay: 5, maxDelay: 10 } });
    const early = c.join('lobby');
    const refused = c.join('vip-lounge');
    expect([...c.rooms]).toEqual(['lobby', 'vip-lounge']);
    await c.connect();
    await early;
    await expect(refused).rejects.toMatchObject({ code: 'REJECTED', message: 'not allowed to join "vip-lounge"' });
    expect([...c.rooms]).toEqual(['lobby']);
    await c.join('kitchen');
    await c.leave('kitchen');
    const conn = server.getConnection(c.id!)!;
    expect([...conn.rooms].sort()).toEqual(['lobby']);

    // After a drop, only `lobby` is re-joined.
    linkOf(conn).terminate();
    await until(() => c.connected && c.id !== conn.id, 'the reconnection');
    await until(() => server.getConnection(c.id!)?.rooms.has('lobby') === true, 'the re-join');
    expect([...server.getConnection(c.id!)!.rooms]).toEqual(['lobby']);
    expect(await server.to('kitchen').count()).toBe(0);
  });

  it('a server disconnect with an application code reconnects; with 4001 it stops for good', async () => {
    const { server, url } = await startServer();
    const c = client(url(scheme), { reconnect: { baseDelay: 5, maxDelay: 10 } });
    const drops: { code: number; reason: string; willReconnect: boolean }[] = [];
    c.onLifecycle('disconnected', (i) => void drops.push(i));
    await c.connect();
    const first = c.id!;
    server.getConnection(first)!.disconnect(4100, 'maintenance');
    await until(() => c.connected && c.id !== first, 'the reconnection');
    server.getConnection(c.id!)!.disconnect(4001, 'banned');
    await until(() => c.state === 'disconnected');
    expect(drops).toEqual([
      { code: 4100, reason: 'maintenance', willReconnect: true },
      { code: 4001, reason: 'banned', willReconnect: false },
    ]);
    await tick(30);
    expect(server.getStats().connections.total).toBe(2);
  });

  it("the error notification: ERROR frames from the server and the client's own failing handlers", async () => {
    const { server, url } = await startServer({ rateLimit: { events: { chat: { rate: 1, burst: 1 } } } });
    const c = client(url(scheme));
    const errors: [string, string | undefined][] = [];
    c.onLifecycle('error', (err, event) => void errors.push([err.code, event]));
    c.on('news', () => {
      throw new Error('my handler broke');
    });
    await c.connect();
    c.emit('chat', { n: 1, text: 'ok' });
    c.emit('chat', { n: 2, text: 'over the limit' });
    server.getConnection(c.id!)!.emit('news', { text: 'boom' });
    await until(() => errors.length === 2);
    expect(errors).toContainEqual(['RATE_LIMITED', 'chat']);
    expect(errors).toContainEqual(['HANDLER_ERROR', 'news']);
    expect(c.state).toBe('connected');
  });

  it('connect() after close() opens a new session', async () => {
    const { server, url } = await startServer({}, standardHandlers);
    const c = client(url(scheme));
    await c.connect();
    const first = c.id;
    c.close();
    await until(() => c.state === 'disconnected');
    await until(() => server.getStats().connections.open === 0);
    await c.connect();
    expect(c.id).not.toBe(first);
    await expect(c.request('sum', { a: 2, b: 2 })).resolves.toBe(4);
  });

  it('over maxConnections the client is turned away (not a refusal) and gets in once a place is free', async () => {
    const { server, url } = await startServer({ maxConnections: 1 });
    const first = client(url(scheme));
    await first.connect();
    const second = client(url(scheme), { reconnect: { baseDelay: 10, maxDelay: 20 } });
    let retries = 0;
    second.onLifecycle('reconnecting', () => void retries++);
    await until(() => retries >= 2, 'the second client to retry');
    expect(second.connected).toBe(false);
    first.close();
    await second.connect();
    expect(server.getStats().connections.open).toBe(1);
  });
});

describe('frames above the server limit', () => {
  // The server announces its `maxFrame` in CONNECT; the engine refuses bigger frames locally
  // instead of sending them (the server would close with 1009, failing everything in flight,
  // and a `retry: true` request would be re-sent after every reconnection).
  it('a frame bigger than the announced maxFrame is refused locally (FRAME_TOO_LARGE), the connection stays up', async () => {
    const { server, url } = await startServer({ maxFrameSize: 2048 }, standardHandlers);
    const c = client(url('tcp'), { reconnect: { baseDelay: 5, maxDelay: 10 } });
    const drops: number[] = [];
    c.onLifecycle('disconnected', ({ code }) => void drops.push(code));
    await c.connect();
    await expect(c.request('echo', 'x'.repeat(5000), { retry: true, timeout: 400 })).rejects.toMatchObject({ code: 'FRAME_TOO_LARGE' });
    expect(() => c.emit('echo', 'x'.repeat(5000))).toThrow(/exceeds the server's limit/);
    await expect(c.request('echo', 'fits')).resolves.toBe('fits');
    expect(drops).toEqual([]);
    expect(server.getStats().connections.total).toBe(1);
  });
});
