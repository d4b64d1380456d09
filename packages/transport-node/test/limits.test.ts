import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeBinary, encodeJson, FrameDecoder, parseDisconnect, type Frame } from '@stelar/codec-tcp';
import { SendStatus } from '@stelar/core/internal';
import { sleep, until } from '@stelar/test-utils';
import { attachWebSocket, ConnectionLimits, dialTcp, dialWebSocket, listenTcp } from '../src/index';
import { dialInto, FakeAcceptor, httpServer, Peer, upgrade } from './helpers';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function wsSetup(options: Parameters<typeof attachWebSocket>[2] = {}, acceptor = new FakeAcceptor()) {
  const http = await httpServer();
  const handle = attachWebSocket(http.server, acceptor, options);
  cleanups.push(() => http.close());
  cleanups.push(() => handle.close());
  return { ...http, handle, acceptor, url: `ws://127.0.0.1:${http.port}` };
}

describe('connection limits', () => {
  it('a slot gives its place back once, however often it is released', () => {
    const limits = new ConnectionLimits({ maxConnections: 2, maxConnectionsPerIp: 1 });
    const a = limits.acquire('::ffff:127.0.0.1');
    expect(typeof a).not.toBe('string');
    expect(limits.acquire('127.0.0.1')).toBe('max-connections-per-ip');
    const b = limits.acquire('10.0.0.1');
    expect(limits.acquire('10.0.0.2')).toBe('max-connections');
    expect(limits.connections).toBe(2);
    if (typeof a === 'string' || typeof b === 'string') throw new Error('refused');
    expect(a.ip).toBe('127.0.0.1');
    a.release();
    a.release();
    expect(limits.connections).toBe(1);
    expect(limits.connectionsFrom('127.0.0.1')).toBe(0);
    expect(limits.connectionsFrom('10.0.0.1')).toBe(1);
    b.release();
    expect(limits.connections).toBe(0);
    expect(typeof limits.acquire('127.0.0.1')).not.toBe('string');
  });

  it('answers 503 over maxConnections and per IP (WebSocket), sharing counts with TCP', async () => {
    const limits = new ConnectionLimits({ maxConnections: 3, maxConnectionsPerIp: 2 });
    const { port, acceptor, handle } = await wsSetup({ limits });
    const tcp = await listenTcp(acceptor, { host: '127.0.0.1', limits });
    cleanups.push(() => tcp.close());

    const a = await upgrade(port);
    const b = await upgrade(port);
    expect([a.status, b.status]).toEqual([101, 101]);
    const c = await upgrade(port);
    expect(c.status).toBe(503);
    expect(c.body).toMatch(/from this address/);
    expect(c.headers['retry-after']).toBe('1');
    const d = await upgrade(port, { localAddress: '127.0.0.2' });
    expect(d.status).toBe(101);
    expect(limits.connections).toBe(3);
    expect(handle.connections).toBe(3);

    // TCP shares the same counters: over the total → DISCONNECT 1013.
    const socket = net.connect({ host: '127.0.0.1', port: tcp.port, localAddress: '127.0.0.3' });
    const frames: Frame[] = [];
    const decoder = new FrameDecoder((f) => frames.push(f));
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    await new Promise<void>((r) => socket.once('close', () => r()));
    expect(parseDisconnect(frames[0]!.payload)).toEqual({ code: 1013, reason: 'too many connections' });
    const e = await upgrade(port, { localAddress: '127.0.0.4' });
    expect(e.status).toBe(503);
    expect(e.body).toMatch(/Too many connections/);

    for (const s of [a, b, d]) s.socket!.destroy();
    await until(() => limits.connections === 0 && handle.connections === 0, 'slots released');
    const again = await upgrade(port);
    expect(again.status).toBe(101);
    again.socket!.destroy();
  });

  it('takes the client IP from the last X-Forwarded-For hop with trustProxy', async () => {
    const limits = new ConnectionLimits({ maxConnectionsPerIp: 1 });
    const { port, acceptor } = await wsSetup({ limits, trustProxy: true });
    const a = await upgrade(port, { headers: { 'X-Forwarded-For': '10.0.0.9, 203.0.113.7' } });
    expect(a.status).toBe(101);
    const peer = await acceptor.peer(0);
    expect(peer.link.remoteAddress).toBe('203.0.113.7');
    expect(peer.link.remotePort).toBeUndefined();
    // Same socket IP, different forwarded client: allowed; same forwarded client: refused.
    const b = await upgrade(port, { headers: { 'X-Forwarded-For': '198.51.100.1' } });
    expect(b.status).toBe(101);
    const c = await upgrade(port, { headers: { 'X-Forwarded-For': '1.1.1.1, 203.0.113.7' } });
    expect(c.status).toBe(503);
    a.socket!.destroy();
    b.socket!.destroy();

    // Without trustProxy the header is ignored.
    const plain = await wsSetup({});
    const p = await upgrade(plain.port, { headers: { 'X-Forwarded-For': '203.0.113.7' } });
    expect((await plain.acceptor.peer(0)).link.remoteAddress).toBe('127.0.0.1');
    p.socket!.destroy();
  });

  it('refuses an upgrade that comes later than handshakeTimeout after the socket was accepted (408)', async () => {
    const { port } = await wsSetup({ handshakeTimeout: 50 });
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((r) => socket.once('connect', r));
    await sleep(120);
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString()));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    await new Promise<void>((r) => socket.once('close', () => r()));
    expect(answer).toMatch(/^HTTP\/1.1 408/);
  });
});

describe('slow consumers', () => {
  const small = { highWaterMark: 64 * 1024, maxBufferedAmount: 512 * 1024, closeTimeout: 200 };

  async function fill(peer: Peer): Promise<{ statuses: number[] }> {
    const chunk = encodeBinary('fill', new Uint8Array(16 * 1024));
    const statuses: number[] = [];
    // Fill until the link reports backpressure (the kernel buffers absorb the first megabytes).
    for (let i = 0; i < 20_000; i++) {
      const s = peer.link.send(chunk);
      if (s !== SendStatus.OK) {
        statuses.push(s);
        break;
      }
      if (i % 64 === 63) await sleep(1);
    }
    statuses.push(peer.link.send(encodeJson('volatile', 1), true));
    for (let i = 0; i < 20_000; i++) {
      const s = peer.link.send(chunk);
      if (s === SendStatus.CLOSED) {
        statuses.push(s);
        break;
      }
    }
    return { statuses };
  }

  it('TCP: BUFFERED, then volatile frames DROPPED, then 4006 when the buffer would overflow', async () => {
    const acceptor = new FakeAcceptor();
    const listener = await listenTcp(acceptor, { host: '127.0.0.1', ...small });
    cleanups.push(() => listener.close());
    const socket = net.connect({ host: '127.0.0.1', port: listener.port });
    socket.pause(); // never reads
    socket.on('error', () => undefined);
    cleanups.push(() => socket.destroy());
    const peer = await acceptor.peer(0);
    const { statuses } = await fill(peer);
    expect(statuses).toEqual([SendStatus.BUFFERED, SendStatus.DROPPED, SendStatus.CLOSED]);
    expect(peer.link.bufferedAmount).toBeLessThanOrEqual(small.maxBufferedAmount);
    await until(() => peer.closed !== null, 'close after the close timeout');
    expect(peer.closed).toEqual({ code: 4006, reason: 'slow consumer: outgoing buffer overflow' });
    await until(() => listener.connections === 0);
  });

  it('WebSocket: the same policy, and onDrain once a paused client reads again', async () => {
    const { url, acceptor } = await wsSetup(small);
    const client = await dialInto(dialWebSocket(url));
    cleanups.push(() => client.link.terminate());
    const peer = await acceptor.peer(0);

    // Backpressure then drain: pause, fill above the high-water mark, resume.
    client.link.pause();
    const chunk = encodeBinary('fill', new Uint8Array(16 * 1024));
    let status: number = SendStatus.OK;
    for (let i = 0; i < 20_000 && status === SendStatus.OK; i++) {
      status = peer.link.send(chunk);
      if (i % 64 === 63) await sleep(1);
    }
    expect(status).toBe(SendStatus.BUFFERED);
    client.link.resume();
    await until(() => peer.drains === 1, 'onDrain');
    expect(peer.link.bufferedAmount).toBe(0);

    client.link.pause();
    const { statuses } = await fill(peer);
    expect(statuses).toEqual([SendStatus.BUFFERED, SendStatus.DROPPED, SendStatus.CLOSED]);
    await until(() => peer.closed !== null, 'close after the close timeout');
    expect(peer.closed!.code).toBe(4006);
  });

  it('dialTcp links apply the same policy on the client side', async () => {
    const server = net.createServer((s) => s.pause());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const sockets: net.Socket[] = [];
    server.on('connection', (s) => sockets.push(s));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => sockets.forEach((s) => s.destroy()));
    const client = await dialInto(dialTcp(`tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`, small));
    const { statuses } = await fill(client);
    expect(statuses).toEqual([SendStatus.BUFFERED, SendStatus.DROPPED, SendStatus.CLOSED]);
    await until(() => client.closed !== null);
    expect(client.closed!.code).toBe(4006);
  });
});
