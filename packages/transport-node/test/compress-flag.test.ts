/**
 * The per-send compress flag (issue 15 item 8): `link.send(frame, volatile, false)` sends a
 * message uncompressed even where permessage-deflate was negotiated and the message is above the
 * threshold; omitted, the threshold rule applies. Seen on the wire as the bytes the peer's socket
 * read for a very compressible 100 kB message. TCP links take the flag and ignore it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeJson } from '@stelar/codec-tcp';
import { attachWebSocket, dialWebSocket, type WsConnection } from '../src/index';
import { until } from '@stelar/test-utils';
import { dialInto, FakeAcceptor, httpServer, json, type Peer } from './helpers';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const socketOf = (p: Peer) => (p.link as unknown as { connection: WsConnection }).connection.socket;

describe('compress flag on a WebSocket link with permessage-deflate', () => {
  it('false: the message goes uncompressed (both roles); omitted or true: compressed above the threshold', async () => {
    const http = await httpServer();
    const acceptor = new FakeAcceptor();
    const handle = attachWebSocket(http.server, acceptor, { perMessageDeflate: { threshold: 64 } });
    cleanups.push(() => http.close(), () => handle.close());
    const client = await dialInto(dialWebSocket(`ws://127.0.0.1:${http.port}`, { perMessageDeflate: { threshold: 64 } }));
    cleanups.push(() => client.link.terminate());
    const server = await acceptor.peer(0);
    const frame = encodeJson('big', { text: 'z'.repeat(100_000) });

    const read = async (peer: Peer, count: number, send: () => void): Promise<number> => {
      const before = socketOf(peer).bytesRead;
      send();
      await until(() => peer.frames.length === count, 'frame');
      return socketOf(peer).bytesRead - before;
    };
    // Server → client (the broadcast path of the server role) …
    const compressed = await read(client, 1, () => server.link.send(frame));
    const plain = await read(client, 2, () => server.link.send(frame, false, false));
    const again = await read(client, 3, () => server.link.send(frame, false, true));
    // … and client → server.
    const up = await read(server, 1, () => client.link.send(frame, false, false));
    const upCompressed = await read(server, 2, () => client.link.send(frame));

    expect(compressed).toBeLessThan(2000);
    expect(again).toBeLessThan(2000);
    expect(plain).toBeGreaterThan(100_000);
    expect(up).toBeGreaterThan(100_000);
    expect(upCompressed).toBeLessThan(2000);
    for (const f of [...client.frames, ...server.frames]) expect((json(f) as { text: string }).text.length).toBe(100_000);
  });
});
