/**
 * InputGuard: the process-wide budget for bytes held in unfinished messages and the deadline for
 * a started message to finish (issue 10, item 4), on its own and through both listeners.
 */
import * as net from 'node:net';
import { encodeJson, FrameDecoder, parseDisconnect, type Frame } from '@stelar/codec-tcp';
import { encodeFrame, Opcode, Receiver } from '@stelar/codec-ws';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, until } from '@stelar/test-utils';
import { attachWebSocket, InputGuard, listenTcp } from '../src/index';
import { FakeAcceptor, httpServer, upgrade } from './helpers';

const KiB = 1024;
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('InputGuard on its own', () => {
  it('counts bytes, refuses growth over the budget, and releases', () => {
    const g = new InputGuard({ maxUnfinishedBytes: 100, messageTimeout: 60_000 });
    const a = g.track(() => undefined);
    const b = g.track(() => undefined);
    expect(g.update(a, 60, true, 0)).toBe(true);
    expect(g.unfinishedBytes).toBe(60);
    expect(g.update(b, 50, true, 0)).toBe(false); // 110 > 100: b is the one to fail
    g.release(b);
    expect(g.unfinishedBytes).toBe(60);
    expect(g.update(a, 30, true, 0)).toBe(true); // shrinking is always fine
    expect(g.update(a, 0, false, 1)).toBe(true);
    expect(g.unfinishedBytes).toBe(0);
    expect(g.sweeping).toBe(false);
  });

  it('expires started messages in start order; a new message restarts the clock; pause stops it; the timer stops when idle', async () => {
    const g = new InputGuard({ messageTimeout: 120 });
    const expired: string[] = [];
    const entry = (name: string) => {
      const e = g.track(() => {
        expired.push(name);
        g.release(e);
      });
      return e;
    };
    const a = entry('a');
    const b = entry('b');
    const c = entry('c');
    const d = entry('d');
    g.update(a, 10, true, 0);
    g.update(b, 0, true, 0); // started, nothing held (a header only): timed too
    g.update(c, 10, true, 0);
    g.update(d, 10, true, 0);
    g.pause(d);
    expect(g.sweeping).toBe(true);
    await sleep(70);
    g.update(c, 20, true, 1); // c finished a message and started another: fresh deadline
    g.update(a, 20, true, 0); // a is still on the same message: no extension
    await until(() => expired.length >= 2, 'a and b expired', 2000);
    expect(expired).toEqual(['a', 'b']);
    await until(() => expired.length >= 3, 'c expired', 2000);
    expect(expired).toEqual(['a', 'b', 'c']);
    await sleep(200);
    expect(expired).toEqual(['a', 'b', 'c']); // d is paused
    expect(g.sweeping).toBe(false);
    g.resume(d);
    expect(g.sweeping).toBe(true);
    await until(() => expired.length === 4, 'd expired after resume', 2000);
    expect(g.sweeping).toBe(false);
    expect(g.unfinishedBytes).toBe(0);
  });

  it('validates its options; Infinity turns the deadline off', () => {
    expect(() => new InputGuard({ maxUnfinishedBytes: 0 })).toThrow(RangeError);
    expect(() => new InputGuard({ messageTimeout: -1 })).toThrow(RangeError);
    const g = new InputGuard({ messageTimeout: Infinity });
    g.update(g.track(() => undefined), 5, true, 0);
    expect(g.sweeping).toBe(false);
  });
});

/** A raw TCP peer recording the frames the server sends. */
async function tcpPeer(port: number): Promise<{ socket: net.Socket; frames: Frame[]; closed: Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const frames: Frame[] = [];
  const decoder = new FrameDecoder((f) => frames.push({ ...f, payload: f.payload.slice() }));
  socket.on('data', (c: Buffer) => decoder.push(c));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  return { socket, frames, closed };
}

/** The first `n` bytes of a JSON frame of `size` bytes in all. */
function partialTcpFrame(size: number, n: number): Buffer {
  const whole = Buffer.from(encodeJson('big', 'x'.repeat(size - 7 - 3 - 2)));
  expect(whole.length).toBe(size);
  return whole.subarray(0, n);
}

describe('InputGuard on the TCP listener', () => {
  it('a frame not finished within messageTimeout → DISCONNECT 1008 (MESSAGE_TIMEOUT); frames that keep completing are never cut', async () => {
    const guard = new InputGuard({ messageTimeout: 300 });
    const acceptor = new FakeAcceptor();
    const tcp = await listenTcp(acceptor, { host: '127.0.0.1', guard, closeTimeout: 500 });
    cleanups.push(() => tcp.close());

    // A steady sender: every write ends inside the next frame, for 3x the timeout.
    const steady = await tcpPeer(tcp.port);
    const frame = Buffer.from(encodeJson('tick', 'y'.repeat(200)));
    const stream = Buffer.concat(Array.from({ length: 40 }, () => frame));
    const t0 = Date.now();
    for (let off = 0; off < stream.length; off += 150) {
      steady.socket.write(stream.subarray(off, off + 150));
      await sleep(Math.max(1, Math.floor(900 / (stream.length / 150))));
    }
    expect(Date.now() - t0).toBeGreaterThan(600);
    await until(() => acceptor.peers[0]?.frames.length === 40, 'all 40 frames');
    expect(acceptor.peers[0]!.closed).toBeNull();

    // A stalled frame: cut between the timeout and timeout + one sweep.
    const stalled = await tcpPeer(tcp.port);
    const t1 = Date.now();
    stalled.socket.write(partialTcpFrame(10_000, 5000));
    await stalled.closed;
    const ms = Date.now() - t1;
    expect(ms).toBeGreaterThanOrEqual(280);
    expect(ms).toBeLessThan(3000);
    const peer = acceptor.peers[1]!;
    expect(peer.errors.map((e) => [e.code, e.closeCode])).toEqual([['MESSAGE_TIMEOUT', 1008]]);
    expect(parseDisconnect(stalled.frames.find((f) => f.type === 0x08)!.payload)?.code).toBe(1008);
    expect(guard.unfinishedBytes).toBe(0);
    steady.socket.destroy();
    await until(() => !guard.sweeping, 'sweep timer stopped');
  });

  it('over maxUnfinishedBytes the connection that would exceed it gets DISCONNECT 1013 (OVERLOADED); the others stay', async () => {
    const guard = new InputGuard({ maxUnfinishedBytes: 100 * KiB, messageTimeout: 60_000 });
    const acceptor = new FakeAcceptor();
    const tcp = await listenTcp(acceptor, { host: '127.0.0.1', guard, closeTimeout: 500 });
    cleanups.push(() => tcp.close());
    const a = await tcpPeer(tcp.port);
    a.socket.write(partialTcpFrame(90 * KiB, 60 * KiB));
    await until(() => guard.unfinishedBytes === 60 * KiB, 'a held');
    const b = await tcpPeer(tcp.port);
    b.socket.write(partialTcpFrame(200 * KiB, 60 * KiB));
    await b.closed;
    expect(parseDisconnect(b.frames.find((f) => f.type === 0x08)!.payload)?.code).toBe(1013);
    expect(acceptor.peers[1]!.errors[0]!.code).toBe('OVERLOADED');
    expect(guard.unfinishedBytes).toBe(60 * KiB);
    // a finishes its frame (90 KiB fits the budget) and is served.
    a.socket.write(Buffer.from(encodeJson('big', 'x'.repeat(90 * KiB - 12))).subarray(60 * KiB));
    await until(() => acceptor.peers[0]!.frames.length === 1, 'a delivered');
    expect(acceptor.peers[0]!.closed).toBeNull();
    expect(guard.unfinishedBytes).toBe(0);
    a.socket.destroy();
    // The header check still comes first: a frame above maxFrameSize is refused from its header.
    const c = await tcpPeer(tcp.port);
    const header = Buffer.from([0, 0x20, 0, 0, 0x01, 0, 1, 0x78]); // totalLen 2 MiB, JSON, event "x"
    c.socket.write(header);
    await c.closed;
    expect(parseDisconnect(c.frames.find((f) => f.type === 0x08)!.payload)?.code).toBe(1009);
  });
});

/** A raw WebSocket client (masked frames) that parses what the server sends. */
async function wsPeer(port: number) {
  const up = await upgrade(port);
  expect(up.status).toBe(101);
  const socket = up.socket!;
  const got: { close?: number; messages: Buffer[] } = { messages: [] };
  const rx = new Receiver(
    { role: 'client' },
    {
      onMessage: (d) => got.messages.push(Buffer.from(d)),
      onPing: () => undefined,
      onPong: () => undefined,
      onClose: (code) => (got.close = code ?? 1005),
      onError: () => undefined,
    },
  );
  socket.on('data', (c: Buffer) => rx.push(c));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  const send = (opcode: number, payload: Buffer, fin = true): void => {
    const [h, p] = encodeFrame(payload, { opcode, role: 'client', fin });
    socket.write(Buffer.concat([h, p]));
  };
  return { socket, got, closed, send };
}

describe('InputGuard on the WebSocket listener', () => {
  it('a fragmented message kept open with pings → close 1008 (WS_MESSAGE_TIMEOUT) at the deadline; pings do not extend it', async () => {
    const guard = new InputGuard({ messageTimeout: 300 });
    const { server, port, close } = await httpServer();
    const acceptor = new FakeAcceptor();
    const handle = attachWebSocket(server, acceptor, { guard, closeTimeout: 500 });
    cleanups.push(close, () => handle.close());
    const p = await wsPeer(port);
    const t0 = Date.now();
    p.send(Opcode.BINARY, Buffer.from(encodeJson('x', 1)).subarray(4, 8), false);
    const pinger = setInterval(() => p.send(Opcode.PING, Buffer.from('alive')), 40);
    try {
      await p.closed;
    } finally {
      clearInterval(pinger);
    }
    const ms = Date.now() - t0;
    expect(p.got.close).toBe(1008);
    expect(ms).toBeGreaterThanOrEqual(280);
    expect(ms).toBeLessThan(3000);
    expect(acceptor.peers[0]!.errors[0]!.code).toBe('WS_MESSAGE_TIMEOUT');
    expect(acceptor.peers[0]!.pongs).toBeGreaterThan(3);
    expect(guard.unfinishedBytes).toBe(0);
    await until(() => !guard.sweeping, 'sweep timer stopped');
  });

  it('a paused link does not run the clock; resumed, it gets a fresh deadline', async () => {
    const guard = new InputGuard({ messageTimeout: 200 });
    const { server, port, close } = await httpServer();
    const acceptor = new FakeAcceptor();
    const handle = attachWebSocket(server, acceptor, { guard, closeTimeout: 500 });
    cleanups.push(close, () => handle.close());
    const p = await wsPeer(port);
    const link = (await acceptor.peer(0)).link;
    p.send(Opcode.BINARY, Buffer.from(encodeJson('x', 1)).subarray(4, 8), false);
    await until(() => guard.unfinishedMessages === 1, 'started');
    link.pause();
    await sleep(500);
    expect(p.got.close).toBeUndefined();
    link.resume();
    await p.closed;
    expect(p.got.close).toBe(1008);
  });

  it('over maxUnfinishedBytes → close 1013 (WS_OVERLOADED) for the connection that would exceed it; shared with TCP', async () => {
    const guard = new InputGuard({ maxUnfinishedBytes: 100 * KiB, messageTimeout: 60_000 });
    const { server, port, close } = await httpServer();
    const acceptor = new FakeAcceptor();
    const handle = attachWebSocket(server, acceptor, { guard, closeTimeout: 500 });
    const tcp = await listenTcp(acceptor, { host: '127.0.0.1', guard, closeTimeout: 500 });
    cleanups.push(close, () => handle.close(), () => tcp.close());
    const t = await tcpPeer(tcp.port);
    t.socket.write(partialTcpFrame(200 * KiB, 60 * KiB));
    await until(() => guard.unfinishedBytes === 60 * KiB, 'tcp held');
    const w = await wsPeer(port);
    const big = Buffer.from(encodeJson('x', 'z'.repeat(100 * KiB))).subarray(4);
    w.send(Opcode.BINARY, big.subarray(0, 50 * KiB), false);
    await w.closed;
    expect(w.got.close).toBe(1013);
    expect(acceptor.peers.find((p) => p.errors.length > 0)!.errors[0]!.code).toBe('WS_OVERLOADED');
    expect(guard.unfinishedBytes).toBe(60 * KiB);
    t.socket.destroy();
    await until(() => guard.unfinishedBytes === 0, 'all released');
  });
});
