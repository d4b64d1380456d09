import * as http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeBinary, encodeJson, FrameType } from '@stelar/codec-tcp';
import { encodeFrame, encodeMessage, Opcode } from '@stelar/codec-ws';
import { SendStatus } from '@stelar/core/internal';
import { sleep, until } from '@stelar/test-utils';
import { attachWebSocket, dialWebSocket, WsConnection, type WebSocketHandle } from '../src/index';
import { fanOutStats } from '../src/ws-link';
import { dialInto, FakeAcceptor, httpServer, json, Peer, upgrade } from './helpers';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(options: Parameters<typeof attachWebSocket>[2] = {}, acceptor = new FakeAcceptor()) {
  const http = await httpServer();
  const handle = attachWebSocket(http.server, acceptor, options);
  cleanups.push(() => http.close());
  cleanups.push(() => handle.close());
  return { ...http, handle, acceptor, url: `ws://127.0.0.1:${http.port}` };
}

async function dial(url: string, options: Parameters<typeof dialWebSocket>[1] = {}): Promise<Peer> {
  const peer = await dialInto(dialWebSocket(url, options));
  cleanups.push(() => peer.link.terminate());
  return peer;
}

describe('attachWebSocket: the opening handshake', () => {
  it('answers ordinary HTTP requests through the application, not the transport', async () => {
    const { port } = await setup();
    const body = await new Promise<string>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/anything' }, (res) => {
        let s = '';
        res.on('data', (c: Buffer) => (s += c.toString()));
        res.on('end', () => resolve(`${res.statusCode} ${s}`));
      }).on('error', reject);
    });
    expect(body).toBe('200 hello');
  });

  it('refuses a bad key with 400, a wrong version with 426, a POST with 405', async () => {
    const { port, acceptor } = await setup();
    const bad = await upgrade(port, { headers: { 'Sec-WebSocket-Key': 'short' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/Sec-WebSocket-Key/);
    const version = await upgrade(port, { headers: { 'Sec-WebSocket-Version': '8' } });
    expect(version.status).toBe(426);
    expect(version.headers['sec-websocket-version']).toBe('13');
    const noKey = await upgrade(port, { omit: ['Sec-WebSocket-Key'] });
    expect(noKey.status).toBe(400);
    expect(acceptor.peers).toHaveLength(0);
  });

  it('refuses origins outside the allow-list with 403 (list and function)', async () => {
    const { port } = await setup({ allowOrigins: ['https://good.example'] });
    expect((await upgrade(port, { headers: { Origin: 'https://evil.example' } })).status).toBe(403);
    const ok = await upgrade(port, { headers: { Origin: 'https://good.example' } });
    expect(ok.status).toBe(101);
    ok.socket?.destroy();
    // No Origin (not a browser): allowed by a list.
    const none = await upgrade(port);
    expect(none.status).toBe(101);
    none.socket?.destroy();

    const fn = await setup({ allowOrigins: (origin) => origin === 'https://x.example' });
    expect((await upgrade(fn.port)).status).toBe(403);
    expect((await upgrade(fn.port, { headers: { Origin: 'https://y.example' } })).status).toBe(403);
    const yes = await upgrade(fn.port, { headers: { Origin: 'https://x.example' } });
    expect(yes.status).toBe(101);
    yes.socket?.destroy();
  });

  it('answers header floods with 431 (count and bytes)', async () => {
    const { port } = await setup({ maxHeaderBytes: 4096 });
    const many: Record<string, string> = {};
    for (let i = 0; i < 150; i++) many[`x-h${i}`] = 'v';
    const flood = await upgrade(port, { headers: many });
    expect(flood.status).toBe(431);
    const big = await upgrade(port, { headers: { 'x-big': 'a'.repeat(6000) } });
    expect(big.status).toBe(431);
    // Above Node's own limit (16 KiB), the HTTP parser answers 431 before we see it.
    const huge = await upgrade(port, { headers: { 'x-huge': 'a'.repeat(20_000) } }).catch((e: Error) => ({ status: -1, error: e }));
    expect([431, -1]).toContain(huge.status);
  });

  it('owns only its path: other paths get 404 when it is the only upgrade listener', async () => {
    const { port, acceptor } = await setup({ path: '/stelar' });
    const miss = await upgrade(port, { path: '/other' });
    expect(miss.status).toBe(404);
    const hit = await upgrade(port, { path: '/stelar?token=1' });
    expect(hit.status).toBe(101);
    await acceptor.peer(0);
    expect(acceptor.peers[0]!.link.upgradeRequest?.url).toBe('/stelar?token=1');
    expect(acceptor.peers[0]!.link.upgradeRequest?.headers['sec-websocket-key']).toBeDefined();
    expect(acceptor.peers[0]!.link.transport).toBe('ws');
    hit.socket?.destroy();
  });

  it('leaves paths it does not own to other upgrade listeners', async () => {
    const { server, port } = await setup({ path: '/stelar' });
    server.on('upgrade', (req, socket) => {
      if (req.url === '/mine') socket.end('HTTP/1.1 418 I am a teapot\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    expect((await upgrade(port, { path: '/mine' })).status).toBe(418);
    const ours = await upgrade(port, { path: '/stelar' });
    expect(ours.status).toBe(101);
    ours.socket?.destroy();
  });

  it('routes by path between two handles on one server, and stops accepting after close()', async () => {
    const a = new FakeAcceptor();
    const b = new FakeAcceptor();
    const { server, port } = await setup({ path: '/a' }, a);
    const hb: WebSocketHandle = attachWebSocket(server, b, { path: '/b' });
    cleanups.push(() => hb.close());
    const pa = await dial(`ws://127.0.0.1:${port}/a`);
    const pb = await dial(`ws://127.0.0.1:${port}/b`);
    await until(() => a.peers.length === 1 && b.peers.length === 1);
    expect(hb.connections).toBe(1);
    hb.close();
    expect((await upgrade(port, { path: '/b' })).status).toBe(404);
    pa.link.terminate();
    pb.link.terminate();
  });

  it('refuses bad zlib options when attaching or dialing, not per connection', async () => {
    const { server } = await setup({ path: '/ok' });
    expect(() => attachWebSocket(server, new FakeAcceptor(), { path: '/z', perMessageDeflate: { level: 42 } })).toThrow(/level/);
    expect(() => dialWebSocket('ws://127.0.0.1:1', { perMessageDeflate: { memLevel: 0 } })).toThrow(/memLevel/);
  });

  it('completes the handshake with an accepted subprotocol and custom 101 headers', async () => {
    const { port } = await setup({ protocols: ['stelar.v1'], headers: { 'X-Served-By': 'test' } });
    const res = await upgrade(port, { headers: { 'Sec-WebSocket-Protocol': 'other, stelar.v1' } });
    expect(res.status).toBe(101);
    expect(res.headers['sec-websocket-protocol']).toBe('stelar.v1');
    expect(res.headers['x-served-by']).toBe('test');
    res.socket?.destroy();
  });
});

describe('attachWebSocket: frames', () => {
  for (const deflate of [false, true]) {
    it(`round-trips frames with the node dialer (permessage-deflate ${deflate ? 'on' : 'off'})`, async () => {
      const { url, acceptor } = await setup({ perMessageDeflate: deflate ? { threshold: 64 } : false });
      const client = await dial(url, { perMessageDeflate: deflate });
      const server = await acceptor.peer(0);
      const conn = (server.link as unknown as { connection: WsConnection }).connection;
      expect(conn.deflate !== undefined).toBe(deflate);

      const big = { text: 'x'.repeat(5000) };
      expect(client.link.send(encodeJson('hi', { n: 1 }))).toBe(SendStatus.OK);
      client.link.send(encodeJson('big', big));
      client.link.send(encodeBinary('bin', new Uint8Array([1, 2, 3])));
      await until(() => server.frames.length === 3, 'frames at the server');
      expect(server.jsonEvents()).toEqual([
        ['hi', { n: 1 }],
        ['big', big],
      ]);
      expect(server.frames[2]!.type).toBe(FrameType.BINARY);
      expect([...server.frames[2]!.payload]).toEqual([1, 2, 3]);
      expect(server.sizes[0]).toBe(encodeJson('hi', { n: 1 }).length);

      // Server to client, small and large (above the merge size and the deflate threshold).
      server.link.send(encodeJson('back', { ok: true }));
      server.link.send(encodeJson('large', { blob: 'y'.repeat(100_000) }));
      await until(() => client.frames.length === 2, 'frames at the client');
      expect(client.jsonEvents()[0]).toEqual(['back', { ok: true }]);
      expect((json(client.frames[1]) as { blob: string }).blob.length).toBe(100_000);
    });
  }

  it('treats a text message as a protocol error (1003)', async () => {
    const { port, acceptor } = await setup();
    const res = await upgrade(port);
    const socket = res.socket!;
    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    const [h, p] = encodeMessage('hello', 'client');
    socket.write(Buffer.concat([h, p]));
    const peer = await acceptor.peer(0);
    // The client gets a close frame with 1003 …
    await until(() => Buffer.concat(received).includes(0x88), 'close frame');
    expect(peer.errors[0]).toMatchObject({ code: 'UNSUPPORTED_DATA', closeCode: 1003 });
    const all = Buffer.concat(received);
    const closeAt = all.indexOf(0x88);
    expect(all.readUInt16BE(closeAt + 2)).toBe(1003);
    // … and answers it: the server reports the code it closed with.
    const [ch, cp] = encodeFrame(Buffer.from([0x03, 0xeb]), { opcode: Opcode.CLOSE, role: 'client' });
    socket.write(Buffer.concat([ch, cp]));
    await until(() => peer.closed !== null, 'close');
    expect(peer.closed!.code).toBe(1003);
    expect(peer.closeCount).toBe(1);
  });

  it('refuses a message above maxFrameSize - 4 with 1009, and a bad Stelar frame with 1002', async () => {
    const acceptor = new FakeAcceptor({ maxFrameSize: 1000 });
    const { url } = await setup({}, acceptor);
    const client = await dial(url);
    const server = await acceptor.peer(0);
    const atLimit = encodeBinary('ok', new Uint8Array(1000 - 7 - 2)); // totalLen 1000 = maxFrameSize
    expect(atLimit.length).toBe(1000);
    client.link.send(atLimit);
    client.link.send(encodeBinary('ok', new Uint8Array(1000 - 7 - 2 + 1))); // one byte over
    await until(() => server.closed !== null && client.closed !== null, 'close');
    expect(server.frames).toHaveLength(1);
    expect(server.errors[0]).toMatchObject({ closeCode: 1009 });
    expect(client.closed!.code).toBe(1009);

    const client2 = await dial(url);
    const server2 = await acceptor.peer(1);
    const conn = (client2.link as unknown as { connection: WsConnection }).connection;
    conn.send(new Uint8Array([0x7f, 0, 0]), { binary: true }); // type 0x7f: BAD_TYPE
    await until(() => server2.closed !== null, 'close 2');
    expect(server2.errors[0]).toMatchObject({ code: 'BAD_TYPE', closeCode: 1002 });
  });

  it('reuses one encoded WebSocket frame for a broadcast (fan-out cache)', async () => {
    const { url, acceptor } = await setup();
    const clients: Peer[] = [];
    for (let i = 0; i < 5; i++) clients.push(await dial(url));
    await until(() => acceptor.peers.length === 5);
    for (const [size, label] of [
      [20, 'small'],
      [40_000, 'large'],
    ] as const) {
      const frame = encodeJson('news', { s: 'z'.repeat(size) });
      const before = { ...fanOutStats };
      for (const p of acceptor.peers) expect(p.link.send(frame)).toBe(SendStatus.OK);
      expect(fanOutStats.built - before.built, label).toBe(1);
      expect(fanOutStats.reused - before.reused, label).toBe(4);
    }
    await until(() => clients.every((c) => c.frames.length === 2), 'broadcast received');
    for (const c of clients) expect((json(c.frames[1]) as { s: string }).s.length).toBe(40_000);
  });

  it('pings with WebSocket pings and reports pongs (and pings) as signs of life', async () => {
    const { url, acceptor } = await setup();
    const client = await dial(url);
    const server = await acceptor.peer(0);
    server.link.ping();
    // The server sees the pong; the client saw the ping (a sign of life too).
    await until(() => server.pongs === 1 && client.pongs === 1, 'pong at the server');
    client.link.ping();
    await until(() => client.pongs === 2 && server.pongs === 2, 'pong at the client');
  });
});

describe('attachWebSocket: closing', () => {
  it('closes from the server with a code and reason, both sides report it once', async () => {
    const { url, acceptor, handle } = await setup();
    const client = await dial(url);
    const server = await acceptor.peer(0);
    expect(handle.connections).toBe(1);
    server.link.close(4100, 'bye now');
    expect(server.link.send(encodeJson('late', 1))).toBe(SendStatus.CLOSED);
    await until(() => server.closed !== null && client.closed !== null);
    expect(server.closed).toEqual({ code: 4100, reason: 'bye now' });
    expect(client.closed).toEqual({ code: 4100, reason: 'bye now' });
    await sleep(20);
    expect(server.closeCount).toBe(1);
    expect(client.closeCount).toBe(1);
    expect(handle.connections).toBe(0);
  });

  it('a server connection has no listener table until a listener comes (its link is called directly); events still work after one', async () => {
    const { url, acceptor, handle } = await setup();
    const client = await dial(url);
    const server = await acceptor.peer(0);
    const conn = (server.link as unknown as { connection: WsConnection }).connection;
    expect((conn as unknown as { _events: unknown })._events).toBeUndefined();
    expect(conn.listenerCount('message')).toBe(0);
    const seen: number[] = [];
    conn.on('message', (data) => seen.push(data.length));
    client.link.send(encodeJson('hi', 1));
    await until(() => seen.length === 1 && server.frames.length === 1, 'message event and frame');
    client.link.close(1000, 'done');
    await until(() => server.closed !== null);
    expect(handle.connections).toBe(0);
  });

  it('closes from the client', async () => {
    const { url, acceptor, handle } = await setup();
    const client = await dial(url);
    const server = await acceptor.peer(0);
    client.link.close(1000, 'done');
    await until(() => server.closed !== null && client.closed !== null);
    expect(server.closed).toEqual({ code: 1000, reason: 'done' });
    expect(client.closed).toEqual({ code: 1000, reason: 'done' });
    expect(handle.connections).toBe(0);
  });

  it('reports 1006 when the peer vanishes without a close frame', async () => {
    const { url, acceptor, handle } = await setup();
    const client = await dial(url);
    const server = await acceptor.peer(0);
    client.link.terminate();
    await until(() => server.closed !== null && client.closed !== null);
    expect(server.closed!.code).toBe(1006);
    expect(client.closed!.code).toBe(1006);
    expect(handle.connections).toBe(0);
  });

  it('destroys the socket after closeTimeout when the peer never answers the close', async () => {
    const { port, acceptor } = await setup({ closeTimeout: 150 });
    const res = await upgrade(port);
    res.socket!.pause(); // never reads, never answers
    res.socket!.on('error', () => undefined);
    const server = await acceptor.peer(0);
    const t0 = Date.now();
    server.link.close(1001, 'going');
    await until(() => server.closed !== null, 'close by timeout');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    expect(server.closed).toEqual({ code: 1001, reason: 'going' });
    res.socket!.destroy();
  });

  it('pause() stops delivery until resume()', async () => {
    const { url, acceptor } = await setup();
    const client = await dial(url);
    const server = await acceptor.peer(0);
    server.link.pause();
    await sleep(10);
    for (let i = 0; i < 5; i++) client.link.send(encodeJson('n', i));
    await sleep(100);
    expect(server.frames).toHaveLength(0);
    server.link.resume();
    await until(() => server.frames.length === 5);
    expect(server.jsonEvents().map(([, n]) => n)).toEqual([0, 1, 2, 3, 4]);
  });
});
