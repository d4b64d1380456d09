import * as net from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeBinary, encodeDisconnect, encodeJson, FrameDecoder, FrameType, parseDisconnect, type Frame } from '@stelar/codec-tcp';
import { SendStatus } from '@stelar/core/internal';
import { selfSignedCert, sleep, until } from '@stelar/test-utils';
import { ConnectionLimits, dialTcp, listenTcp, type TcpListener } from '../src/index';
import { dialInto, FakeAcceptor, json, Peer } from './helpers';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function listen(options: Parameters<typeof listenTcp>[1] = {}, acceptor = new FakeAcceptor()): Promise<{ listener: TcpListener; acceptor: FakeAcceptor }> {
  const listener = await listenTcp(acceptor, { host: '127.0.0.1', ...options });
  cleanups.push(() => listener.close());
  return { listener, acceptor };
}

/** A raw TCP client that decodes what the server sends. */
async function rawClient(port: number, localAddress?: string): Promise<{ socket: net.Socket; frames: Frame[]; ended: Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
  await new Promise<void>((r, j) => socket.once('connect', r).once('error', j));
  const frames: Frame[] = [];
  const decoder = new FrameDecoder((f) => frames.push({ type: f.type, event: f.event, payload: f.payload.slice() }));
  socket.on('data', (c: Buffer) => decoder.push(c));
  socket.on('error', () => undefined);
  const ended = new Promise<void>((r) => socket.once('close', () => r()));
  cleanups.push(() => socket.destroy());
  return { socket, frames, ended };
}

describe('listenTcp', () => {
  it('decodes frames split into single bytes, and many frames per chunk', async () => {
    const { listener, acceptor } = await listen();
    expect(listener.port).toBeGreaterThan(0);
    expect(listener.address().address).toBe('127.0.0.1');
    const { socket } = await rawClient(listener.port);
    const server = await acceptor.peer(0);
    expect(server.link.transport).toBe('tcp');
    expect(server.link.remoteAddress).toBe('127.0.0.1');

    const one = encodeJson('split', { a: 'é' });
    for (const b of one) {
      socket.write(Buffer.from([b]));
      await sleep(1);
    }
    const many: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) many.push(encodeJson('n', i));
    many.push(encodeBinary('blob', new Uint8Array(70_000).fill(7)));
    socket.write(Buffer.concat(many));
    await until(() => server.frames.length === 202, 'all frames');
    expect(server.jsonEvents()[0]).toEqual(['split', { a: 'é' }]);
    expect(server.sizes[0]).toBe(one.length);
    expect(server.jsonEvents().slice(1).map(([, v]) => v)).toEqual([...Array(200).keys()]);
    expect(server.frames[201]!.payload.length).toBe(70_000);
    expect(listener.connections).toBe(1);
  });

  it('round-trips with dialTcp, and close() sends DISCONNECT with the code both sides report', async () => {
    const { listener, acceptor } = await listen();
    const client = await dialInto(dialTcp(`tcp://127.0.0.1:${listener.port}`));
    const server = await acceptor.peer(0);
    client.link.send(encodeJson('hello', { from: 'client' }));
    await until(() => server.frames.length === 1);
    server.link.send(encodeJson('hello', { from: 'server' }));
    await until(() => client.frames.length === 1);
    expect(json(client.frames[0])).toEqual({ from: 'server' });

    server.link.close(4100, 'see you');
    expect(server.link.send(encodeJson('late', 1))).toBe(SendStatus.CLOSED);
    await until(() => server.closed !== null && client.closed !== null);
    // The client saw the DISCONNECT frame (passed up) and reports its code.
    expect(client.frames.at(-1)!.type).toBe(FrameType.DISCONNECT);
    expect(client.closed).toEqual({ code: 4100, reason: 'see you' });
    expect(server.closed).toEqual({ code: 4100, reason: 'see you' });
    await until(() => listener.connections === 0, 'no connections');
    expect(server.closeCount).toBe(1);
  });

  it('reports the code of a DISCONNECT received from the peer, 1006 when the socket just dies', async () => {
    const { listener, acceptor } = await listen();
    const a = await rawClient(listener.port);
    const pa = await acceptor.peer(0);
    a.socket.end(encodeDisconnect(1001, 'leaving'));
    await until(() => pa.closed !== null);
    expect(pa.frames[0]!.type).toBe(FrameType.DISCONNECT);
    expect(pa.closed).toEqual({ code: 1001, reason: 'leaving' });

    const b = await rawClient(listener.port);
    const pb = await acceptor.peer(1);
    b.socket.destroy();
    await until(() => pb.closed !== null);
    expect(pb.closed!.code).toBe(1006);
  });

  it('turns a FrameError into a protocol error with its close code', async () => {
    const { listener, acceptor } = await listen({}, new FakeAcceptor({ maxFrameSize: 1024 }));
    const a = await rawClient(listener.port);
    const pa = await acceptor.peer(0);
    a.socket.write(Buffer.from([0, 0, 0, 9, 0x7f, 0, 0, 1, 2])); // bad type
    await until(() => pa.closed !== null);
    expect(pa.errors).toEqual([expect.objectContaining({ code: 'BAD_TYPE', closeCode: 1002 })]);
    // The peer got the DISCONNECT with 1002.
    await a.ended;
    const d = a.frames.find((f) => f.type === FrameType.DISCONNECT)!;
    expect(parseDisconnect(d.payload)!.code).toBe(1002);

    const b = await rawClient(listener.port);
    const pb = await acceptor.peer(1);
    b.socket.write(Buffer.from([0, 0, 0x10, 0, 0x02, 0, 1])); // 4096-byte frame announced
    await until(() => pb.closed !== null);
    expect(pb.errors[0]).toMatchObject({ code: 'FRAME_TOO_LARGE', closeCode: 1009 });
  });

  it('pause() stops reading until resume(); ping() sends a PING frame', async () => {
    const { listener, acceptor } = await listen();
    const client = await dialInto(dialTcp(`tcp://127.0.0.1:${listener.port}`));
    const server = await acceptor.peer(0);
    server.link.pause();
    for (let i = 0; i < 3; i++) client.link.send(encodeJson('n', i));
    await sleep(80);
    expect(server.frames).toHaveLength(0);
    server.link.resume();
    await until(() => server.frames.length === 3);
    server.link.ping();
    await until(() => client.frames.length === 1);
    expect(client.frames[0]!.type).toBe(FrameType.PING);
  });

  it('signals onDrain after BUFFERED once the peer reads again', async () => {
    const { listener, acceptor } = await listen({ highWaterMark: 32 * 1024 });
    const client = await dialInto(dialTcp(`tcp://127.0.0.1:${listener.port}`));
    const server = await acceptor.peer(0);
    client.link.pause();
    const chunk = encodeBinary('fill', new Uint8Array(16 * 1024));
    let status: number = SendStatus.OK;
    for (let i = 0; i < 20_000 && status === SendStatus.OK; i++) {
      status = server.link.send(chunk);
      if (i % 64 === 63) await sleep(1);
    }
    expect(status).toBe(SendStatus.BUFFERED);
    expect(server.drains).toBe(0);
    client.link.resume();
    await until(() => server.drains === 1, 'onDrain');
    expect(server.link.bufferedAmount).toBe(0);
  });

  it('rejects on EADDRINUSE instead of picking another port', async () => {
    const { listener } = await listen();
    await expect(listenTcp(new FakeAcceptor(), { host: '127.0.0.1', port: listener.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('answers DISCONNECT 1013 over maxConnections and maxConnectionsPerIp', async () => {
    const limits = new ConnectionLimits({ maxConnections: 2, maxConnectionsPerIp: 1 });
    const { listener, acceptor } = await listen({ limits });
    await rawClient(listener.port);
    await acceptor.peer(0);
    const sameIp = await rawClient(listener.port);
    await sameIp.ended;
    expect(parseDisconnect(sameIp.frames[0]!.payload)).toEqual({ code: 1013, reason: 'too many connections from this address' });
    const other = await rawClient(listener.port, '127.0.0.2');
    await acceptor.peer(1);
    expect(limits.connections).toBe(2);
    const third = await rawClient(listener.port, '127.0.0.3');
    await third.ended;
    expect(parseDisconnect(third.frames[0]!.payload)!.code).toBe(1013);
    expect(acceptor.peers).toHaveLength(2);
    other.socket.destroy();
    await until(() => limits.connections === 1, 'slot released');
    expect(limits.connectionsFrom('127.0.0.2')).toBe(0);
  });

  it('close() stops accepting, closes what is left with 1001, and resolves with no handles left', async () => {
    const { listener, acceptor } = await listen({ closeTimeout: 200 });
    const a = await rawClient(listener.port);
    const pa = await acceptor.peer(0);
    await listener.close();
    expect(pa.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(listener.connections).toBe(0);
    await a.ended;
    await expect(rawClient(listener.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('TLS', () => {
  let tlsCert: { key: string; cert: string };
  beforeAll(() => {
    tlsCert = selfSignedCert();
  });

  it('serves TLS and dials it with tls://, by IP and by name', async () => {
    const { listener, acceptor } = await listen({ tls: tlsCert });
    const client = await dialInto(dialTcp(`tls://127.0.0.1:${listener.port}`, { ca: tlsCert.cert }));
    const server = await acceptor.peer(0);
    expect(server.link.transport).toBe('tls');
    expect(client.link.transport).toBe('tls');
    client.link.send(encodeJson('secure', { ok: 1 }));
    await until(() => server.frames.length === 1);
    server.link.send(encodeJson('back', { ok: 2 }));
    await until(() => client.frames.length === 1);
    client.link.close(1000, 'bye');
    await until(() => server.closed !== null && client.closed !== null);
    expect(server.closed).toEqual({ code: 1000, reason: 'bye' });

    const byName = await dialInto(dialTcp(`tls://127.0.0.1:${listener.port}`, { ca: tlsCert.cert, servername: 'localhost' }));
    byName.link.terminate();
  });

  it('rejects an untrusted certificate with a fatal error', async () => {
    const { listener } = await listen({ tls: tlsCert });
    const err = await dialInto(dialTcp(`tls://127.0.0.1:${listener.port}`)).catch((e: unknown) => e);
    expect(err).toMatchObject({ fatal: true, code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  it('rejects listenTcp on a bad key or certificate (never plain text)', async () => {
    await expect(listenTcp(new FakeAcceptor(), { host: '127.0.0.1', tls: { key: 'not a key', cert: tlsCert.cert } })).rejects.toThrow();
    await expect(listenTcp(new FakeAcceptor(), { host: '127.0.0.1', tls: { key: tlsCert.key, cert: 'garbage' } })).rejects.toThrow();
  });
});

describe('dialTcp', () => {
  it('rejects ECONNREFUSED (not fatal), a bad URL (fatal), and stops on abort', async () => {
    const probe = await listenTcp(new FakeAcceptor(), { host: '127.0.0.1' });
    const port = probe.port;
    await probe.close();
    const refused = await dialInto(dialTcp(`tcp://127.0.0.1:${port}`)).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'ECONNREFUSED', fatal: false });
    expect(() => dialTcp('tcp://127.0.0.1')).toThrow(/needs a port/);
    expect(() => dialTcp('http://127.0.0.1:80')).toThrow(/scheme/);

    // Abort while connecting to a listener that never completes TLS.
    const silent = net.createServer((s) => s.resume());
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => silent.close(() => r())));
    const ac = new AbortController();
    const pending = dialTcp(`tls://127.0.0.1:${(silent.address() as net.AddressInfo).port}`)(new Peer(), ac.signal);
    setTimeout(() => ac.abort(new Error('stop')), 30);
    await expect(pending).rejects.toThrow('stop');
    const pre = new AbortController();
    pre.abort();
    await expect(dialTcp(`tcp://127.0.0.1:${port}`)(new Peer(), pre.signal)).rejects.toMatchObject({ name: 'AbortError' });
  });
});
