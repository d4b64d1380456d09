import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameType } from '@stelar/codec-tcp';
import { connect } from '@stelar/client-node';
import { sleep, until } from '@stelar/test-utils';
import { createServer, type StelarServer } from '../src/index';
import { RawTcpPeer } from './helpers';

const servers: StelarServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close({ timeout: 200 });
});

async function start(options: Parameters<typeof createServer>[0] = {}) {
  const server = createServer({ port: 0, tcpPort: 0, host: '127.0.0.1', ...options });
  servers.push(server);
  const { port, tcpPort } = await server.listen();
  return { server, port: port!, tcpPort: tcpPort! };
}

describe('heartbeats (one sweep for every connection)', () => {
  it('TCP: a peer that answers PING stays; one that does not is closed', async () => {
    const { server, tcpPort } = await start({ heartbeat: { interval: 80, timeout: 120 } });
    const silent = await RawTcpPeer.open(tcpPort);
    await silent.hello();
    const polite = await RawTcpPeer.open(tcpPort);
    await polite.hello();
    // The polite peer answers every PING with a PONG carrying the same bytes.
    const answered = new Set<number>();
    const timer = setInterval(() => {
      polite.frames.forEach((f, i) => {
        if (f.type === FrameType.PING && !answered.has(i)) {
          answered.add(i);
          const pong = Buffer.alloc(7 + f.payload.length);
          pong.writeUInt32BE(pong.length, 0);
          pong[4] = FrameType.PONG;
          Buffer.from(f.payload).copy(pong, 7);
          polite.write(pong);
        }
      });
    }, 10);
    await until(() => silent.closed, 3000);
    expect(silent.frames.some((f) => f.type === FrameType.PING)).toBe(true);
    // It was told why before the socket went (DISCONNECT 4004).
    const bye = silent.frames.find((f) => f.type === FrameType.DISCONNECT);
    expect(bye && JSON.parse(silent.text(bye))).toMatchObject({ code: 4004 });
    await sleep(300);
    clearInterval(timer);
    expect(polite.closed).toBe(false);
    expect(answered.size).toBeGreaterThan(0);
    expect(server.getStats().errors['HEARTBEAT_TIMEOUT']).toBe(1);
    polite.destroy();
  });

  it('WebSocket: the client transport answers pings by itself; a socket that does not is closed', async () => {
    const { server, port } = await start({ heartbeat: { interval: 80, timeout: 120 }, closeTimeout: 300 });
    const c = connect(`ws://127.0.0.1:${port}/`, { reconnect: false, heartbeat: false });
    await c.connect();
    // A raw WebSocket that completes the upgrade and CONNECT, then never reads again.
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.on('error', () => undefined);
    sock.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    await new Promise((r) => sock.once('data', r));
    const body = Buffer.from([0x07, 0, 0, ...Buffer.from('{"v":1}')]);
    const hello = Buffer.from([0x82, 0x80 | body.length, 0, 0, 0, 0, ...body]); // masked with a zero key
    sock.write(hello);
    let closed = false;
    sock.on('close', () => (closed = true));
    await until(() => server.getStats().connections.open === 2);
    await until(() => closed || server.getStats().connections.open === 1, 3000);
    await sleep(200);
    expect(c.state).toBe('connected');
    expect(server.getStats().connections.open).toBe(1);
    sock.destroy();
    c.close();
  });
});

describe('nothing leaks', () => {
  it('after clients come and go and the server closes, counts and handles are back where they were', async () => {
    const before = new Set(process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap'));
    const { server, port, tcpPort } = await start({ heartbeat: { interval: 1000, timeout: 1000 } });
    server.on('echo', (x: unknown) => x);
    server.onConnection((conn) => conn.join(['a', 'b']));
    const clients = Array.from({ length: 10 }, (_, i) =>
      connect(i % 2 ? `ws://127.0.0.1:${port}/` : `tcp://127.0.0.1:${tcpPort}`, { reconnect: false }),
    );
    await Promise.all(clients.map((c) => c.connect()));
    await Promise.all(clients.map((c, i) => c.request('echo', i)));
    expect(server.getStats().rooms).toBe(2);
    for (const c of clients) c.close();
    await until(() => server.getStats().connections.open === 0);
    const s = server.getStats();
    expect(s.rooms).toBe(0);
    expect(s.acks.pending).toBe(0);
    expect(s.acks.inFlightHandlers).toBe(0);
    await server.close();
    servers.length = 0;
    await sleep(50);
    const after = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    const leftovers = after.filter((r) => !before.has(r));
    expect(leftovers).toEqual([]);
  });
});
