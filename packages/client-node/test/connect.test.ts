// When `connect()` settles, what each failed attempt reports (`connect_error`), and how the client
// recognises a server that is not a Stelar server (issue 15 item 5). Real sockets on 127.0.0.1.
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { encodeJson } from '@stelar/codec-tcp';
import { AuthError } from '@stelar/server';
import { DialError, type StelarError } from '../src/index';
import { client, freePort, onCleanup, startServer, tick, useFixtures, type Client } from './helpers';

useFixtures();

type Failure = { code: unknown; message: string; attempt: number; willRetry: boolean; fatal?: unknown; status?: unknown };

/** Every `connect_error` of a client, flattened for assertions. */
function failures(c: Client): Failure[] {
  const seen: Failure[] = [];
  c.onLifecycle('connect_error', (err, { attempt, willRetry }) => {
    const e = err as Error & { code?: unknown; fatal?: unknown; status?: unknown };
    seen.push({ code: e.code, message: e.message, attempt, willRetry, ...(e instanceof DialError && { fatal: e.fatal, status: e.status }) });
  });
  return seen;
}

/** A plain HTTP server (an ordinary web app); counts the sockets it accepts. */
async function webApp(): Promise<{ port: number; sockets: () => number }> {
  let sockets = 0;
  const server = http.createServer((_req, res) => res.end('<h1>an ordinary page</h1>'));
  server.on('connection', () => void sockets++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onCleanup(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as AddressInfo).port, sockets: () => sockets };
}

/** A WebSocket server that is not a Stelar server: it accepts the upgrade, then sends `first`. */
async function foreignWebSocket(first: Buffer): Promise<number> {
  const server = http.createServer();
  const sockets = new Set<Socket>();
  server.on('upgrade', (req, socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.once('data', () => socket.write(first)); // after the client's CONNECT
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onCleanup(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** An unmasked WebSocket frame from a server (payload < 126 bytes). */
function wsFrame(opcode: number, payload: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]);
}

describe('connect() settles by a stated rule', () => {
  it('a closed port with the default reconnect policy: every failed attempt is reported with its error, and connect({ timeout }) rejects with TIMEOUT quoting it while the client keeps trying', async () => {
    const port = await freePort();
    const c = client(`tcp://127.0.0.1:${port}`, { reconnect: true, autoConnect: false });
    const seen = failures(c);
    const started = Date.now();
    const err = (await c.connect({ timeout: 1500 }).catch((e: unknown) => e)) as StelarError;
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toMatch(/^not connected within 1500 ms \(last attempt: connect to tcp:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/);
    expect(err.details).toBeInstanceOf(DialError);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    seen.forEach((f, i) => expect(f).toMatchObject({ code: 'ECONNREFUSED', attempt: i, willRetry: true, fatal: false }));
    expect(['connecting', 'reconnecting']).toContain(c.state); // only the wait ended
    expect(c.lastError).toBe(err.details);
    c.close();
    expect(c.state).toBe('disconnected');
  });

  it('connect({ signal }) rejects with ABORTED when the signal aborts; a session that opens later resolves the other waits', async () => {
    const port = await freePort();
    const c = client(`tcp://127.0.0.1:${port}`, { reconnect: { baseDelay: 20, maxDelay: 40 }, autoConnect: false });
    const ac = new AbortController();
    const aborted = c.connect({ signal: ac.signal });
    const patient = c.connect({ timeout: 0 });
    await tick(30);
    ac.abort(new Error('the user navigated away'));
    await expect(aborted).rejects.toMatchObject({ code: 'ABORTED', message: 'connect() aborted: the user navigated away' });
    await expect(c.connect({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORTED' });
    // Nothing listened on that port; now a server does, and the client, still trying, gets in.
    const { url } = await startServer({ tcpPort: port });
    expect(url('tcp')).toBe(`tcp://127.0.0.1:${port}`);
    await patient;
    expect(c.connected).toBe(true);
  });

  it('each kind of failed attempt is reported: DNS, an HTTP status, a certificate, a refusal by the server; final ones say willRetry: false', async () => {
    const retryOnce = { reconnect: { baseDelay: 1, maxDelay: 5, maxAttempts: 1 }, autoConnect: false } as const;
    // A name that cannot resolve (.invalid is reserved): ENOTFOUND, or EAI_AGAIN without a resolver.
    const dns = client('tcp://stelar-test.invalid:4000', retryOnce);
    const dnsSeen = failures(dns);
    await expect(dns.connect()).rejects.toBeInstanceOf(DialError);
    expect(dnsSeen.map((f) => [f.attempt, f.willRetry])).toEqual([
      [0, true],
      [1, false],
    ]);
    expect(String(dnsSeen[0]!.code)).toMatch(/^(ENOTFOUND|EAI_AGAIN)$/);
    // HTTP 503 from a proxy: retried; 403: final.
    let status = 503;
    const proxy = http.createServer((_req, res) => {
      res.statusCode = status;
      res.end('busy');
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    onCleanup(() => new Promise<void>((r) => proxy.close(() => r())));
    const proxied = client(`ws://127.0.0.1:${(proxy.address() as AddressInfo).port}/`, retryOnce);
    const proxiedSeen = failures(proxied);
    await expect(proxied.connect()).rejects.toMatchObject({ code: 'WS_UPGRADE_REFUSED', status: 503 });
    status = 403;
    await expect(proxied.connect()).rejects.toMatchObject({ code: 'WS_UPGRADE_REFUSED', status: 403 });
    expect(proxiedSeen.map((f) => [f.status, f.attempt, f.willRetry])).toEqual([
      [503, 0, true],
      [503, 1, false],
      [403, 0, false],
    ]);
    // An untrusted certificate: final.
    const secure = await startServer({ secure: true });
    const tlsClient = client(secure.url('tls'), retryOnce, { trust: false });
    const tlsSeen = failures(tlsClient);
    await expect(tlsClient.connect()).rejects.toMatchObject({ fatal: true });
    expect(tlsSeen).toEqual([expect.objectContaining({ fatal: true, attempt: 0, willRetry: false, message: expect.stringContaining('TLS certificate refused') })]);
    // The server's refusal (AuthError): final, with the server's message.
    const { url } = await startServer({}, (s) =>
      s.use(() => {
        throw new AuthError('bad token');
      }),
    );
    const refused = client(url('tcp'), retryOnce);
    const refusedSeen = failures(refused);
    await expect(refused.connect()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    expect(refusedSeen).toEqual([{ code: 'UNAUTHORIZED', message: 'bad token', attempt: 0, willRetry: false }]);
    expect(refused.lastError).toMatchObject({ code: 'UNAUTHORIZED' });
  });
});

describe('NOT_STELAR: the other end is not a Stelar server (final: no reconnection storm)', () => {
  it('tcp:// pointed at an HTTP port: the error quotes its answer instead of reporting a 1.2 GB frame, and the web app sees one socket', async () => {
    const app = await webApp();
    const c = client(`tcp://127.0.0.1:${app.port}`, { reconnect: true, autoConnect: false });
    const seen = failures(c);
    const disconnected: unknown[] = [];
    c.onLifecycle('disconnected', (info) => void disconnected.push(info));
    const started = Date.now();
    const err = (await c.connect().catch((e: unknown) => e)) as StelarError;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err.code).toBe('NOT_STELAR');
    expect(err.message).toBe(`tcp://127.0.0.1:${app.port} is not a Stelar server: it answered with HTTP ("HTTP/1.1 400 Bad Request"); use ws:// or wss:// for a WebSocket endpoint`);
    expect(err.message).not.toMatch(/\d{9,} bytes/);
    expect(seen).toEqual([{ code: 'NOT_STELAR', message: err.message, attempt: 0, willRetry: false }]);
    expect(disconnected).toEqual([{ code: 1006, reason: err.message, willReconnect: false }]);
    await tick(300);
    expect(app.sockets()).toBe(1);
    expect(c.state).toBe('disconnected');
  });

  it('ws:// pointed at an ordinary page (200 instead of 101) or at a tcp:// port', async () => {
    const app = await webApp();
    const page = client(`ws://127.0.0.1:${app.port}/chat`, { reconnect: true, autoConnect: false });
    await expect(page.connect()).rejects.toMatchObject({ code: 'NOT_STELAR', status: 200, fatal: true, message: expect.stringContaining('HTTP 200 OK (<h1>an ordinary page</h1>) instead of switching protocols') });
    const { tcpPort } = await startServer();
    const wrongScheme = client(`ws://127.0.0.1:${tcpPort}/`, { reconnect: true, autoConnect: false });
    await expect(wrongScheme.connect()).rejects.toMatchObject({ code: 'NOT_STELAR', fatal: true, message: expect.stringContaining('its answer is not HTTP') });
    expect(app.sockets()).toBe(1);
  });

  it('a WebSocket server that is not Stelar: a text message, or a binary frame other than CONNECT or ERROR, before the session', async () => {
    const text = await foreignWebSocket(wsFrame(0x1, Buffer.from('{"type":"hello"}')));
    const chatty = await foreignWebSocket(wsFrame(0x2, encodeJson('welcome', 1).subarray(4)));
    const a = client(`ws://127.0.0.1:${text}/`, { reconnect: true, autoConnect: false });
    const b = client(`ws://127.0.0.1:${chatty}/`, { reconnect: true, autoConnect: false });
    const [ea, eb] = await Promise.all([a.connect().catch((e: unknown) => e), b.connect().catch((e: unknown) => e)]);
    expect(ea).toMatchObject({ code: 'NOT_STELAR', message: expect.stringMatching(/^not a Stelar server: its first bytes are not a Stelar frame \(/) });
    expect(eb).toMatchObject({ code: 'NOT_STELAR', message: 'not a Stelar server: its first frame is JSON, not CONNECT or ERROR' });
    expect([a.state, b.state]).toEqual(['disconnected', 'disconnected']);
  });
});
