import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { encodeError, encodeFrame, encodeDisconnect, FrameDecoder, FrameType, type Frame } from '@stelar/codec-tcp';
import { ClientEngine, type Dialer, type Link } from '@stelar/core/client';
import { linkOf } from '@stelar/core/internal';
import { dialTcp, dialWebSocket } from '@stelar/transport-node';
import { AuthError } from '@stelar/server';
import { DialError } from '../src/index';
import { client, freePort, onCleanup, rawTcpServer, recordStates, SCHEMES, selfSigned, startServer, tick, until, useFixtures, type Client } from './helpers';

useFixtures();

/** Every lifecycle notification of a client, in order. */
function recordAll(c: Client): string[] {
  const log: string[] = [];
  c.onLifecycle('state', (s) => void log.push(`state:${s}`));
  c.onLifecycle('connected', () => void log.push('connected'));
  c.onLifecycle('disconnected', () => void log.push('disconnected'));
  c.onLifecycle('reconnecting', () => void log.push('reconnecting'));
  c.onLifecycle('reconnect_failed', () => void log.push('reconnect_failed'));
  return log;
}

describe('connect errors', () => {
  it.each(['tcp', 'ws'] as const)('a refused port over %s is retried, then reconnect_failed after maxAttempts and connect() rejects', async (scheme) => {
    const port = await freePort();
    const c = client(`${scheme}://127.0.0.1:${port}/`, { autoConnect: false, reconnect: { baseDelay: 5, maxDelay: 10, maxAttempts: 3 } });
    const attempts: number[] = [];
    c.onLifecycle('reconnecting', ({ attempt, delay }) => {
      attempts.push(attempt);
      expect(delay).toBeLessThanOrEqual(10);
    });
    const failed = new Promise<{ attempts: number; error: unknown }>((r) => c.onLifecycle('reconnect_failed', r));
    const states = recordStates(c);
    const err = await c.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DialError);
    expect(err).toMatchObject({ code: 'ECONNREFUSED', fatal: false });
    expect(attempts).toEqual([1, 2, 3]);
    await expect(failed).resolves.toMatchObject({ attempts: 3, error: err });
    expect(states[0]).toBe('connecting');
    expect(states.at(-1)).toBe('disconnected');
    expect(c.state).toBe('disconnected');
    // A later connect() starts over with a fresh attempt budget.
    attempts.length = 0;
    await expect(c.connect()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('reconnect: false gives up after the first failure', async () => {
    const port = await freePort();
    const c = client(`tcp://127.0.0.1:${port}`, { autoConnect: false });
    const log = recordAll(c);
    await expect(c.connect()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(log).toEqual(['state:connecting', 'state:disconnected']);
  });

  it('connectTimeout bounds a server that accepts the socket but never answers CONNECT, then retries', async () => {
    const { port, sessions } = await rawTcpServer(() => undefined);
    const c = client(`tcp://127.0.0.1:${port}`, { connectTimeout: 100, autoConnect: false, reconnect: { baseDelay: 1, maxDelay: 5, maxAttempts: 1 } });
    const started = Date.now();
    await expect(c.connect()).rejects.toBeInstanceOf(Error);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190); // two attempts of 100 ms
    expect(Date.now() - started).toBeLessThan(2000);
    expect(sessions).toHaveLength(2);
    expect(sessions.map((s) => s.frames.map((f) => f.type))).toEqual([[FrameType.CONNECT], [FrameType.CONNECT]]);
    await until(() => sessions.every((s) => s.socket.destroyed), 'sockets closed by the client');
  });

  it.each(['tls', 'ws'] as const)('connectTimeout rejects with TIMEOUT when the %s handshake never completes', async (scheme) => {
    // A TCP server that accepts and then says nothing: no TLS ServerHello, no HTTP 101.
    const { port, sessions } = await rawTcpServer('ignore everything');
    const c = client(`${scheme}://127.0.0.1:${port}/`, { connectTimeout: 100, autoConnect: false });
    const log = recordAll(c);
    await expect(c.connect()).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining('100 ms') });
    expect(log).toEqual(['state:connecting', 'state:disconnected']);
    await until(() => sessions.length === 1 && sessions[0]!.socket.destroyed, 'the socket to be closed');
  });

  // The connect timer may fire after the transport is open (waiting for the server's CONNECT):
  // the attempt still ends with TIMEOUT, and no `disconnected` for a session that never opened.
  it('connectTimeout rejects with TIMEOUT when the server never answers CONNECT', async () => {
    const { port } = await rawTcpServer(() => undefined);
    const c = client(`tcp://127.0.0.1:${port}`, { connectTimeout: 100, autoConnect: false });
    const log = recordAll(c);
    await expect(c.connect()).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(log).toEqual(['state:connecting', 'state:disconnected']);
  });

  describe.each(SCHEMES)('over %s://', (scheme) => {
    const secure = scheme === 'wss' || scheme === 'tls';

    it('connection middleware throwing AuthError rejects with UNAUTHORIZED and never reconnects', async () => {
      const seen: unknown[] = [];
      const { server, url } = await startServer({ secure }, (s) =>
        s.use(async (conn, next) => {
          seen.push(conn.auth);
          if ((conn.auth as { token?: string } | undefined)?.token !== 'secret') throw new AuthError('bad token');
          await next();
        }),
      );
      const bad = client(url(scheme), { auth: { token: 'nope' }, reconnect: { baseDelay: 1, maxDelay: 5 }, autoConnect: false });
      const log = recordAll(bad);
      await expect(bad.connect()).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: 'bad token' });
      await tick(50);
      // A refusal ends the client: a final `disconnected` (willReconnect: false), no `reconnecting`.
      expect(log).toEqual(['state:connecting', 'state:disconnected', 'disconnected']);
      expect(seen).toEqual([{ token: 'nope' }]);
      expect(server.getStats().connections.rejected).toBe(1);
      // `auth` reaches conn.auth; a function is called before every connection.
      let calls = 0;
      const good = client(url(scheme), { auth: () => ({ token: 'secret', n: ++calls }) });
      await good.connect();
      expect(server.getConnection(good.id!)!.auth).toEqual({ token: 'secret', n: 1 });
    });

    it('a refusal on a reconnection (credentials expired) stops reconnecting too', async () => {
      let allow = true;
      const { server, url } = await startServer({ secure }, (s) =>
        s.use(async (_conn, next) => {
          if (!allow) throw new AuthError('token expired');
          await next();
        }),
      );
      const c = client(url(scheme), { reconnect: { baseDelay: 1, maxDelay: 5 } });
      await c.connect();
      const disconnected: { code: number; willReconnect: boolean }[] = [];
      c.onLifecycle('disconnected', (i) => void disconnected.push(i));
      allow = false;
      linkOf(server.getConnection(c.id!)!).terminate();
      await until(() => c.state === 'disconnected');
      expect(disconnected).toEqual([
        { code: 1006, reason: '', willReconnect: true },
        { code: 4001, reason: 'token expired', willReconnect: false },
      ]);
      await tick(30);
      expect(server.getStats().connections.rejected).toBe(1);
    });

    it('a server that does not speak the client protocol version refuses with VERSION_MISMATCH; the client stops', async () => {
      // The engine always sends v: 1; this dialer rewrites its CONNECT to v: 2, as a future client would.
      const { server, url } = await startServer({ secure });
      const tlsOptions = secure ? { ca: selfSigned().cert } : {};
      const inner: Dialer = scheme.startsWith('w') ? dialWebSocket(url(scheme), tlsOptions) : dialTcp(url(scheme), tlsOptions);
      let dials = 0;
      const dialer: Dialer = async (handler, signal) => {
        dials++;
        return speakVersion2(await inner(handler, signal));
      };
      const engine = new ClientEngine(dialer, { reconnect: { baseDelay: 1, maxDelay: 5 }, heartbeat: false });
      onCleanup(() => engine.close());
      await expect(engine.connect()).rejects.toMatchObject({ code: 'VERSION_MISMATCH', message: expect.stringContaining('version 2') });
      await tick(30);
      expect(dials).toBe(1);
      expect(engine.state).toBe('disconnected');
      expect(server.getStats().errors['VERSION_MISMATCH']).toBe(1);
    });
  });

  it('raw TCP: CONNECT with v: 2 is answered ERROR VERSION_MISMATCH then DISCONNECT 4002', async () => {
    const { tcpPort } = await startServer();
    const socket = net.connect(tcpPort, '127.0.0.1');
    const frames: Frame[] = [];
    const dec = new FrameDecoder((f) => void frames.push({ ...f, payload: f.payload.slice() }));
    socket.on('data', (c) => dec.push(c));
    const ended = new Promise((r) => socket.on('close', r));
    socket.write(encodeFrame(FrameType.CONNECT, '', new TextEncoder().encode('{"v":2}')));
    await ended;
    const text = (f: Frame): unknown => JSON.parse(new TextDecoder().decode(f.payload));
    expect(frames.map((f) => f.type)).toEqual([FrameType.ERROR, FrameType.DISCONNECT]);
    expect(text(frames[0]!)).toMatchObject({ code: 'VERSION_MISMATCH' });
    expect(text(frames[1]!)).toMatchObject({ code: 4002 });
  });

  it('a (foreign) server refusing with VERSION_MISMATCH over TCP stops a StelarClient', async () => {
    const { port, sessions } = await rawTcpServer((s, f) => {
      if (f.type !== FrameType.CONNECT) return;
      s.send(encodeError('VERSION_MISMATCH', 'this server speaks v3'));
      s.send(encodeDisconnect(4002, 'this server speaks v3'));
      s.socket.end();
    });
    const c = client(`tcp://127.0.0.1:${port}`, { reconnect: { baseDelay: 1, maxDelay: 5 } });
    await expect(c.connect()).rejects.toMatchObject({ code: 'VERSION_MISMATCH', message: 'this server speaks v3' });
    await tick(30);
    expect(sessions).toHaveLength(1);
  });

  it('a WebSocket upgrade answered 403 (origin not allowed) rejects with the status and is not retried', async () => {
    let upgrades = 0;
    const { server, url } = await startServer({ ws: { allowOrigins: ['https://app.example'] } });
    server.http!.on('upgrade', () => void upgrades++);
    const c = client(url('ws'), { origin: 'https://evil.example', reconnect: { baseDelay: 1, maxDelay: 5 }, autoConnect: false });
    const log = recordAll(c);
    const err = await c.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DialError);
    expect(err).toMatchObject({ code: 'WS_UPGRADE_REFUSED', status: 403, fatal: true });
    expect((err as Error).message).toMatch(/HTTP 403/);
    await tick(30);
    expect(upgrades).toBe(1);
    expect(log).toEqual(['state:connecting', 'state:disconnected', 'disconnected']);
    // The allowed origin gets in.
    const ok = client(url('ws'), { origin: 'https://app.example' });
    await ok.connect();
    expect(server.getConnection(ok.id!)!.upgradeRequest!.headers['origin']).toBe('https://app.example');
  });

  it('a WebSocket upgrade on a path the server does not serve is refused, not retried', async () => {
    const { url } = await startServer({ ws: { path: '/stelar' } });
    const c = client(url('ws').replace(/\/$/, '/elsewhere'), { reconnect: { baseDelay: 1, maxDelay: 5 }, autoConnect: false });
    const err = await c.connect().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'WS_UPGRADE_REFUSED', fatal: true });
    expect((err as DialError).status).toBeGreaterThanOrEqual(400);
    expect(c.state).toBe('disconnected');
  });

  describe.each(['wss', 'tls'] as const)('TLS over %s://', (scheme) => {
    it('a certificate the client does not trust rejects, fatal, without retrying', async () => {
      let sockets = 0;
      const { server, url } = await startServer({ secure: true });
      const httpsServer = scheme === 'wss' ? server.http! : undefined;
      httpsServer?.on('connection', () => void sockets++);
      const c = client(url(scheme), { reconnect: { baseDelay: 1, maxDelay: 5 }, autoConnect: false }, { trust: false });
      const log = recordAll(c);
      const err = await c.connect().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DialError);
      expect(err).toMatchObject({ fatal: true, code: expect.stringMatching(/SELF_SIGNED|UNABLE_TO_VERIFY/) });
      expect((err as Error).message).toMatch(/TLS certificate refused/);
      await tick(30);
      expect(log).toEqual(['state:connecting', 'state:disconnected', 'disconnected']);
      if (httpsServer) expect(sockets).toBe(1);
    });

    it('a name the certificate does not cover is refused; servername and rejectUnauthorized: false are honoured', async () => {
      const { url } = await startServer({ secure: true });
      const wrongName = client(url(scheme), { servername: 'other.example', autoConnect: false });
      await expect(wrongName.connect()).rejects.toMatchObject({ fatal: true, code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
      const named = client(url(scheme), { servername: 'localhost' });
      await named.connect();
      const insecure = client(url(scheme), { rejectUnauthorized: false }, { trust: false });
      await insecure.connect();
      expect(insecure.connected && named.connected).toBe(true);
    });
  });
});

/** Wraps a link so that its first CONNECT announces protocol version 2. */
function speakVersion2(link: Link): Link {
  return {
    get transport() {
      return link.transport;
    },
    get remoteAddress() {
      return link.remoteAddress;
    },
    get bufferedAmount() {
      return link.bufferedAmount;
    },
    send(frame, volatile) {
      const isConnect = frame[4] === FrameType.CONNECT;
      return link.send(isConnect ? encodeFrame(FrameType.CONNECT, '', new TextEncoder().encode('{"v":2}')) : frame, volatile);
    },
    ping: () => link.ping(),
    close: (code, reason) => link.close(code, reason),
    terminate: () => link.terminate(),
    pause: () => link.pause(),
    resume: () => link.resume(),
  };
}
