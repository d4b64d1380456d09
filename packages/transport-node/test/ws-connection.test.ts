import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  acceptUpgrade,
  createClientHandshake,
  encodeFrame,
  Opcode,
  PerMessageDeflate,
  verifyUpgradeResponse,
  type WsError,
} from '@stelar/codec-ws';
import { sleep, until } from '@stelar/test-utils';
import { WsConnection } from '../src/index';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface Recorder {
  messages: Array<{ data: Buffer; binary: boolean }>;
  errors: WsError[];
  closed: { code: number; reason: string } | null;
  pings: number;
  pongs: number;
}

function record(conn: WsConnection): Recorder {
  const r: Recorder = { messages: [], errors: [], closed: null, pings: 0, pongs: 0 };
  conn.on('message', (data, binary) => r.messages.push({ data: Buffer.from(data), binary }));
  conn.on('protocolError', (err) => r.errors.push(err));
  conn.on('close', (code, reason) => (r.closed = { code, reason }));
  conn.on('ping', () => r.pings++);
  conn.on('pong', () => r.pongs++);
  return r;
}

/** An echo server made of a bare http server and WsConnection (as the conformance suite does). */
async function echoServer(options: { deflate?: boolean; closeTimeout?: number; maxMessageSize?: number } = {}) {
  const server = http.createServer((_req, res) => res.end('not here'));
  const conns: WsConnection[] = [];
  const recorders: Recorder[] = [];
  server.on('upgrade', (req, socket: Socket, head: Buffer) => {
    const hs = acceptUpgrade(req, { perMessageDeflate: options.deflate ?? false });
    if (!hs.ok) return void socket.end(hs.response);
    socket.write(hs.response);
    const conn = new WsConnection(socket, {
      role: 'server',
      deflate: hs.deflate ? new PerMessageDeflate({ role: 'server', params: hs.deflate, threshold: 0 }) : undefined,
      head,
      ...(options.closeTimeout !== undefined ? { closeTimeout: options.closeTimeout } : {}),
      ...(options.maxMessageSize !== undefined ? { maxMessageSize: options.maxMessageSize } : {}),
    });
    recorders.push(record(conn));
    conn.on('message', (data, binary) => conn.send(binary ? data : data.toString('utf8')));
    conns.push(conn);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const c of conns) c.terminate();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as AddressInfo).port, conns, recorders };
}

/** A raw client WsConnection through http.request. */
function rawClient(port: number, options: { deflate?: boolean; closeTimeout?: number } = {}): Promise<{ conn: WsConnection; rec: Recorder }> {
  const hs = createClientHandshake({ host: `127.0.0.1:${port}`, perMessageDeflate: options.deflate ?? false });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, headers: hs.headers, agent: false });
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      const v = verifyUpgradeResponse(hs, res);
      if (!v.ok) return reject(v.error);
      const conn = new WsConnection(socket, {
        role: 'client',
        deflate: v.deflate ? new PerMessageDeflate({ role: 'client', params: v.deflate, threshold: 0 }) : undefined,
        head,
        ...(options.closeTimeout !== undefined ? { closeTimeout: options.closeTimeout } : {}),
      });
      cleanups.push(() => conn.terminate());
      resolve({ conn, rec: record(conn) });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('WsConnection', () => {
  for (const deflate of [false, true]) {
    it(`echoes text, binary and fragmented messages in order (deflate ${deflate ? 'on' : 'off'})`, async () => {
      const { port, conns } = await echoServer({ deflate });
      const { conn, rec } = await rawClient(port, { deflate });
      await until(() => conns.length === 1);
      expect(conns[0]!.deflate !== undefined).toBe(deflate);
      conn.send('héllo');
      conn.send(new Uint8Array([0, 1, 2, 255]));
      conn.send('frag-', { fin: false });
      conn.send('ment', { fin: true });
      conn.send('z'.repeat(200_000));
      await until(() => rec.messages.length === 4, 'echoes');
      expect(rec.messages.map((m) => [m.binary, m.binary ? [...m.data] : m.data.toString().slice(0, 20)])).toEqual([
        [false, 'héllo'],
        [true, [0, 1, 2, 255]],
        [false, 'frag-ment'],
        [false, 'z'.repeat(20)],
      ]);
      expect(rec.messages[3]!.data.length).toBe(200_000);
    });
  }

  it('answers pings with pongs automatically', async () => {
    const { port, conns, recorders } = await echoServer();
    const { conn, rec } = await rawClient(port);
    await until(() => conns.length === 1);
    conn.ping('abc');
    await until(() => rec.pongs === 1 && recorders[0]!.pings === 1);
    conns[0]!.ping();
    await until(() => recorders[0]!.pongs === 1 && rec.pings === 1);
  });

  it('closing handshake: codes and reasons both ways, 1005 for an empty close, 1006 with none', async () => {
    const { port, conns, recorders } = await echoServer();
    const a = await rawClient(port);
    await until(() => conns.length === 1);
    a.conn.close(4001, 'client leaves');
    expect(a.conn.readyState).toBe('closing');
    expect(a.conn.send('late')).toBe(false);
    await until(() => a.rec.closed !== null && recorders[0]!.closed !== null);
    expect(recorders[0]!.closed).toEqual({ code: 4001, reason: 'client leaves' });
    expect(a.rec.closed).toEqual({ code: 4001, reason: '' }); // the server echoed the code
    expect(a.conn.readyState).toBe('closed');

    const b = await rawClient(port);
    await until(() => conns.length === 2);
    conns[1]!.close();
    await until(() => b.rec.closed !== null && recorders[1]!.closed !== null);
    expect(b.rec.closed!.code).toBe(1005);
    expect(recorders[1]!.closed!.code).toBe(1005);
    expect(conns[1]!.closeSent!.code).toBe(1005);

    const c = await rawClient(port);
    await until(() => conns.length === 3);
    c.conn.terminate();
    await until(() => recorders[2]!.closed !== null);
    expect(recorders[2]!.closed!.code).toBe(1006);
    expect(() => conns[0]!.close(1006)).toThrow(RangeError);
  });

  it('sends the close frame after a compression in progress, not before', async () => {
    const { port, conns, recorders } = await echoServer({ deflate: true });
    const { conn, rec } = await rawClient(port, { deflate: true });
    await until(() => conns.length === 1);
    const server = conns[0]!;
    server.send('w'.repeat(300_000));
    expect(server.bufferedAmount).toBeGreaterThanOrEqual(300_000); // waiting for zlib
    server.close(1000, 'after the message');
    await until(() => rec.closed !== null && recorders[0]!.closed !== null);
    expect(rec.messages).toHaveLength(1);
    expect(rec.messages[0]!.data.length).toBe(300_000);
    expect(rec.closed).toEqual({ code: 1000, reason: 'after the message' });
    void conn;
  });

  it('echoes a peer close only after the compressed message queued before it (no truncation)', async () => {
    const { port, conns, recorders } = await echoServer({ deflate: true });
    const { conn, rec } = await rawClient(port, { deflate: true });
    await until(() => conns.length === 1);
    const server = conns[0]!;
    server.pause();
    conn.close(4000, 'bye');
    await sleep(30); // the close frame waits in the server's socket buffer
    const big = randomBytes(1_000_000).toString('hex');
    server.send(big); // compression in progress …
    server.resume(); // … when the peer's close is read and echoed
    await until(() => rec.closed !== null && recorders[0]!.closed !== null);
    expect(rec.messages.map((m) => m.data.length)).toEqual([big.length]);
    expect(rec.closed).toEqual({ code: 4000, reason: '' });
    expect(recorders[0]!.closed).toEqual({ code: 4000, reason: 'bye' });
  });

  it('fails the connection on protocol errors with the right close code', async () => {
    const { port, conns, recorders } = await echoServer({ maxMessageSize: 100 });
    // Unmasked client frame: 1002.
    const a = await rawClient(port);
    await until(() => conns.length === 1);
    const [h, p] = encodeFrame(Buffer.from('x'), { opcode: Opcode.TEXT, role: 'server' });
    a.conn.socket.write(Buffer.concat([h, p]));
    await until(() => a.rec.closed !== null && recorders[0]!.closed !== null);
    expect(recorders[0]!.errors[0]!.code).toBe('WS_UNMASKED_FRAME');
    expect(a.rec.closed!.code).toBe(1002);

    // Invalid UTF-8 in a text message: 1007.
    const b = await rawClient(port);
    await until(() => conns.length === 2);
    const [h2, p2] = encodeFrame(Buffer.from([0xc3, 0x28]), { opcode: Opcode.TEXT, role: 'client' });
    b.conn.socket.write(Buffer.concat([h2, p2]));
    await until(() => b.rec.closed !== null);
    expect(b.rec.closed!.code).toBe(1007);

    // Too big: 1009.
    const c = await rawClient(port);
    await until(() => conns.length === 3);
    c.conn.send(Buffer.alloc(101));
    await until(() => c.rec.closed !== null);
    expect(c.rec.closed!.code).toBe(1009);
    expect(recorders[2]!.errors[0]!.closeCode).toBe(1009);
  });

  it('destroys the socket when the peer does not answer a close within closeTimeout', async () => {
    const { port, conns, recorders } = await echoServer({ closeTimeout: 100 });
    const { conn } = await rawClient(port);
    conn.pause();
    conn.socket.pause();
    await until(() => conns.length === 1);
    const t0 = Date.now();
    conns[0]!.close(1000, 'no answer');
    await until(() => recorders[0]!.closed !== null);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(recorders[0]!.closed!.code).toBe(1006); // no close frame was received
    expect(conns[0]!.closeSent).toEqual({ code: 1000, reason: 'no answer' });
  });

  it('pause() holds messages until resume()', async () => {
    const { port, conns } = await echoServer();
    const { conn, rec } = await rawClient(port);
    await until(() => conns.length === 1);
    conn.pause();
    conn.send('one');
    conn.send('two');
    await sleep(80);
    expect(rec.messages).toHaveLength(0);
    conn.resume();
    await until(() => rec.messages.length === 2);
    expect(rec.messages.map((m) => m.data.toString())).toEqual(['one', 'two']);
  });
});

describe('WsConnection accounting', () => {
  it('counts pre-encoded frames waiting behind a compression in bufferedAmount', async () => {
    const { port, conns } = await echoServer({ deflate: true });
    const { rec } = await rawClient(port, { deflate: true });
    await until(() => conns.length === 1);
    const server = conns[0]!;
    server.send('c'.repeat(200_000)); // compression in progress
    const before = server.bufferedAmount;
    const wire = Buffer.concat(encodeFrame(Buffer.from('pre-encoded'), { opcode: Opcode.BINARY, role: 'server' }));
    for (let i = 0; i < 10; i++) server.sendEncoded(wire);
    expect(server.bufferedAmount - before).toBe(10 * wire.length);
    await until(() => rec.messages.length === 11);
    expect(rec.messages.slice(1).every((m) => m.binary && m.data.toString() === 'pre-encoded')).toBe(true);
  });
});
