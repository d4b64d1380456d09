import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { client, startServer, standardHandlers, until, useFixtures, type Server } from './helpers';

useFixtures();

/** Server-side sockets of the HTTP(S) server (raw TCP: what they count is what crossed the wire). */
function wireSockets(server: Server): Socket[] {
  const sockets: Socket[] = [];
  server.http!.on('connection', (s: Socket) => void sockets.push(s));
  return sockets;
}

describe.each(['ws', 'wss'] as const)('permessage-deflate over %s://', (scheme) => {
  const secure = scheme === 'wss';
  // ~330 KB of very compressible JSON text.
  const big = 'stelar, the real-time messaging library; '.repeat(8000);

  it('negotiated when both sides want it: a large message round-trips in far fewer bytes than its size', async () => {
    const { server, url } = await startServer({ secure, ws: { perMessageDeflate: true }, maxFrameSize: 1024 * 1024 }, standardHandlers);
    const sockets = wireSockets(server);
    const c = client(url(scheme), { perMessageDeflate: true });
    await c.connect();
    const extensions = server.getConnection(c.id!)!.upgradeRequest!.headers['sec-websocket-extensions'];
    expect(String(extensions)).toContain('permessage-deflate');
    await expect(c.request('echo', big)).resolves.toBe(big);
    expect(sockets).toHaveLength(1);
    const s = sockets[0]!;
    expect(s.bytesRead).toBeLessThan(big.length / 20); // client → server, compressed (and masked)
    expect(s.bytesWritten).toBeLessThan(big.length / 20); // server → client
  });

  it('not negotiated when only one side offers it: the message goes uncompressed and still arrives', async () => {
    const plainServer = await startServer({ secure, maxFrameSize: 1024 * 1024 }, standardHandlers);
    const sockets = wireSockets(plainServer.server);
    const offering = client(plainServer.url(scheme), { perMessageDeflate: true });
    await offering.connect();
    await expect(offering.request('echo', big)).resolves.toBe(big);
    expect(sockets[0]!.bytesRead).toBeGreaterThan(big.length);

    const deflating = await startServer({ secure, ws: { perMessageDeflate: true }, maxFrameSize: 1024 * 1024 }, standardHandlers);
    const sockets2 = wireSockets(deflating.server);
    const plain = client(deflating.url(scheme));
    await plain.connect();
    expect(deflating.server.getConnection(plain.id!)!.upgradeRequest!.headers['sec-websocket-extensions']).toBeUndefined();
    await expect(plain.request('echo', big)).resolves.toBe(big);
    expect(sockets2[0]!.bytesWritten).toBeGreaterThan(big.length);
  });
});

describe('the WebSocket upgrade request', () => {
  it('custom headers, origin, subprotocols, path and query reach the server; auth reaches conn.auth', async () => {
    const { server, port } = await startServer({ ws: { path: '/stelar', allowOrigins: ['https://app.example'], protocols: ['stelar.v1'] } });
    const c = client(`ws://127.0.0.1:${port}/stelar?tenant=acme`, {
      headers: { 'x-trace-id': 'abc123', authorization: 'Bearer t0ken', 'x-multi': ['a', 'b'] },
      origin: 'https://app.example',
      protocols: ['stelar.v2', 'stelar.v1'],
      auth: { user: 'ada', token: 42 },
    });
    await c.connect();
    const conn = server.getConnection(c.id!)!;
    const req = conn.upgradeRequest!;
    expect(req.url).toBe('/stelar?tenant=acme');
    expect(req.headers['x-trace-id']).toBe('abc123');
    expect(req.headers['authorization']).toBe('Bearer t0ken');
    expect(String(req.headers['x-multi'])).toMatch(/a.*b/);
    expect(req.headers['origin']).toBe('https://app.example');
    expect(req.headers['sec-websocket-protocol']).toBe('stelar.v2, stelar.v1');
    expect(conn.auth).toEqual({ user: 'ada', token: 42 });
    expect(conn.transport).toBe('ws');
  });

  it('TCP connections carry auth but no upgrade request', async () => {
    const { server, url } = await startServer();
    const c = client(url('tcp'), { auth: 'token-1', headers: { 'x-ignored': 'yes' } });
    await c.connect();
    const conn = server.getConnection(c.id!)!;
    expect(conn.auth).toBe('token-1');
    expect(conn.upgradeRequest).toBeUndefined();
  });
});

describe.each(['ws', 'tcp'] as const)('client limits over %s://', (scheme) => {
  it('a frame above the client maxFrameSize closes with 1009 and the client reconnects', async () => {
    const closes: number[] = [];
    const { server, url } = await startServer({}, (s) => s.onDisconnect((_c, code) => void closes.push(code)));
    const c = client(url(scheme), { maxFrameSize: 1024, reconnect: { baseDelay: 5, maxDelay: 10 } });
    const drops: number[] = [];
    c.onLifecycle('disconnected', ({ code }) => void drops.push(code));
    const news: string[] = [];
    c.on('news', (m) => void news.push(m.text));
    await c.connect();
    const conn = server.getConnection(c.id!)!;
    conn.emit('news', { text: 'small' });
    conn.emit('news', { text: 'x'.repeat(2000) });
    await until(() => drops.length === 1);
    expect(drops).toEqual([1009]);
    expect(news).toEqual(['small']);
    await until(() => closes.length === 1);
    expect(closes).toEqual([1009]);
    await until(() => c.connected, 'the reconnection');
  });

  it('localAddress picks the local interface', async () => {
    const { server, url } = await startServer();
    const c = client(url(scheme), { localAddress: '127.0.0.1' });
    await c.connect();
    expect(server.getConnection(c.id!)!.remoteAddress).toBe('127.0.0.1');
  });
});
