import * as http from 'node:http';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type StelarClient } from '@stelar/client-node';
import { encodeFrame, encodeJson, FrameType } from '@stelar/codec-tcp';
import { AuthError, createServer, type ServerOptions, type StelarServer } from '../src/index';
import { RawTcpPeer, tick, until } from './helpers';

type Events = {
  chat: (m: { from: string; text: string }) => void;
  image: (png: Uint8Array) => void;
  sum: (a: { a: number; b: number }) => number;
  slow: (ms: number) => string;
  confirm: (q: string) => boolean;
  connect: (x: string) => string;
  disconnect: (x: string) => string;
};

const servers: StelarServer<Events>[] = [];
const clients: StelarClient<Events>[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close({ timeout: 500 });
});

async function start(options: ServerOptions = {}) {
  const server = createServer<Events>({ port: 0, tcpPort: 0, host: '127.0.0.1', heartbeat: false, ...options });
  servers.push(server);
  server.on('sum', ({ a, b }) => a + b);
  server.on('chat', (m, conn) => server.to('lobby').except(conn).emit('chat', m));
  server.on('image', (png, conn) => conn.to('lobby').emit('image', png));
  server.on('connect', (x) => `event:${x}`);
  server.on('disconnect', (x) => `event:${x}`);
  const { port, tcpPort } = await server.listen();
  const client = (scheme: 'ws' | 'tcp', opts: Parameters<typeof connect>[1] = {}) => {
    const c = connect<Events>(scheme === 'ws' ? `ws://127.0.0.1:${port}/` : `tcp://127.0.0.1:${tcpPort}`, { reconnect: false, heartbeat: false, ...opts });
    clients.push(c);
    return c;
  };
  return { server, port: port!, tcpPort: tcpPort!, client };
}

describe('one application layer over WebSocket and TCP', () => {
  it('a WebSocket peer and a TCP peer share a room and exchange JSON and binary', async () => {
    const { server, client } = await start();
    server.onConnection((conn) => conn.join('lobby'));
    const browser = client('ws');
    const service = client('tcp');
    await Promise.all([browser.connect(), service.connect()]);
    const toService: unknown[] = [];
    const toBrowser: unknown[] = [];
    service.on('chat', (m) => void toService.push(m));
    service.on('image', (b) => void toService.push([...b]));
    browser.on('chat', (m) => void toBrowser.push(m));
    browser.on('image', (b) => void toBrowser.push([...b]));
    browser.emit('chat', { from: 'web', text: 'hi service' });
    service.emit('chat', { from: 'tcp', text: 'hi browser' });
    browser.emit('image', new Uint8Array([137, 80, 78, 71]));
    service.emit('image', new Uint8Array([0, 255]));
    await until(() => toService.length === 2 && toBrowser.length === 2);
    expect(toService).toEqual([{ from: 'web', text: 'hi service' }, [137, 80, 78, 71]]);
    expect(toBrowser).toEqual([{ from: 'tcp', text: 'hi browser' }, [0, 255]]);
    expect(server.getStats().connections.byTransport).toMatchObject({ ws: 1, tcp: 1 });
  });

  it('requests both ways on both transports; event names like lifecycle hooks are ordinary events', async () => {
    const { server, client } = await start();
    const conns: Parameters<Parameters<typeof server.onConnection>[0]>[0][] = [];
    server.onConnection((c) => void conns.push(c));
    for (const scheme of ['ws', 'tcp'] as const) {
      const c = client(scheme);
      c.on('confirm', (q) => q === 'ok?');
      await c.connect();
      await expect(c.request('sum', { a: 20, b: 22 })).resolves.toBe(42);
      await expect(c.request('connect', 'x')).resolves.toBe('event:x');
      await expect(c.request('disconnect', 'y')).resolves.toBe('event:y');
      expect(c.state).toBe('connected');
    }
    await until(() => conns.length === 2);
    for (const conn of conns) await expect(conn.request('confirm', 'ok?', { timeout: 2000 })).resolves.toBe(true);
  });

  it('refuses a bad token with UNAUTHORIZED on both transports, and keeps serving others', async () => {
    const { server, client } = await start();
    server.use(async (conn, next) => {
      if ((conn.auth as { token?: string } | undefined)?.token !== 'secret') throw new AuthError('bad token');
      await next();
    });
    for (const scheme of ['ws', 'tcp'] as const) {
      const bad = client(scheme, { auth: { token: 'nope' }, reconnect: true });
      await expect(bad.connect()).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: 'bad token' });
    }
    const good = client('tcp', { auth: { token: 'secret' } });
    await good.connect();
    await expect(good.request('sum', { a: 1, b: 1 })).resolves.toBe(2);
    await until(() => server.getStats().connections.opening === 0);
    expect(server.getStats().connections.rejected).toBe(2);
  });
});

describe('bad input', () => {
  it('garbage bytes on TCP get ERROR + DISCONNECT 1002; others are unaffected; counts return to zero', async () => {
    const { server, tcpPort, client } = await start();
    const good = client('ws');
    await good.connect();
    const raw = await RawTcpPeer.open(tcpPort);
    raw.write(Buffer.from([0, 0, 0, 9, 0x42, 0, 0, 1, 2]));
    await until(() => raw.closed);
    const types = raw.frames.map((f) => f.type);
    expect(types).toEqual([FrameType.ERROR, FrameType.DISCONNECT]);
    expect(JSON.parse(raw.text(raw.frames[0]!))).toMatchObject({ code: 'BAD_TYPE' });
    expect(JSON.parse(raw.text(raw.frames[1]!))).toMatchObject({ code: 1002 });
    await expect(good.request('sum', { a: 1, b: 2 })).resolves.toBe(3);
    good.close();
    await until(() => server.getStats().connections.open === 0 && server.getStats().connections.opening === 0);
  });

  it('an oversize frame is refused from its header with 1009', async () => {
    const { tcpPort } = await start({ maxFrameSize: 1024 });
    const raw = await RawTcpPeer.open(tcpPort);
    await raw.hello();
    const big = encodeJson('chat', { from: 'x', text: 'y'.repeat(2000) });
    raw.write(big.subarray(0, 16)); // only the header: refused before the rest arrives
    await until(() => raw.closed);
    const last = raw.frames.at(-1)!;
    expect(last.type).toBe(FrameType.DISCONNECT);
    expect(JSON.parse(raw.text(last))).toMatchObject({ code: 1009 });
  });

  it('invalid UTF-8 in an event name is a protocol error; frames before CONNECT too', async () => {
    const { tcpPort } = await start();
    const raw = await RawTcpPeer.open(tcpPort);
    await raw.hello();
    raw.write(Buffer.from([0, 0, 0, 9, 0x01, 0, 2, 0xc0, 0x80]));
    await until(() => raw.closed);
    expect(JSON.parse(raw.text(raw.frames.find((f) => f.type === FrameType.ERROR)!))).toMatchObject({ code: 'BAD_UTF8' });
    const early = await RawTcpPeer.open(tcpPort);
    early.write(encodeJson('chat', {}));
    await until(() => early.closed);
    expect(JSON.parse(early.text(early.frames.at(-1)!))).toMatchObject({ code: 1002 });
  });

  it('bad JSON keeps the connection and answers BAD_JSON', async () => {
    const { tcpPort } = await start();
    const raw = await RawTcpPeer.open(tcpPort);
    await raw.hello();
    raw.write(encodeFrame(FrameType.JSON, 'chat', new TextEncoder().encode('{nope')));
    await until(() => raw.frames.length === 2);
    expect(JSON.parse(raw.text(raw.frames[1]!))).toMatchObject({ code: 'BAD_JSON' });
    expect(raw.closed).toBe(false);
    raw.destroy();
  });

  it('rate limit and room limit answer their codes over real sockets', async () => {
    const { client } = await start({ rateLimit: { events: { sum: { rate: 1, burst: 2 } } }, maxRoomsPerConnection: 1 });
    const c = client('ws');
    await c.connect();
    await c.request('sum', { a: 1, b: 1 });
    await c.request('sum', { a: 1, b: 1 });
    await expect(c.request('sum', { a: 1, b: 1 })).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    await c.join('one');
    await expect(c.join('two')).rejects.toMatchObject({ code: 'ROOM_LIMIT' });
    expect(c.state).toBe('connected');
  });

  it('WebSocket text messages close with 1003', async () => {
    const { port } = await start();
    const { WsConnection } = await import('@stelar/transport-node');
    expect(WsConnection).toBeTypeOf('function');
    // A minimal raw WebSocket client: upgrade, then one masked text frame "hi".
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    const chunks: Buffer[] = [];
    sock.on('data', (c) => chunks.push(c));
    await until(() => Buffer.concat(chunks).includes('\r\n\r\n'));
    sock.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]));
    const body = (): Buffer => {
      const all = Buffer.concat(chunks);
      return all.subarray(all.indexOf('\r\n\r\n') + 4);
    };
    // An ERROR frame (binary message) may come first; then the close frame with 1003.
    const closeAt = (): number => body().indexOf(0x88);
    await until(() => closeAt() >= 0 && body().length >= closeAt() + 4, 3000);
    expect(body().readUInt16BE(closeAt() + 2)).toBe(1003);
    sock.destroy();
  });
});

describe('listening, health, shutdown', () => {
  it('listen() rejects on a bind error, no port hopping', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const s = createServer({ tcpPort: port, host: '127.0.0.1' });
    await expect(s.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    const w = createServer({ port, host: '127.0.0.1' });
    await expect(w.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    blocker.close();
  });

  it('a TLS set-up error fails listen()', async () => {
    const s = createServer({ tcpPort: 0, host: '127.0.0.1', tls: { key: 'not a key', cert: 'not a cert' } });
    await expect(s.listen()).rejects.toThrow();
  });

  it('health, readiness and metrics are opt-in and never touch other routes of your server', async () => {
    const mine = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`mine:${req.url}`);
    });
    await new Promise<void>((r) => mine.listen(0, '127.0.0.1', r));
    const port = (mine.address() as net.AddressInfo).port;
    const server = createServer<Events>({ server: mine, health: true, metrics: true, heartbeat: false });
    servers.push(server);
    await server.listen();
    const get = async (path: string) => {
      const r = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: r.status, body: await r.text() };
    };
    expect(await get('/healthz')).toMatchObject({ status: 200 });
    expect((await get('/readyz')).status).toBe(200);
    expect((await get('/metrics')).body).toContain('stelar_connections_total');
    expect(await get('/other')).toEqual({ status: 200, body: 'mine:/other' });
    const c = connect<Events>(`ws://127.0.0.1:${port}/`, { reconnect: false });
    clients.push(c);
    await c.connect();
    expect((await get('/metrics')).body).toMatch(/stelar_connections\{transport="ws"\} 1/);
    const closing = server.close({ timeout: 300 });
    await until(() => c.state === 'disconnected');
    await closing;
    expect(await get('/readyz')).toEqual({ status: 200, body: 'mine:/readyz' });
    await new Promise<void>((r) => mine.close(() => r()));
  });

  it('recovery is plumbed through createServer: a session whose socket dies is kept, shown in /metrics, and resumed', async () => {
    const { server, port } = await start({ recovery: { maxDisconnection: 5000 }, metrics: true });
    server.onConnection((conn) => conn.join('lobby'));
    const c = connect<Events>(`ws://127.0.0.1:${port}/`, { reconnect: { baseDelay: 300, maxDelay: 300 }, heartbeat: false });
    clients.push(c);
    await c.connect();
    const id = c.id!;
    const got: string[] = [];
    c.on('chat', (m) => void got.push(m.text));
    const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const { linkOf } = await import('@stelar/core/internal');
    linkOf(server.getConnection(id)!).terminate();
    await until(() => server.getStats().recovery!.absentSessions === 1);
    expect(await metrics()).toMatch(/stelar_recovery_absent_sessions 1\n/);
    server.to('lobby').emit('chat', { from: 'srv', text: 'while away' });
    await until(() => got.length === 1, 5000);
    expect(c.id).toBe(id);
    expect(got).toEqual(['while away']);
    expect(await metrics()).toMatch(/stelar_recovery_recovered_total 1\n/);
  });

  it('close() called twice (say by a signal handler and the app) is one shutdown both wait for', async () => {
    const { server, client } = await start();
    server.on('slow', async (ms) => {
      await tick(ms);
      return 'done';
    });
    const c = client('tcp');
    await c.connect();
    const reply = c.request('slow', 100);
    await until(() => server.getStats().acks.inFlightHandlers === 1);
    let firstDone = false;
    const first = server.close({ timeout: 2000 }).then(() => (firstDone = true));
    await server.close();
    expect(firstDone || server.getStats().connections.open === 0).toBe(true);
    await first;
    await expect(reply).resolves.toBe('done');
  });

  it('close(): requests in flight on both transports all receive their replies', async () => {
    const { server, client } = await start();
    server.on('slow', async (ms) => {
      await tick(ms);
      return `slept ${ms}`;
    });
    const ws = client('ws');
    const tcp = client('tcp');
    await Promise.all([ws.connect(), tcp.connect()]);
    const replies = Promise.all([ws.request('slow', 100), tcp.request('slow', 150), ws.request('slow', 50)]);
    await until(() => server.getStats().acks.inFlightHandlers === 3);
    const closed = server.close({ timeout: 3000 });
    await expect(replies).resolves.toEqual(['slept 100', 'slept 150', 'slept 50']);
    await closed;
    await until(() => ws.state === 'disconnected' && tcp.state === 'disconnected');
    expect(server.getStats().connections.open).toBe(0);
  });
});
