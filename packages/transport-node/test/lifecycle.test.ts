import { describe, expect, it } from 'vitest';
import { encodeJson } from '@stelar/codec-tcp';
import { selfSignedCert, sleep, until } from '@stelar/test-utils';
import { attachWebSocket, ConnectionLimits, dialTcp, dialWebSocket, listenTcp } from '../src/index';
import { dialInto, FakeAcceptor, httpServer } from './helpers';

/** Sockets, servers and timers alive in this process. */
function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) if (/TCP|TLS|Timeout|Pipe/.test(r)) out[r] = (out[r] ?? 0) + 1;
  return out;
}

describe('lifecycle', () => {
  it('leaves no sockets, servers or timers behind once everything is closed', async () => {
    await sleep(20);
    const before = resources();
    const cert = selfSignedCert();
    const acceptor = new FakeAcceptor({ echo: true });
    const limits = new ConnectionLimits({ maxConnections: 100 });
    const http = await httpServer();
    const ws = attachWebSocket(http.server, acceptor, { limits, perMessageDeflate: true, closeTimeout: 300 });
    const tcp = await listenTcp(acceptor, { host: '127.0.0.1', limits, closeTimeout: 300 });
    const tls = await listenTcp(acceptor, { host: '127.0.0.1', tls: cert, limits, closeTimeout: 300 });

    const clients = [
      await dialInto(dialWebSocket(`ws://127.0.0.1:${http.port}`, { perMessageDeflate: true })),
      await dialInto(dialWebSocket(`ws://127.0.0.1:${http.port}`)),
      await dialInto(dialTcp(`tcp://127.0.0.1:${tcp.port}`)),
      await dialInto(dialTcp(`tls://127.0.0.1:${tls.port}`, { ca: cert.cert })),
    ];
    for (const c of clients) c.link.send(encodeJson('echo', { big: 'e'.repeat(4000) }));
    await until(() => clients.every((c) => c.frames.length === 1), 'echoes');
    expect(limits.connections).toBe(4);

    // Close one of each kind from each side, terminate the rest, then the listeners.
    clients[0]!.link.close(1000, 'client');
    acceptor.peers[1]!.link.close(1001, 'server');
    clients[2]!.link.close(1000, 'client');
    await until(() => clients[0]!.closed !== null && clients[1]!.closed !== null && clients[2]!.closed !== null);
    ws.close();
    await tcp.close();
    await tls.close(); // closes the last one with 1001
    expect(clients[3]!.closed === null || clients[3]!.closed.code === 1001).toBe(true);
    await until(() => clients.every((c) => c.closed !== null) && acceptor.peers.every((p) => p.closed !== null), 'all closed');
    expect(acceptor.peers.map((p) => p.closeCount)).toEqual([1, 1, 1, 1]);
    expect(clients.map((c) => c.closeCount)).toEqual([1, 1, 1, 1]);
    expect([ws.connections, tcp.connections, tls.connections, limits.connections]).toEqual([0, 0, 0, 0]);
    await http.close();
    await sleep(20);
    const after = resources();
    for (const [kind, n] of Object.entries(after)) expect(n, kind).toBeLessThanOrEqual(before[kind] ?? 0);
  });
});
