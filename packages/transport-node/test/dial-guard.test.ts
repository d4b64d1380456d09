// "This is not a Stelar server", as the dialers see it: the first bytes on tcp:// (guardFirstBytes)
// and the HTTP answer on ws://. Each case is a real socket on 127.0.0.1.
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeJson, encodeServerConnect } from '@stelar/codec-tcp';
import { DialError, dialTcp, dialWebSocket } from '../src/index';
import { dialInto, Peer, until } from './helpers';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** A TCP server that answers the first bytes it gets with `chunks`, written one by one. */
async function answering(...chunks: Uint8Array[]): Promise<number> {
  return listen(
    net.createServer((socket) => {
      socket.on('error', () => socket.destroy());
      socket.once('data', () => {
        for (const c of chunks) socket.write(c);
      });
    }),
  );
}

/** Dials tcp:// with a peer that does not close on errors (to see everything the link reports). */
async function dialTcpPeer(port: number, maxFrameSize?: number): Promise<Peer> {
  const peer = new Peer();
  peer.closeOnError = false;
  await dialInto(dialTcp(`tcp://127.0.0.1:${port}`, maxFrameSize === undefined ? {} : { maxFrameSize }), peer);
  cleanups.push(() => peer.link.terminate());
  peer.link.send(encodeJson('hello', 1)); // servers answer once they hear something
  return peer;
}

describe('tcp:// first bytes that cannot start a Stelar frame: one NOT_STELAR protocol error quoting them, nothing else', () => {
  it('an HTTP server (its 400 answer would otherwise read as a 1.2 GB frame)', async () => {
    const server = http.createServer((_req, res) => res.end('page'));
    const port = await listen(server);
    const peer = await dialTcpPeer(port);
    await until(() => peer.errors.length > 0 && peer.closed !== null, 'the error and the close');
    expect(peer.errors).toEqual([
      { code: 'NOT_STELAR', message: `tcp://127.0.0.1:${port} is not a Stelar server: it answered with HTTP ("HTTP/1.1 400 Bad Request"); use ws:// or wss:// for a WebSocket endpoint`, closeCode: 1002 },
    ]);
    expect(peer.frames).toEqual([]);
  });

  it('"HTTP/" split over several reads is still recognised', async () => {
    const port = await answering(Buffer.from('HT'), Buffer.from('TP/1.0 200 OK\r\n\r\n'));
    const peer = await dialTcpPeer(port);
    await until(() => peer.errors.length > 0, 'the error');
    expect(peer.errors[0]!.message).toContain('it answered with HTTP ("HTTP/1.0 200 OK")');
  });

  it('a TLS alert (a TLS port dialled with tcp://) and a length out of bounds', async () => {
    const tlsPort = await answering(new Uint8Array([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46]));
    const tlsPeer = await dialTcpPeer(tlsPort);
    const tinyPort = await answering(new Uint8Array([0, 0, 0, 3, 7, 0, 0]));
    const tinyPeer = await dialTcpPeer(tinyPort);
    const textPort = await answering(Buffer.from('-ERR unknown command\r\n'));
    const textPeer = await dialTcpPeer(textPort, 1 << 20);
    await until(() => tlsPeer.errors.length > 0 && tinyPeer.errors.length > 0 && textPeer.errors.length > 0, 'the three errors');
    expect(tlsPeer.errors[0]!.message).toBe(`tcp://127.0.0.1:${tlsPort} is not a Stelar server: it answered with a TLS alert (15 03 01 00 02 02 46); use tls:// for a TLS port`);
    expect(tinyPeer.errors[0]!.message).toBe(`tcp://127.0.0.1:${tinyPort} is not a Stelar server: its first bytes (00 00 00 03 07 00 00) are not a Stelar frame (length 3, limit 16777216)`);
    expect(textPeer.errors[0]!.message).toBe(
      `tcp://127.0.0.1:${textPort} is not a Stelar server: its first bytes (2d 45 52 52 20 75 6e 6b, "-ERR unknown com") are not a Stelar frame (length 759517778, limit 1048576)`,
    );
    expect([tlsPeer, tinyPeer, textPeer].map((p) => [p.errors.length, p.frames.length])).toEqual([[1, 0], [1, 0], [1, 0]]);
  });

  it('a Stelar answer passes untouched, even when its header arrives a byte at a time', async () => {
    const hello = encodeServerConnect({ v: 1, id: 'abc', heartbeat: 0, maxFrame: 1 << 20 });
    const later = encodeJson('news', { n: 1 });
    const port = await listen(
      net.createServer((socket) => {
        socket.on('error', () => socket.destroy());
        socket.once('data', () => {
          let i = 0;
          const step = (): void => {
            if (i < 5) socket.write(hello.subarray(i, ++i));
            else {
              socket.write(hello.subarray(5));
              socket.write(later);
              return;
            }
            setTimeout(step, 5);
          };
          step();
        });
      }),
    );
    const peer = await dialTcpPeer(port);
    await until(() => peer.frames.length === 2, 'both frames');
    expect(peer.errors).toEqual([]);
    expect(peer.frames.map((f) => [f.type, f.event])).toEqual([
      [7, ''],
      [1, 'news'],
    ]);
  });
});

describe('ws:// answers that show the URL is not a Stelar server: NOT_STELAR, fatal', () => {
  it('a 2xx or 3xx instead of 101 (an ordinary page, a redirect) keeps its status; 4xx and 5xx stay WS_UPGRADE_REFUSED', async () => {
    const answers: Array<[number, Record<string, string>]> = [
      [200, {}],
      [302, { Location: '/elsewhere' }],
      [503, {}],
    ];
    let i = 0;
    const server = http.createServer((_req, res) => {
      const [status, headers] = answers[i++]!;
      res.writeHead(status, headers).end('an ordinary page');
    });
    const port = await listen(server);
    const errs: DialError[] = [];
    for (let k = 0; k < answers.length; k++) errs.push((await dialInto(dialWebSocket(`ws://127.0.0.1:${port}/app`)).catch((e: unknown) => e)) as DialError);
    expect(errs.map((e) => [e.code, e.status, e.fatal])).toEqual([
      ['NOT_STELAR', 200, true],
      ['NOT_STELAR', 302, true],
      ['WS_UPGRADE_REFUSED', 503, false],
    ]);
    expect(errs[0]!.message).toBe(`WebSocket dial to ws://127.0.0.1:${port}/app: not a Stelar server: it answered HTTP 200 OK (an ordinary page) instead of switching protocols`);
    expect(errs[1]!.message).toContain('HTTP 302 Found (an ordinary page) instead of switching protocols (Location: /elsewhere)');
  });

  it('an answer that is not HTTP at all (a tcp:// port dialled with ws://)', async () => {
    const port = await answering(encodeJson('x', 1));
    const err = (await dialInto(dialWebSocket(`ws://127.0.0.1:${port}/`)).catch((e: unknown) => e)) as DialError;
    expect(err).toBeInstanceOf(DialError);
    expect([err.code, err.fatal]).toEqual(['NOT_STELAR', true]);
    expect(err.message).toMatch(/^WebSocket dial to ws:\/\/127\.0\.0\.1:\d+\/: not a Stelar server: its answer is not HTTP \(Parse Error: .*\); a tcp:\/\/ or tls:\/\/ port\?$/);
  });
});
