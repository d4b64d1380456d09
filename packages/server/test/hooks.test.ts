/**
 * The server's logger, hooks and errors over real sockets (issue 15 items 1, 2, 3, 7 and the
 * 3.x items): errors visible by default, DEBUG=stelar:*, lifecycle lines, onShutdown (with
 * handleSignals), onLimit for maxConnections / maxConnectionsPerIp, the health `ready` hook,
 * typed conn.data and counters on a StelarServer.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connect, type StelarClient } from '@stelar/client-node';
import { createServer, StelarError, type LimitEvent, type Logger, type LogLevel, type ServerOptions, type StelarServer } from '../src/index';
import { serverLogger } from '../src/server';
import { tick, until } from './helpers';

const servers: StelarServer[] = [];
const clients: StelarClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close({ timeout: 500 });
  vi.restoreAllMocks();
});

function recorder() {
  const lines: [LogLevel, string, Record<string, unknown>][] = [];
  const at = (level: LogLevel) => (fields: Record<string, unknown>, message: string) => void lines.push([level, message, fields]);
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { lines, logger };
}

async function start(options: ServerOptions = {}) {
  const server = createServer({ port: 0, tcpPort: 0, host: '127.0.0.1', heartbeat: false, ...options });
  servers.push(server);
  const { port, tcpPort } = await server.listen();
  const client = (scheme: 'ws' | 'tcp', opts: Parameters<typeof connect>[1] = {}) => {
    const c = connect(scheme === 'ws' ? `ws://127.0.0.1:${port}/` : `tcp://127.0.0.1:${tcpPort}`, { reconnect: false, heartbeat: false, ...opts });
    clients.push(c);
    return c;
  };
  return { server, port: port!, tcpPort: tcpPort!, client };
}

describe('errors are visible and safe by default', () => {
  it('no onError and no logger: a throwing handler prints through console.error (with the error), and the client gets INTERNAL_ERROR without the secret', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const { server, client } = await start();
    server.on('login', () => {
      throw new Error('db password hunter2 rejected');
    });
    for (const scheme of ['ws', 'tcp'] as const) {
      const c = client(scheme);
      await c.connect();
      const err = await c.request('login').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'INTERNAL_ERROR', message: 'internal server error' });
      expect(JSON.stringify(err)).not.toContain('hunter2');
    }
    expect(printed).toHaveBeenCalledTimes(2);
    expect(String(printed.mock.calls[0]![0])).toMatch(/^stelar:server the handler of request "login" failed conn=/);
    expect((printed.mock.calls[0]![1] as Error).message).toBe('db password hunter2 rejected');
  });

  it('the onError option and server.onError see the same errors; then nothing is printed', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const seen: string[] = [];
    const { server, client } = await start({ onError: (e) => void seen.push((e as Error).message) });
    server.on('boom', () => {
      throw new StelarError('OOPS', 'shown to the client');
    });
    server.on('crash', () => {
      throw new Error('not shown');
    });
    const c = client('tcp');
    await c.connect();
    await expect(c.request('boom')).rejects.toMatchObject({ code: 'OOPS', message: 'shown to the client' });
    await expect(c.request('crash')).rejects.toMatchObject({ code: 'INTERNAL_ERROR' });
    expect(seen).toEqual(['not shown']);
    expect(printed).not.toHaveBeenCalled();
  });

  it('exposeErrors: true passes the message (development), the code stays INTERNAL_ERROR', async () => {
    const { server, client } = await start({ exposeErrors: true, logger: false });
    server.on('read', () => {
      throw Object.assign(new Error("ENOENT: no such file or directory, open 'conf.json'"), { code: 'ENOENT' });
    });
    const c = client('ws');
    await c.connect();
    await expect(c.request('read')).rejects.toMatchObject({ code: 'INTERNAL_ERROR', message: "ENOENT: no such file or directory, open 'conf.json'" });
  });

  it('a crash in connection middleware: the client gets 1011 and reconnects (both transports); AuthError stops it with 4001', async () => {
    const { lines, logger } = recorder();
    const { server, client } = await start({ logger });
    const failOnce = new Set<string>();
    server.use(async (conn, next) => {
      const auth = conn.auth as { who: string };
      if (auth.who === 'intruder') throw new StelarError('UNAUTHORIZED', 'who are you');
      if (!failOnce.has(auth.who)) {
        failOnce.add(auth.who);
        throw new Error('session store timeout');
      }
      await next();
    });
    for (const scheme of ['ws', 'tcp'] as const) {
      const c = client(scheme, { auth: { who: scheme }, reconnect: { baseDelay: 10, maxDelay: 20 } });
      const codes: number[] = [];
      c.onLifecycle('reconnecting', () => void codes.push(0));
      await c.connect();
      expect(codes).toEqual([0]);
    }
    const bad = client('tcp', { auth: { who: 'intruder' }, reconnect: { baseDelay: 10, maxDelay: 20 } });
    await expect(bad.connect()).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: 'who are you' });
    expect(lines.filter((l) => l[0] === 'error').map((l) => [l[1], (l[2]['err'] as Error).message])).toEqual([
      ['connection middleware failed', 'session store timeout'],
      ['connection middleware failed', 'session store timeout'],
    ]);
  });
});

describe('logger and DEBUG', () => {
  it('serverLogger: the application’s logger wins; DEBUG=stelar:* or stelar:server switches debug lines on; else warn and error only', () => {
    const mine = recorder().logger;
    expect(serverLogger(mine, 'stelar:*')).toBe(mine);
    expect(serverLogger(false, 'stelar:*')).toBe(false);
    const out = vi.spyOn(console, 'debug').mockImplementation(() => undefined);
    (serverLogger(undefined, 'stelar:*') as Logger).debug({ conn: 'a' }, 'connection accepted');
    (serverLogger(undefined, 'other,stelar:server') as Logger).debug({}, 'x');
    (serverLogger(undefined, 'stelar:client') as Logger).debug({}, 'not shown');
    (serverLogger(undefined, undefined) as Logger).debug({}, 'not shown');
    expect(out.mock.calls).toEqual([['stelar:server connection accepted conn=a'], ['stelar:server x']]);
  });

  it('DEBUG read from the environment when the server is made: lifecycle lines on the console', async () => {
    const before = process.env['DEBUG'];
    process.env['DEBUG'] = 'stelar:*';
    const debug = vi.spyOn(console, 'debug').mockImplementation(() => undefined);
    const info = vi.spyOn(console, 'info').mockImplementation(() => undefined);
    try {
      const { server, client } = await start();
      const c = client('tcp');
      await c.connect();
      c.close();
      await until(() => debug.mock.calls.some((a) => String(a[0]).includes('connection closed')));
      await server.close({ timeout: 200 });
      const text = [...debug.mock.calls, ...info.mock.calls].map((a) => String(a[0]));
      expect(text).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^stelar:server listening port=\d+ tcpPort=\d+$/),
          expect.stringMatching(/^stelar:server connection accepted conn=\S+ transport=tcp remoteAddress=127\.0\.0\.1$/),
          expect.stringMatching(/^stelar:server connection closed conn=\S+ code=1000 opened=true$/),
          expect.stringMatching(/^stelar:server drain started connections=0 timeout=200$/),
          expect.stringMatching(/^stelar:server closed graceful=true$/),
        ]),
      );
    } finally {
      if (before === undefined) delete process.env['DEBUG'];
      else process.env['DEBUG'] = before;
    }
  });

  it('a pino-style logger gets listening at info, connections at debug, drain at info, in that order', async () => {
    const { lines, logger } = recorder();
    const { server, client } = await start({ logger });
    const c = client('ws');
    await c.connect();
    await server.close({ timeout: 300 });
    const seq = lines.map(([level, msg]) => `${level} ${msg}`);
    expect(seq).toEqual(['info listening', 'debug connection accepted', 'info drain started', 'debug connection closed', 'info drain finished', 'info closed']);
    expect(lines[3]![2]).toMatchObject({ code: 1001 });
  });
});

describe('hooks', () => {
  it('onShutdown: runs after the drain with { signal, graceful }, in order, each awaited; a hook that throws is reported and the next runs', async () => {
    const errors: string[] = [];
    const { server, client } = await start({ onError: (e) => void errors.push((e as Error).message) });
    const order: string[] = [];
    server.onShutdown(async (info) => {
      order.push(`db ${JSON.stringify(info)} open=${server.getStats().connections.open}`);
      await tick(20);
      order.push('db closed');
    });
    server.onShutdown(() => {
      throw new Error('flush failed');
    });
    server.onShutdown(() => void order.push('last'));
    const c = client('tcp');
    await c.connect();
    await server.close({ timeout: 500 });
    expect(order).toEqual(['db {"graceful":true} open=0', 'db closed', 'last']);
    expect(errors).toEqual(['flush failed']);
  });

  it('onShutdown: close() waits for hooks at most its timeout, then goes on and reports it', async () => {
    const errors: string[] = [];
    const { server } = await start({ onError: (e) => void errors.push((e as Error).message) });
    server.onShutdown(() => new Promise(() => undefined));
    const t0 = Date.now();
    await server.close({ timeout: 100 });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(errors).toEqual(['onShutdown hooks still running after 100 ms; close() goes on without them']);
  });

  it('handleSignals: SIGTERM closes the server, then the hooks get the signal; the process is not exited', async () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const { server, client } = await start({ handleSignals: { timeout: 300 }, logger: false });
    const got = new Promise<unknown>((resolve) => server.onShutdown((info) => resolve(info)));
    const c = client('ws');
    await c.connect();
    // The listener Stelar installed, called as Node would on a real SIGTERM (no real signal: it would reach the test runner).
    process.emit('SIGTERM', 'SIGTERM');
    expect(await got).toEqual({ signal: 'SIGTERM', graceful: true });
    await until(() => c.state === 'disconnected');
    expect(exit).not.toHaveBeenCalled();
    expect(process.listeners('SIGTERM').length).toBe(0);
  });

  it('onLimit: maxConnections and maxConnectionsPerIp refusals, with the address and the limit', async () => {
    const events: LimitEvent[] = [];
    const { server, client } = await start({ maxConnections: 1, logger: false });
    server.onLimit((e) => void events.push(e));
    const a = client('tcp');
    await a.connect();
    const b = client('ws');
    await expect(b.connect()).rejects.toBeDefined();
    const c = client('tcp');
    await expect(c.connect()).rejects.toBeDefined();
    expect(events).toEqual([
      { reason: 'maxConnections', limit: 1, remoteAddress: '127.0.0.1' },
      { reason: 'maxConnections', limit: 1, remoteAddress: '127.0.0.1' },
    ]);
    const perIp = await start({ maxConnectionsPerIp: 1, logger: false });
    const ipEvents: LimitEvent[] = [];
    perIp.server.onLimit((e) => void ipEvents.push(e));
    await perIp.client('ws').connect();
    await expect(perIp.client('ws').connect()).rejects.toBeDefined();
    expect(ipEvents).toEqual([{ reason: 'maxConnectionsPerIp', limit: 1, remoteAddress: '127.0.0.1' }]);
  });

  it('health.ready: the application’s verdict on /readyz (false, a throw, a rejection or too slow: 503); /healthz is untouched', async () => {
    let verdict: () => boolean | Promise<boolean> = () => true;
    const errors: string[] = [];
    const { port } = await start({ health: { ready: () => verdict(), readyTimeout: 100 }, onError: (e) => void errors.push((e as Error).message) });
    const ready = async () => {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      return [r.status, ((await r.json()) as { status: string }).status];
    };
    expect(await ready()).toEqual([200, 'ready']);
    verdict = () => false;
    expect(await ready()).toEqual([503, 'not ready']);
    verdict = async () => {
      await tick(5);
      return true;
    };
    expect(await ready()).toEqual([200, 'ready']);
    verdict = () => {
      throw new Error('db down');
    };
    expect(await ready()).toEqual([503, 'not ready']);
    verdict = () => Promise.reject(new Error('cache down'));
    expect(await ready()).toEqual([503, 'not ready']);
    verdict = () => new Promise(() => undefined);
    const t0 = Date.now();
    expect(await ready()).toEqual([503, 'not ready']);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(errors).toEqual(['db down', 'cache down']);
  });

  it('typed conn.data and per-connection counters on a StelarServer; getRooms()', async () => {
    type Data = { name: string };
    const server = createServer<{ hi: (x: number) => number }, { hi: (x: number) => number }, Data>({ tcpPort: 0, host: '127.0.0.1', heartbeat: false, logger: false });
    servers.push(server as unknown as StelarServer);
    server.use(async (conn, next) => {
      conn.data.name = String(conn.auth);
      await next();
    });
    server.on('hi', (x, conn) => {
      const name: string = conn.data.name;
      void conn.join(name);
      return x + 1;
    });
    const { tcpPort } = await server.listen();
    const c = connect(`tcp://127.0.0.1:${tcpPort}`, { auth: 'ann', reconnect: false, heartbeat: false });
    clients.push(c);
    await c.connect();
    expect(await c.request('hi', 1)).toBe(2);
    const conn = [...server.connections.values()][0]!;
    expect(conn.data.name).toBe('ann');
    expect([conn.messagesIn, conn.messagesOut]).toEqual([2, 2]);
    expect(conn.lastSeen).toBeGreaterThanOrEqual(conn.connectedAt);
    expect(server.getRooms()).toEqual(new Map([['ann', 1]]));
  });
});
