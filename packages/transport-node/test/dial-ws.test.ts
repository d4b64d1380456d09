import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeJson } from '@stelar/codec-tcp';
import { selfSignedCert, until } from '@stelar/test-utils';
import { attachWebSocket, DialError, dialWebSocket } from '../src/index';
import { dialInto, FakeAcceptor, httpServer, Peer } from './helpers';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function plainServer(handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return (server.address() as AddressInfo).port;
}

describe('dialWebSocket: failures', () => {
  it('rejects a non-101 answer with its status; 4xx is fatal except 408 and 429', async () => {
    const statuses = [403, 404, 408, 429, 500, 503];
    let i = 0;
    const port = await plainServer((_req, res) => {
      res.statusCode = statuses[i++]!;
      res.end('no websocket for you');
    });
    const results: Array<{ status: number | undefined; fatal: boolean; message: string }> = [];
    for (let k = 0; k < statuses.length; k++) {
      const err = (await dialInto(dialWebSocket(`ws://127.0.0.1:${port}/x`)).catch((e: unknown) => e)) as DialError;
      expect(err).toBeInstanceOf(DialError);
      results.push({ status: err.status, fatal: err.fatal, message: err.message });
    }
    expect(results.map((r) => [r.status, r.fatal])).toEqual([
      [403, true],
      [404, true],
      [408, false],
      [429, false],
      [500, false],
      [503, false],
    ]);
    expect(results[0]!.message).toMatch(/HTTP 403 Forbidden \(no websocket for you\)/);
  });

  it('rejects a 101 with a wrong accept key', async () => {
    const server = http.createServer();
    server.on('upgrade', (_req, socket) => {
      socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: nope\r\n\r\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const err = await dialInto(dialWebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'WS_HANDSHAKE_BAD_ACCEPT', fatal: false });
  });

  it('rejects ECONNREFUSED (retryable) and bad URLs (thrown at once)', async () => {
    const port = await plainServer(() => undefined);
    cleanups.pop()!; // keep the port, close the server now
    const tmp = http.createServer();
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
    const freePort = (tmp.address() as AddressInfo).port;
    await new Promise<void>((r) => tmp.close(() => r()));
    const err = await dialInto(dialWebSocket(`ws://127.0.0.1:${freePort}`)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ECONNREFUSED', fatal: false });
    expect(() => dialWebSocket('tcp://127.0.0.1:1')).toThrow(/scheme/);
    expect(port).toBeGreaterThan(0);
  });

  it('aborts a pending dial and destroys the request', async () => {
    let seen = 0;
    const port = await plainServer(() => {
      seen++; // never answers
    });
    const ac = new AbortController();
    const pending = dialWebSocket(`ws://127.0.0.1:${port}`)(new Peer(), ac.signal);
    await until(() => seen === 1, 'request at the server');
    ac.abort(new Error('give up'));
    await expect(pending).rejects.toThrow('give up');
  });
});

describe('wss:// through an https server', () => {
  let cert: { key: string; cert: string };
  beforeAll(() => {
    cert = selfSignedCert();
  });

  it('upgrades over TLS (transport wss), round-trips, and refuses an untrusted certificate (fatal)', async () => {
    const server = https.createServer(cert, (_req, res) => res.end('hello over tls'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    const acceptor = new FakeAcceptor();
    const handle = attachWebSocket(server, acceptor, { perMessageDeflate: true });
    cleanups.push(() => handle.close());
    const url = `wss://localhost:${(server.address() as AddressInfo).port}/ws`;

    const client = await dialInto(dialWebSocket(url, { ca: cert.cert, perMessageDeflate: true }));
    const peer = await acceptor.peer(0);
    expect(peer.link.transport).toBe('wss');
    expect(client.link.transport).toBe('wss');
    client.link.send(encodeJson('tls', { big: 'q'.repeat(3000) }));
    await until(() => peer.frames.length === 1);
    peer.link.send(encodeJson('back', 1));
    await until(() => client.frames.length === 1);
    client.link.close(1000, '');
    await until(() => peer.closed !== null && client.closed !== null);
    expect(handle.connections).toBe(0);

    const err = await dialInto(dialWebSocket(url)).catch((e: unknown) => e);
    expect(err).toMatchObject({ fatal: true });
    expect((err as Error).message).toMatch(/certificate/);
  });
});

describe('dialWebSocket: request details', () => {
  it('sends custom headers, Origin and subprotocols', async () => {
    const { server, port, close } = await httpServer();
    cleanups.push(close);
    const acceptor = new FakeAcceptor();
    const handle = attachWebSocket(server, acceptor, { protocols: ['b', 'a'], allowOrigins: ['https://app.example'] });
    cleanups.push(() => handle.close());
    const client = await dialInto(
      dialWebSocket(`ws://127.0.0.1:${port}/p?q=1`, { headers: { Authorization: 'Bearer t' }, origin: 'https://app.example', protocols: ['a', 'b'] }),
    );
    const peer = await acceptor.peer(0);
    expect(peer.link.upgradeRequest).toMatchObject({ url: '/p?q=1', headers: { authorization: 'Bearer t', origin: 'https://app.example' } });
    expect((client.link as unknown as { connection: { protocol: string } }).connection.protocol).toBe('a');
    client.link.terminate();
  });
});
