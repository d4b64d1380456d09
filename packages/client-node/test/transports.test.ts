import { describe, expect, it } from 'vitest';
import { linkOf } from '@stelar/core/internal';
import { connect, StelarClient, StelarError } from '../src/index';
import { client, onCleanup, recordStates, SCHEMES, standardHandlers, startServer, tick, until, type Server } from './helpers';
import { useFixtures } from './helpers';

useFixtures();

describe.each(SCHEMES)('over %s://', (scheme) => {
  const secure = scheme === 'wss' || scheme === 'tls';

  it('connect() resolves with a session id; a server restart on the same ports: rooms re-joined, the queue flushed once and in order, later sends after it', async () => {
    type Seen = { n: number; text: string; inLobby: boolean; server: number; client: string };
    const seen: Seen[] = [];
    const setup = (tag: number) => (s: Server) => {
      standardHandlers(s);
      s.on('chat', (m, conn) => void seen.push({ ...m, inLobby: conn.rooms.has('lobby'), server: tag, client: String(conn.auth) }));
    };
    const first = await startServer({ secure }, setup(1));
    const c = client(first.url(scheme), { autoConnect: false, auth: 'A', reconnect: { baseDelay: 20, maxDelay: 80 } });
    // A second client goes through the same restart: nothing of one may reach the server twice.
    const b = client(first.url(scheme), { auth: 'B', reconnect: { baseDelay: 20, maxDelay: 80 } });
    const states = recordStates(c);
    const disconnects: { code: number; willReconnect: boolean }[] = [];
    c.onLifecycle('disconnected', ({ code, willReconnect }) => void disconnects.push({ code, willReconnect }));
    expect(c.state).toBe('idle');

    await Promise.all([c.connect(), b.connect()]);
    const firstId = c.id;
    expect(firstId).toEqual(expect.any(String));
    expect(first.server.getConnection(firstId!)?.transport).toBe(scheme);
    await Promise.all([c.join('lobby'), b.join('lobby')]);
    expect([...c.rooms]).toEqual(['lobby']);
    c.emit('chat', { n: 0, text: 'before' });
    await until(() => seen.length === 1);

    // The server goes away (close code 1001: not a refusal, so the client reconnects).
    await first.server.close({ timeout: 200 });
    await until(() => c.state === 'reconnecting' && b.state === 'reconnecting', 'reconnecting');
    for (let n = 101; n <= 110; n++) b.emit('chat', { n, text: 'queued by B' });
    expect(disconnects).toEqual([{ code: 1001, willReconnect: true }]);
    for (let n = 1; n <= 5; n++) expect(c.emit('chat', { n, text: 'queued' })).toBe(true);
    const sum = c.request('sum', { a: 2, b: 3 });
    expect(c.queued).toBe(6);
    // Sends from the `connected` notification come after the flushed queue.
    c.onLifecycle('connected', () => void c.emit('chat', { n: 6, text: 'on connected' }));

    const second = await startServer({ secure, port: first.port, tcpPort: first.tcpPort }, setup(2));
    await Promise.all([c.connect(), b.connect()]);
    c.emit('chat', { n: 7, text: 'after' });
    await expect(sum).resolves.toBe(5);
    await until(() => seen.length === 18, 'all messages');

    // Per client: everything once, in order; queued ones on the new server, after the re-join.
    const from = (who: string): Seen[] => seen.filter((s) => s.client === who);
    expect(from('A').map((s) => s.n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(from('B').map((s) => s.n)).toEqual([101, 102, 103, 104, 105, 106, 107, 108, 109, 110]);
    expect(seen.filter((s) => s.n !== 0).every((s) => s.server === 2 && s.inLobby)).toBe(true);
    await tick(50);
    expect(seen).toHaveLength(18);
    expect(c.queued).toBe(0);
    expect(c.id).toEqual(expect.any(String));
    expect(c.id).not.toBe(firstId);
    expect(await second.server.to('lobby').count()).toBe(2);
    b.close();
    await until(() => second.server.getStats().connections.open === 1, 'B to leave');
    const news: string[] = [];
    c.on('news', (m) => void news.push(m.text));
    second.server.to('lobby').emit('news', { text: 'welcome back' });
    await until(() => news.length === 1);

    const gone = new Promise<[number, string]>((r) => second.server.onDisconnect((_conn, code, reason) => r([code, reason])));
    c.close(4100, 'bye');
    await expect(gone).resolves.toEqual([4100, 'bye']);
    await until(() => c.state === 'disconnected');
    expect(states).toEqual(['connecting', 'connected', 'reconnecting', 'connected', 'disconnected']);
    expect(c.connected).toBe(false);
  });

  it('JSON and binary both ways; requests; server → client requests answered by client handlers', async () => {
    const received: unknown[] = [];
    const { server, url } = await startServer({ secure }, (s) => {
      standardHandlers(s);
      s.on('blob', (bytes) => void received.push(bytes));
    });
    const c = client(url(scheme));
    c.on('confirm', (q) => q === 'ok?');
    c.on('compute', async (n) => {
      await new Promise((r) => setTimeout(r, 5));
      return n * 2;
    });
    c.on('fail', (how) => {
      if (how === 'coded') throw new StelarError('NOT_TODAY', 'ask again tomorrow');
      if (how === 'plain') throw new Error('boom');
      return Promise.reject(new StelarError('LATER', 'async refusal'));
    });
    await c.connect();
    await expect(c.request('sum', { a: 20, b: 22 })).resolves.toBe(42);
    await expect(c.request('echo', 'héllo ✓')).resolves.toBe('héllo ✓');

    // Binary: every byte value, bigger than one TCP read / WebSocket frame header threshold.
    const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) & 0xff);
    const echoed: Uint8Array[] = [];
    c.on('blob', (b) => void echoed.push(b));
    c.emit('blob', bytes);
    c.emit('blob', new Uint8Array(0));
    c.emit('blob', new Uint8Array([0, 255, 1]).buffer as unknown as Uint8Array); // an ArrayBuffer goes as binary too
    await until(() => echoed.length === 3);
    expect(received.every((b) => b instanceof Uint8Array)).toBe(true);
    expect(Buffer.from(echoed[0]!).equals(Buffer.from(bytes))).toBe(true);
    expect(echoed[1]!.length).toBe(0);
    expect([...echoed[2]!]).toEqual([0, 255, 1]);

    const conn = server.getConnection(c.id!)!;
    await expect(conn.request('confirm', 'ok?')).resolves.toBe(true);
    await expect(conn.request('compute', 21)).resolves.toBe(42);
    await expect(conn.request('fail', 'coded')).rejects.toMatchObject({ code: 'NOT_TODAY', message: 'ask again tomorrow' });
    await expect(conn.request('fail', 'plain')).rejects.toMatchObject({ code: 'HANDLER_ERROR', message: 'boom' });
    await expect(conn.request('fail', 'async')).rejects.toMatchObject({ code: 'LATER' });
    await expect(conn.request('nobody', 1)).rejects.toMatchObject({ code: 'NO_HANDLER' });
    expect(c.state).toBe('connected');
  });

  it('a dropped connection rejects pending requests with DISCONNECTED; retry: true requests are answered after the reconnect', async () => {
    const hanging: (() => void)[] = [];
    let flakyCalls = 0;
    const { server, url } = await startServer({ secure }, (s) => {
      s.on('hang', () => new Promise<string>((r) => hanging.push(() => r('late'))));
      s.on('flaky', (n) => {
        flakyCalls++;
        // First delivery: never answered (the connection will die). Second: answered.
        return flakyCalls === 1 ? new Promise<number>((r) => hanging.push(() => r(-1))) : n + 1;
      });
    });
    onCleanup(() => hanging.forEach((f) => f()));
    const c = client(url(scheme), { reconnect: { baseDelay: 10, maxDelay: 30 } });
    await c.connect();
    const firstId = c.id!;
    const lost = c.request('hang', 'x');
    const kept = c.request('flaky', 41, { retry: true });
    await until(() => server.getStats().acks.inFlightHandlers === 2, 'both requests at the server');

    const disconnected = new Promise<{ code: number; willReconnect: boolean }>((r) => c.onLifecycle('disconnected', r));
    linkOf(server.getConnection(firstId)!).terminate(); // the socket dies: no close frame, no DISCONNECT
    await expect(lost).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await expect(disconnected).resolves.toMatchObject({ code: 1006, willReconnect: true });
    await expect(kept).resolves.toBe(42);
    expect(flakyCalls).toBe(2);
    expect(c.id).not.toBe(firstId);
    expect(c.state).toBe('connected');
  });
});

describe('construction', () => {
  it('connect() starts at once (autoConnect) and both ways of creating a client give a StelarClient', async () => {
    const { url } = await startServer();
    const c = client(url('tcp'));
    expect(c).toBeInstanceOf(StelarClient);
    expect(c.state).toBe('connecting');
    expect(c.url).toBe(url('tcp'));
    await c.connect();
    expect(c.connected).toBe(true);
    const viaClass = new StelarClient(new URL(url('ws')), { reconnect: false });
    onCleanup(() => viaClass.close());
    expect(viaClass.state).toBe('idle');
    await viaClass.connect();
    expect(viaClass.state).toBe('connected');
  });

  it('an unsupported scheme throws at once', () => {
    expect(() => connect('http://127.0.0.1:1/')).toThrow(/unsupported URL scheme "http:"/);
    expect(() => connect('tcp://127.0.0.1')).toThrow(/needs a port/);
  });
});
