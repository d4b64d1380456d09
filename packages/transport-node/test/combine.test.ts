import type { Socket } from 'node:net';
import * as net from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeBinary, encodeJson, FrameDecoder, FrameType, parseDisconnect, type Frame } from '@stelar/codec-tcp';
import { encodeFrame, Opcode, Receiver } from '@stelar/codec-ws';
import { SendStatus, type Link } from '@stelar/core/internal';
import { selfSignedCert, until } from '@stelar/test-utils';
import { attachWebSocket, dialTcp, listenTcp, type TcpLink, type WsLink } from '../src/index';
import { COPY_MAX, gathered, GATHER_MAX, heldSockets, liveGathers, readDone, readStart, writeOut } from '../src/coalesce';
import { dialInto, FakeAcceptor, httpServer, json, upgrade } from './helpers';

/**
 * Write combining (coalesce.ts): while a socket is corked by its own read or held to the end of
 * the turn, small frames are gathered into one buffer and handed to the socket as one write.
 */
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const serverSocket = (link: Link): Socket => (link.transport === 'ws' ? (link as WsLink).connection.socket : (link as TcpLink).socket);

/** Runs `fn` in a turn of its own (a timer: outside any read, as a broadcast from elsewhere is). */
const inTimerTurn = (fn: () => void): Promise<void> =>
  new Promise<void>((done, fail) =>
    setTimeout(() => {
      try {
        fn();
        done();
      } catch (err) {
        fail(err as Error);
      }
    }, 5),
  );

/** Counts the stream-level writes of a socket and the size of every chunk handed to it. */
function countWrites(socket: Socket): { calls: number; chunks: number[] } {
  const n = { calls: 0, chunks: [] as number[] };
  const s = socket as Socket & { _write: (c: Buffer, ...a: unknown[]) => void; _writev: (chunks: Array<{ chunk: Buffer }>, cb: unknown) => void };
  const write = s._write.bind(s);
  const writev = s._writev.bind(s);
  s._write = (c: Buffer, ...a: unknown[]) => {
    n.calls++;
    n.chunks.push(c.length);
    write(c, ...a);
  };
  s._writev = (chunks: Array<{ chunk: Buffer }>, cb: unknown) => {
    n.calls++;
    for (const c of chunks) n.chunks.push(c.chunk.length);
    writev(chunks, cb);
  };
  return n;
}

/** A raw TCP client decoding what the server sends. */
async function tcpClient(port: number): Promise<{ socket: net.Socket; frames: Frame[]; closed: Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((r, j) => socket.once('connect', r).once('error', j));
  const frames: Frame[] = [];
  const decoder = new FrameDecoder((f) => frames.push({ type: f.type, event: f.event, payload: f.payload.slice() }));
  socket.on('data', (c: Buffer) => decoder.push(c));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  cleanups.push(() => socket.destroy());
  return { socket, frames, closed };
}

async function tcpServer(options: Parameters<typeof listenTcp>[1] = {}) {
  const acceptor = new FakeAcceptor({ echo: true });
  const listener = await listenTcp(acceptor, { host: '127.0.0.1', ...options });
  cleanups.push(() => listener.close());
  return { acceptor, listener };
}

/** What a raw WebSocket client saw, in wire order: `m:<event>` messages, `ping`, `pong:<payload>`, `close:<code>`. */
async function wsClient(port: number): Promise<{ socket: Socket; log: string[]; closed: Promise<void>; send: (opcode: number, payload: Uint8Array) => Buffer }> {
  const up = await upgrade(port);
  expect(up.status).toBe(101);
  const socket = up.socket!;
  const log: string[] = [];
  const rx = new Receiver(
    { role: 'client', maxMessageSize: 1 << 24 },
    {
      onMessage: (d) => {
        const d4 = Buffer.concat([Buffer.alloc(4), d]);
        d4.writeUInt32BE(d4.length, 0);
        let ev = '?';
        new FrameDecoder((f) => (ev = f.event)).push(d4);
        log.push(`m:${ev}`);
      },
      onPing: () => log.push('ping'),
      onPong: (p) => log.push(`pong:${p.toString()}`),
      onClose: (code) => log.push(`close:${code ?? 1005}`),
      onError: (e) => log.push(`error:${e.code}`),
    },
  );
  socket.on('data', (c: Buffer) => rx.push(c));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  cleanups.push(() => socket.destroy());
  const send = (opcode: number, payload: Uint8Array): Buffer => {
    const [h, p] = encodeFrame(Buffer.from(payload), { opcode, role: 'client' });
    return Buffer.concat([h, p]);
  };
  return { socket, log, closed, send };
}

async function wsServer(options: Parameters<typeof attachWebSocket>[2] = {}) {
  const http = await httpServer();
  const acceptor = new FakeAcceptor({ echo: true });
  const handle = attachWebSocket(http.server, acceptor, { closeTimeout: 500, ...options });
  cleanups.push(() => http.close());
  cleanups.push(() => handle.close());
  return { acceptor, port: http.port };
}

const small = (i: number) => encodeJson(`s${i}`, i); // ~15 bytes: gathered
const medium = (i: number) => encodeBinary(`m${i}`, new Uint8Array(2000).fill(i)); // > COPY_MAX: TCP writes it as it is
const large = (i: number) => encodeBinary(`l${i}`, new Uint8Array(40_000).fill(i)); // > GATHER_MAX

describe('combining: bytes leave in write order', () => {
  it('TCP, outside its reads: small, medium, large, ping and DISCONNECT in call order, each written as it is', async () => {
    expect(medium(0).length).toBeGreaterThan(COPY_MAX);
    const { acceptor, listener } = await tcpServer();
    const c = await tcpClient(listener.port);
    const link = (await acceptor.peer(0)).link;
    const counts = countWrites(serverSocket(link));
    await inTimerTurn(() => {
      link.send(small(1));
      link.send(small(2));
      link.send(large(3));
      link.send(small(4));
      link.ping();
      link.send(medium(5));
      link.send(small(6));
      link.send(small(7));
      link.close(4000, 'bye'); // DISCONNECT after the gathered frames, then end
    });
    await c.closed;
    expect(c.frames.map((f) => (f.type === FrameType.PING ? 'PING' : f.type === FrameType.DISCONNECT ? `DISCONNECT:${parseDisconnect(f.payload)!.code}` : f.event))).toEqual([
      's1',
      's2',
      'l3',
      's4',
      'PING',
      'm5',
      's6',
      's7',
      'DISCONNECT:4000',
    ]);
    // Outside reads nothing is copied (a broadcast frame stays shared): one chunk per frame.
    expect(counts.chunks.length).toBe(9);
    expect(liveGathers()).toBe(0);
  });

  it('TCP, in its own read: replies and a close written while reading keep their order; small ones are gathered', async () => {
    const { acceptor, listener } = await tcpServer();
    const c = await tcpClient(listener.port);
    const peer = await acceptor.peer(0);
    const counts = countWrites(serverSocket(peer.link));
    peer.echo = false;
    peer.onFrame = (frame) => {
      const i = json(frame) as number;
      peer.link.send(small(i));
      if (i % 5 === 0) peer.link.send(large(i));
      if (i % 7 === 0) peer.link.send(medium(i));
      if (i === 20) peer.link.close(4001, 'done');
    };
    // One chunk with 21 requests: every reply is written during the same read.
    c.socket.write(Buffer.concat(Array.from({ length: 21 }, (_, i) => encodeJson('q', i))));
    await c.closed;
    const want: string[] = [];
    for (let i = 0; i <= 20; i++) {
      want.push(`s${i}`);
      if (i % 5 === 0) want.push(`l${i}`);
      if (i % 7 === 0) want.push(`m${i}`);
    }
    want.push('');
    expect(c.frames.map((f) => f.event)).toEqual(want);
    expect(c.frames.at(-1)!.type).toBe(FrameType.DISCONNECT);
    // 30 frames; in one read: s0 l0 m0 [s1..s5] l5 [s6 s7] m7 [s8..s10] l10 [s11..s14] m14 [s15] l15
    // [s16..s20] l20 [DISCONNECT] = 16 chunks (more if the requests arrive in several reads).
    expect(want.length).toBe(30);
    expect(counts.chunks.length).toBeLessThan(24);
  });

  it('WebSocket: small, medium, large, ping and close frames in call order, outside its reads', async () => {
    const { acceptor, port } = await wsServer();
    const c = await wsClient(port);
    const link = (await acceptor.peer(0)).link;
    const counts = countWrites(serverSocket(link));
    await inTimerTurn(() => {
      link.send(small(1));
      link.send(medium(2)); // encoded into the gather buffer
      link.send(large(3));
      link.send(small(4));
      link.ping();
      link.send(small(5));
      link.close(4000, 'bye');
    });
    await c.closed;
    expect(c.log).toEqual(['m:s1', 'm:m2', 'm:l3', 'm:s4', 'ping', 'm:s5', 'close:4000']);
    // Nothing copied outside reads: s1 m2 l3(header, body) s4 ping s5 close(header, body).
    expect(counts.chunks.length).toBe(9);
  });

  it('WebSocket: replies and the pong of a ping read in the same chunk keep their order, gathered', async () => {
    const { acceptor, port } = await wsServer();
    const c = await wsClient(port);
    const counts = countWrites(serverSocket((await acceptor.peer(0)).link));
    // [a, ping "p", b, ping "q", c] in one write: echo a, pong p, echo b, pong q, echo c.
    const m = (e: string) => encodeJson(e, 1).subarray(4);
    c.socket.write(Buffer.concat([c.send(Opcode.BINARY, m('a')), c.send(Opcode.PING, Buffer.from('p')), c.send(Opcode.BINARY, m('b')), c.send(Opcode.PING, Buffer.from('q')), c.send(Opcode.BINARY, m('c'))]));
    await until(() => c.log.length === 5, 'five frames');
    expect(c.log).toEqual(['m:a', 'pong:p', 'm:b', 'pong:q', 'm:c']);
    // [a] then [pong p, b, pong q, c] in one gather buffer.
    expect(counts.chunks.length).toBe(2);
  });

  it('link.uncork() during a read hands over what was gathered', async () => {
    const { acceptor, listener } = await tcpServer();
    const c = await tcpClient(listener.port);
    const peer = await acceptor.peer(0);
    const link = peer.link as TcpLink;
    const seen: number[] = [];
    peer.onFrame = () => {
      link.cork();
      link.send(small(1));
      link.send(small(2));
      seen.push(link.bufferedAmount, gathered(link.socket)); // the first is queued as it is
      link.uncork();
      seen.push(link.bufferedAmount, gathered(link.socket));
    };
    c.socket.write(encodeJson('go', 1));
    await until(() => c.frames.length === 2);
    expect(c.frames.map((f) => f.event)).toEqual(['s1', 's2']);
    const [a, b] = [small(1).length, small(2).length];
    expect(seen).toEqual([a + b, b, a + b, 0]);
  });
});

describe('combining: bufferedAmount, high-water mark and drain', () => {
  it('bufferedAmount counts gathered bytes (TCP and WebSocket, replies in a read)', async () => {
    const tcp = await tcpServer();
    const tc = await tcpClient(tcp.listener.port);
    const ws = await wsServer();
    const wc = await wsClient(ws.port);
    const peers = [await tcp.acceptor.peer(0), await ws.acceptor.peer(0)];
    const seen: number[][] = [];
    for (const peer of peers) {
      peer.onFrame = () => {
        const s = serverSocket(peer.link);
        const row: number[] = [];
        for (let i = 1; i <= 3; i++) {
          peer.link.send(small(i));
          row.push(peer.link.bufferedAmount, gathered(s));
        }
        seen.push(row);
      };
    }
    tc.socket.write(encodeJson('go', 1));
    await until(() => seen.length === 1);
    wc.socket.write(wc.send(Opcode.BINARY, encodeJson('go', 1).subarray(4)));
    await until(() => seen.length === 2);
    const n = small(1).length;
    // TCP: whole frames; WebSocket: 2-byte header + frame without its 4-byte totalLen. The
    // first is queued as it is, the next ones gathered.
    expect(seen[0]).toEqual([n, 0, 2 * n, n, 3 * n, 2 * n]);
    const m = n - 2;
    expect(seen[1]).toEqual([m, 0, 2 * m, m, 3 * m, 2 * m]);
    await until(() => peers.every((p) => p.link.bufferedAmount === 0), 'flushed');
  });

  it('a held socket is released when its queued bytes reach its high-water mark; frames stay in order', async () => {
    const { acceptor, listener } = await tcpServer();
    const c = await tcpClient(listener.port);
    const link = (await acceptor.peer(0)).link as TcpLink;
    const s = link.socket;
    const counts = countWrites(s);
    const buffered: number[] = [];
    const corked: number[] = [];
    const frames = Array.from({ length: 1000 }, (_, i) => encodeJson('n', [i, 'x'.repeat(20)])); // ~35 bytes each
    await inTimerTurn(() => {
      for (const f of frames) {
        link.send(f);
        buffered.push(link.bufferedAmount);
        corked.push(s.writableCorked);
      }
    });
    await until(() => c.frames.length === 1000, 'all frames');
    expect(c.frames.map((f) => (json(f) as number[])[0])).toEqual([...Array(1000).keys()]);
    // Never a high-water mark's worth held: released (uncorked) each time it is reached.
    expect(Math.max(...buffered)).toBeLessThan(s.writableHighWaterMark);
    expect(corked.filter((k) => k === 0).length).toBeGreaterThanOrEqual(1);
    // ~35 KB: released at least once before the end of the turn.
    expect(counts.calls).toBeGreaterThanOrEqual(2);
  });

  for (const transport of ['tcp', 'ws'] as const) {
    for (const where of ['read', 'timer'] as const) {
      it(`${transport}, sends in a ${where}: BUFFERED under backpressure, and onDrain fires once the peer reads`, async () => {
        const limits = { highWaterMark: 64 * 1024, maxBufferedAmount: 64 * 1024 * 1024 };
        let client: Socket;
        let trigger: Buffer;
        let peer;
        if (transport === 'tcp') {
          const srv = await tcpServer(limits);
          client = (await tcpClient(srv.listener.port)).socket;
          peer = await srv.acceptor.peer(0);
          trigger = Buffer.from(encodeJson('go', 1));
        } else {
          const srv = await wsServer(limits);
          const wc = await wsClient(srv.port);
          client = wc.socket;
          peer = await srv.acceptor.peer(0);
          trigger = wc.send(Opcode.BINARY, encodeJson('go', 1).subarray(4));
        }
        const link = peer.link;
        client.pause();
        let sent = 0;
        let rounds = 0;
        let status: SendStatus = SendStatus.OK;
        const burst = (): void => {
          rounds++;
          for (let i = 0; i < 2000 && status === SendStatus.OK; i++) {
            status = link.send(encodeBinary('x', new Uint8Array(100)));
            sent++;
          }
        };
        // Bursts of small frames (in a read of a trigger frame: gathered) until the kernel
        // buffers are full and sends say BUFFERED.
        peer.onFrame = burst;
        for (let turn = 0; turn < 400 && status === SendStatus.OK; turn++) {
          if (where === 'timer') await inTimerTurn(burst);
          else {
            const before = rounds;
            client.write(trigger);
            await until(() => rounds > before, 'burst');
          }
        }
        expect(status).toBe(SendStatus.BUFFERED);
        if (where === 'timer') {
          expect(link.bufferedAmount).toBeGreaterThan(limits.highWaterMark);
          expect(peer.drains).toBe(0);
        }
        // (In a read, BUFFERED comes from the bytes corked and gathered during that read; the
        // kernel may take them all once it ends, and onDrain may then come before the resume.)
        client.resume();
        await until(() => peer.drains === 1, 'onDrain');
        expect(link.bufferedAmount).toBe(0);
        expect(sent).toBeGreaterThan(100);
      });
    }
  }
});

/** A connected pair on loopback (closed after the test): the server side, and what the client receives. */
async function socketPair(): Promise<{ s: Socket; received: Buffer[] }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const client = net.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
  cleanups.push(() => client.destroy());
  const s = await accepted;
  cleanups.push(() => s.destroy());
  const received: Buffer[] = [];
  client.on('data', (c: Buffer) => received.push(c));
  return { s, received };
}

describe('combining: memory, bounds, destroy, TLS', () => {
  it('no gather state outlives its read, and a gather buffer never exceeds GATHER_MAX', async () => {
    const { s, received } = await socketPair();
    const counts = countWrites(s);
    const chunks = Array.from({ length: 1000 }, (_, i) => new Uint8Array(100).fill(i & 0xff));
    expect(liveGathers()).toBe(0);
    // As a read does: 100 KB of small chunks written while the socket's read is handled.
    const token = readStart(s);
    let most = 0;
    for (const ch of chunks) {
      writeOut(s, ch);
      most = Math.max(most, gathered(s));
    }
    expect(liveGathers()).toBe(1);
    readDone(s, token);
    expect(liveGathers()).toBe(0);
    expect(most).toBeLessThanOrEqual(GATHER_MAX);
    expect(Math.max(...counts.chunks)).toBeLessThanOrEqual(GATHER_MAX);
    expect(counts.chunks.length).toBeLessThan(10);
    await until(() => received.reduce((n, b) => n + b.length, 0) === 100_000, 'all bytes');
    expect(Buffer.concat(received).equals(Buffer.concat(chunks))).toBe(true);
    // Outside a read nothing is gathered: held to the end of the turn, with no timer left behind.
    await inTimerTurn(() => {
      writeOut(s, chunks[0]!);
      writeOut(s, chunks[1]!);
      expect(liveGathers()).toBe(0);
      expect(heldSockets()).toBe(1);
    });
    await new Promise((r) => setImmediate(r));
    expect(liveGathers()).toBe(0);
    expect(heldSockets()).toBe(0);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Immediate')).toEqual([]);
  });

  it('write callbacks of gathered chunks run once their bytes are handed over, in order', async () => {
    const { s, received } = await socketPair();
    const calls: string[] = [];
    const token = readStart(s);
    writeOut(s, Buffer.from('a'));
    writeOut(s, Buffer.from('b'), () => calls.push(`b:${s.writableLength}`));
    writeOut(s, Buffer.from('c'), () => calls.push('c'));
    writeOut(s, Buffer.from('d'));
    expect(calls).toEqual([]);
    readDone(s, token);
    await until(() => calls.length === 2 && Buffer.concat(received).toString() === 'abcd', 'callbacks and bytes');
    expect(calls).toEqual(['b:0', 'c']);
  });

  it('terminate() or a socket error drops gathered bytes: nothing reaches the peer, no error', async () => {
    const errors: unknown[] = [];
    const { acceptor, listener } = await tcpServer({ onError: (e) => errors.push(e) });
    const a = await tcpClient(listener.port);
    const b = await tcpClient(listener.port);
    const [pa, pb] = [await acceptor.peer(0), await acceptor.peer(1)];
    const [la, lb] = [pa.link, pb.link];
    let gatheredBefore = -1;
    pa.onFrame = () => {
      // In a read: the second one is gathered when the link is terminated.
      la.send(small(1));
      la.send(small(2));
      gatheredBefore = gathered(serverSocket(la));
      la.terminate();
    };
    a.socket.write(encodeJson('go', 1));
    await until(() => gatheredBefore >= 0);
    expect(gatheredBefore).toBe(small(2).length);
    await inTimerTurn(() => {
      lb.send(small(3));
      lb.send(small(4));
      serverSocket(lb).destroy(new Error('boom'));
    });
    await Promise.all([a.closed, b.closed]);
    expect([a.frames.length, b.frames.length]).toEqual([0, 0]);
    await until(() => liveGathers() === 0 && heldSockets() === 0, 'states dropped');
    await until(() => acceptor.peers.every((p) => p.closed !== null), 'onClose');
    expect(errors).toEqual([]);
    expect(acceptor.peers.map((p) => p.closed?.code)).toEqual([1006, 1006]);
  });

  describe('TLS', () => {
    let cert: { key: string; cert: string };
    beforeAll(() => {
      cert = selfSignedCert();
    });

    it('TcpLink over TLS: gathered replies, broadcasts, a large frame and DISCONNECT arrive in order', async () => {
      const { acceptor, listener } = await tcpServer({ tls: cert });
      const client = await dialInto(dialTcp(`tls://127.0.0.1:${listener.port}`, { ca: cert.cert }));
      cleanups.push(() => client.link.terminate());
      const server = await acceptor.peer(0);
      // Replies written during the server's read (echo), then a timer turn of sends and a close.
      for (let i = 0; i < 50; i++) client.link.send(encodeJson('e', i));
      await until(() => client.frames.length === 50, 'echoes');
      expect(client.frames.map((f) => json(f))).toEqual([...Array(50).keys()]);
      await inTimerTurn(() => {
        for (let i = 0; i < 30; i++) server.link.send(small(i));
        server.link.send(large(30));
        server.link.send(small(31));
        server.link.close(4002, 'tls bye');
      });
      await until(() => client.closed !== null, 'closed');
      expect(client.frames.slice(50).map((f) => f.event)).toEqual([...Array.from({ length: 30 }, (_, i) => `s${i}`), 'l30', 's31', '']);
      expect(client.closed).toEqual({ code: 4002, reason: 'tls bye' });
    });
  });
});
