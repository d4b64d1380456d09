import { encodeClientConnect, encodeFrame, FrameType, parseErrorBody, parseServerHello, PROTOCOL_VERSION } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import { AuthError, StelarError } from '../src/index';
import { useHubs } from './fixtures';
import { tick, until } from './memory-link';

const setup = useHubs();

describe('handshake (CONNECT)', () => {
  it('answers CONNECT with the session id, heartbeat and frame limit; the client’s auth is on the connection', async () => {
    const { hub, raw, nextConnection } = setup({ heartbeat: { interval: 1234 }, maxFrameSize: 4096 });
    const seen: unknown[] = [];
    hub.use(async (conn, next) => {
      seen.push(conn.auth);
      await next();
    });
    const connected = nextConnection();
    const r = raw();
    r.hello({ token: 't' });
    const conn = await connected;
    await until(() => r.frames.length === 1);
    expect(r.frames[0]!.type).toBe(FrameType.CONNECT);
    expect(parseServerHello(r.frames[0]!.payload)).toMatchObject({ v: PROTOCOL_VERSION, id: conn.id, heartbeat: 1234, maxFrame: 4096 });
    expect(seen).toEqual([{ token: 't' }]);
    expect(conn.auth).toEqual({ token: 't' });
    expect(hub.getStats().connections).toMatchObject({ open: 1, opening: 0, total: 1 });
  });

  it('connection middleware refuses with AuthError (ERROR UNAUTHORIZED, 4001), by not calling next, or with VERSION_MISMATCH (4002)', async () => {
    const { hub, raw } = setup();
    hub.use(async (conn, next) => {
      if (conn.auth === 'bad') throw new AuthError('bad token');
      if (conn.auth === 'old') throw new StelarError('VERSION_MISMATCH', 'too old');
      if (conn.auth === 'silent') return;
      await next();
    });
    const cases = [
      ['bad', 'UNAUTHORIZED', 'bad token', 4001],
      ['old', 'VERSION_MISMATCH', 'too old', 4002],
      ['silent', 'UNAUTHORIZED', 'refused by connection middleware', 4001],
    ] as const;
    for (const [auth, code, message, close] of cases) {
      const r = raw();
      r.hello(auth);
      await until(() => r.closed.code !== undefined);
      expect(parseErrorBody(r.frames[0]!.payload)).toEqual({ code, message });
      expect(r.closed.code).toBe(close);
    }
    expect(hub.getStats().connections).toMatchObject({ open: 0, opening: 0, rejected: 3 });
  });

  it('a crash in connection middleware is a server error, not a refusal: ERROR INTERNAL_ERROR (no message), close 1011, reported to onError', async () => {
    const { hub, raw } = setup();
    const errors: unknown[] = [];
    hub.onError((err) => void errors.push(err));
    hub.use(async (conn, next) => {
      if (conn.auth === 'crash') throw new Error('redis at 10.0.0.7 refused: password hunter2');
      if (conn.auth === 'typed') throw new StelarError('BANNED_TODAY', 'come back tomorrow');
      await next();
    });
    const crash = raw();
    crash.hello('crash');
    await until(() => crash.closed.code !== undefined);
    expect(parseErrorBody(crash.frames[0]!.payload)).toEqual({ code: 'INTERNAL_ERROR', message: 'internal server error' });
    expect(crash.closed).toEqual({ code: 1011, reason: 'internal server error' });
    expect(errors.map((e) => (e as Error).message)).toEqual(['redis at 10.0.0.7 refused: password hunter2']);
    // A StelarError that is not AuthError is shown to the client (it is the application's) but is no refusal either.
    const typed = raw();
    typed.hello('typed');
    await until(() => typed.closed.code !== undefined);
    expect(parseErrorBody(typed.frames[0]!.payload)).toEqual({ code: 'BANNED_TODAY', message: 'come back tomorrow' });
    expect(typed.closed.code).toBe(1011);
    expect(hub.getStats().errors).toMatchObject({ INTERNAL_ERROR: 1, BANNED_TODAY: 1 });
  });

  it('the client engine retries after 1011 (even on its first connect) and stops for good after 4001', async () => {
    const { hub, client } = setup();
    let calls = 0;
    hub.use(async (conn, next) => {
      calls++;
      if (conn.auth === 'denied') throw new AuthError('no');
      if (calls === 1) throw new Error('cache not warm yet');
      await next();
    });
    const c = client({ auth: 'ok', reconnect: { baseDelay: 1, maxDelay: 5 } });
    const seen: string[] = [];
    c.onLifecycle('reconnecting', () => void seen.push('reconnecting'));
    await c.connect();
    expect(calls).toBe(2);
    expect(seen).toEqual(['reconnecting']);
    c.close();
    const denied = client({ auth: 'denied', reconnect: { baseDelay: 1, maxDelay: 5 } });
    await expect(denied.connect()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    expect(calls).toBe(3);
    expect(denied.state).toBe('disconnected');
  });

  it('exposeErrors: true sends the message of a middleware crash (still INTERNAL_ERROR, still 1011)', async () => {
    const { hub, raw } = setup({ exposeErrors: true });
    hub.onError(() => undefined);
    hub.use(async () => {
      throw new Error('config key "db.url" missing');
    });
    const r = raw();
    r.hello();
    await until(() => r.closed.code !== undefined);
    expect(parseErrorBody(r.frames[0]!.payload)).toEqual({ code: 'INTERNAL_ERROR', message: 'config key "db.url" missing' });
    expect(r.closed.code).toBe(1011);
  });

  it('another protocol version is refused (4002); a second CONNECT is a protocol error (1002)', async () => {
    const { hub, raw } = setup();
    const old = raw();
    old.send(encodeFrame(FrameType.CONNECT, '', new TextEncoder().encode(JSON.stringify({ v: PROTOCOL_VERSION + 1 }))));
    await until(() => old.closed.code !== undefined);
    expect(old.closed.code).toBe(4002);
    expect(parseErrorBody(old.frames[0]!.payload).code).toBe('VERSION_MISMATCH');
    const twice = raw();
    twice.hello();
    twice.send(encodeClientConnect(undefined));
    await until(() => twice.closed.code !== undefined);
    expect(twice.closed.code).toBe(1002);
    expect(hub.getStats().errors['PROTOCOL']).toBe(1);
  });

  it('a client gone while middleware runs is not accepted afterwards', async () => {
    const { hub, raw } = setup();
    let release!: () => void;
    hub.use(async (_c, next) => {
      await new Promise<void>((r) => (release = r));
      await next();
    });
    const accepted: string[] = [];
    hub.onConnection((c) => void accepted.push(c.id));
    const r = raw();
    r.hello();
    await until(() => release !== undefined);
    r.link.close(1000, 'leaving');
    await until(() => hub.getStats().connections.opening === 0);
    release();
    await tick(5);
    expect(accepted).toEqual([]);
    expect(hub.getStats().connections.open).toBe(0);
  });
});
