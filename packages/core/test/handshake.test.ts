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
