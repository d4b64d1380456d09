import type { Socket } from 'node:net';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeBinary, encodeJson, FrameDecoder, type Frame } from '@stelar/codec-tcp';
import type { Link } from '@stelar/core/internal';
import { until } from '@stelar/test-utils';
import { attachWebSocket, dialWebSocket, listenTcp, type TcpLink, type WsLink } from '../src/index';
import { heldSockets, holdWrites } from '../src/coalesce';
import { dialInto, FakeAcceptor, httpServer, json, Peer } from './helpers';

/**
 * Writes outside a socket's own reads are corked until the end of the event-loop turn: a burst of
 * sends to one socket in one turn is one writev system call. Replies written while the socket's
 * own read is handled still leave at the end of that read.
 */
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Counts the stream-level writes of a socket: `_write` (one chunk) and `_writev` (several). */
function countWrites(socket: Socket): { write: number; writev: number; chunks: number } {
  const n = { write: 0, writev: 0, chunks: 0 };
  const s = socket as Socket & { _write: (...a: unknown[]) => void; _writev: (chunks: unknown[], cb: unknown) => void };
  const write = s._write.bind(s);
  const writev = s._writev.bind(s);
  s._write = (...a: unknown[]) => {
    n.write++;
    n.chunks++;
    write(...a);
  };
  s._writev = (chunks: unknown[], cb: unknown) => {
    n.writev++;
    n.chunks += chunks.length;
    writev(chunks, cb);
  };
  return n;
}

const serverSocket = (link: Link): Socket =>
  link.transport === 'tcp' ? (link as TcpLink).socket : (link as WsLink).connection.socket;

async function wsPair(clients: number): Promise<{ acceptor: FakeAcceptor; peers: Peer[] }> {
  const http = await httpServer();
  const acceptor = new FakeAcceptor();
  const handle = attachWebSocket(http.server, acceptor);
  cleanups.push(() => http.close());
  cleanups.push(() => handle.close());
  const peers: Peer[] = [];
  for (let i = 0; i < clients; i++) {
    const peer = await dialInto(dialWebSocket(`ws://127.0.0.1:${http.port}`));
    cleanups.push(() => peer.link.terminate());
    peers.push(peer);
  }
  await until(() => acceptor.peers.length === clients);
  return { acceptor, peers };
}

async function tcpPair(clients: number): Promise<{ acceptor: FakeAcceptor; received: Frame[][] }> {
  const acceptor = new FakeAcceptor();
  const listener = await listenTcp(acceptor, { host: '127.0.0.1' });
  cleanups.push(() => listener.close());
  const received: Frame[][] = [];
  for (let i = 0; i < clients; i++) {
    const socket = net.connect({ host: '127.0.0.1', port: listener.port });
    await new Promise<void>((r, j) => socket.once('connect', r).once('error', j));
    const frames: Frame[] = [];
    const decoder = new FrameDecoder((f) => frames.push({ type: f.type, event: f.event, payload: f.payload.slice() }));
    socket.on('data', (c: Buffer) => decoder.push(c));
    socket.on('error', () => undefined);
    cleanups.push(() => socket.destroy());
    received.push(frames);
  }
  await until(() => acceptor.peers.length === clients);
  return { acceptor, received };
}

describe('write coalescing within one event-loop turn', () => {
  it('WebSocket: a burst of 20 broadcasts is one writev per recipient, in order', async () => {
    const { acceptor, peers } = await wsPair(3);
    const counts = acceptor.peers.map((p) => countWrites(serverSocket(p.link)));
    // Outside any read of these sockets (a timer's turn), as a broadcast from another socket is.
    await new Promise<void>((done) =>
      setTimeout(() => {
        for (let i = 0; i < 20; i++) {
          const frame = encodeJson('n', i);
          for (const p of acceptor.peers) p.link.send(frame);
        }
        expect(heldSockets()).toBe(3);
        expect(acceptor.peers.every((p) => serverSocket(p.link).writableCorked === 1)).toBe(true);
        done();
      }, 5),
    );
    await until(() => peers.every((p) => p.frames.length === 20), 'all frames');
    for (const p of peers) expect(p.frames.map((f) => json(f))).toEqual([...Array(20).keys()]);
    for (const c of counts) expect(c).toEqual({ write: 0, writev: 1, chunks: 20 });
    expect(heldSockets()).toBe(0);
  });

  it('held bytes never pass for a slow peer: a socket is released once they reach its high-water mark', async () => {
    const { acceptor, peers } = await wsPair(1);
    const socket = serverSocket(acceptor.peers[0]!.link);
    const counts = countWrites(socket);
    const seen: number[] = [];
    await new Promise<void>((done) =>
      setTimeout(() => {
        for (let i = 0; i < 10; i++) {
          // 4 KiB frames, then one large one (header and body written as a pair).
          acceptor.peers[0]!.link.send(i === 9 ? encodeBinary('big', new Uint8Array(40_000).fill(9)) : encodeBinary('b', new Uint8Array(4096).fill(i)));
          seen.push(acceptor.peers[0]!.link.bufferedAmount);
        }
        done();
      }, 5),
    );
    await until(() => peers[0]!.frames.length === 10, 'all frames');
    expect(peers[0]!.frames.map((f) => f.payload[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Released at 16 KiB (4 frames), again at 8 frames; loopback takes everything at once.
    expect(Math.max(...seen.slice(0, 9))).toBeLessThan(socket.writableHighWaterMark);
    expect(counts.writev).toBeGreaterThanOrEqual(3);
    expect(counts.chunks).toBe(11);
  });

  it('TCP: a burst of 20 sends is one writev per recipient, in order', async () => {
    const { acceptor, received } = await tcpPair(2);
    const counts = acceptor.peers.map((p) => countWrites(serverSocket(p.link)));
    await new Promise<void>((done) =>
      setTimeout(() => {
        for (let i = 0; i < 20; i++) {
          const frame = encodeJson('n', i);
          for (const p of acceptor.peers) p.link.send(frame);
        }
        done();
      }, 5),
    );
    await until(() => received.every((r) => r.length === 20), 'all frames');
    for (const r of received) expect(r.map((f) => json(f))).toEqual([...Array(20).keys()]);
    for (const c of counts) expect(c).toEqual({ write: 0, writev: 1, chunks: 20 });
  });

  it('a reply written while its own socket reads is not deferred to the end of the turn', async () => {
    const acceptor = new FakeAcceptor();
    const listener = await listenTcp(acceptor, { host: '127.0.0.1' });
    cleanups.push(() => listener.close());
    const socket = net.connect({ host: '127.0.0.1', port: listener.port });
    cleanups.push(() => socket.destroy());
    await new Promise<void>((r) => socket.once('connect', r));
    const server = await acceptor.peer(0);
    const seen: Array<{ held: number; corked: number; queuedAfterRead: number }> = [];
    server.onFrame = (frame) => {
      const s = serverSocket(server.link);
      server.link.send(encodeJson('re', json(frame)));
      const at = { held: heldSockets(), corked: s.writableCorked, queuedAfterRead: -1 };
      seen.push(at);
      // Runs right after the read is handled, before any setImmediate: the reply is already
      // handed to the kernel (loopback takes it at once), not waiting in a corked buffer.
      queueMicrotask(() => (at.queuedAfterRead = s.writableLength + s.writableCorked));
    };
    socket.write(encodeJson('ping', 1));
    await until(() => seen.length === 1 && seen[0]!.queuedAfterRead >= 0);
    expect(seen[0]).toEqual({ held: 0, corked: 1, queuedAfterRead: 0 });
  });

  it('a socket ended or destroyed while held is flushed or dropped without error', async () => {
    const { acceptor, received } = await tcpPair(2);
    const [a, b] = acceptor.peers.map((p) => serverSocket(p.link));
    await new Promise<void>((done) =>
      setTimeout(() => {
        acceptor.peers[0]!.link.send(encodeJson('last', 1));
        acceptor.peers[0]!.link.close(1000, 'bye'); // end() uncorks: the frame and DISCONNECT go now
        acceptor.peers[1]!.link.send(encodeJson('lost', 1));
        b!.destroy();
        holdWrites(b!); // a destroyed socket may still be held: its flush is a no-op
        done();
      }, 5),
    );
    await until(() => received[0]!.length === 2, 'frame and DISCONNECT');
    expect(received[0]!.map((f) => f.event)).toEqual(['last', '']);
    await until(() => heldSockets() === 0);
    expect(a!.writableCorked).toBe(0);
  });
});
