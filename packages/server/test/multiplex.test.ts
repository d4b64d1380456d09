/**
 * Several independent apps on one port (issue 15 item 8, the documented equivalent of
 * namespaces): one Stelar server per WebSocket path on one HTTP server, each with its own
 * handlers, rooms, connections and broadcasts; ordinary HTTP requests stay the application's.
 * Over TCP each server has its own port. Several apps over one connection are not provided.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '@stelar/client-node';
import { createServer } from '../src/index';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('one HTTP server, one Stelar server per path', () => {
  it('keeps handlers, rooms, connections and broadcasts apart; TCP gets a port per server', async () => {
    const httpServer = http.createServer((_req, res) => res.end('page'));
    const chat = createServer({ server: httpServer, ws: { path: '/chat' }, tcpPort: 0, host: '127.0.0.1', heartbeat: false });
    const admin = createServer({ server: httpServer, ws: { path: '/admin' }, tcpPort: 0, host: '127.0.0.1', heartbeat: false });
    chat.on('where', () => 'chat');
    admin.on('where', () => 'admin');
    const { tcpPort: chatTcp } = await chat.listen();
    const { tcpPort: adminTcp } = await admin.listen();
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      await chat.close();
      await admin.close();
      httpServer.closeAllConnections();
      await new Promise((r) => httpServer.close(r));
    });
    const { port } = httpServer.address() as AddressInfo;
    expect(chatTcp).not.toBe(adminTcp);

    const clients = [
      connect(`ws://127.0.0.1:${port}/chat`, { reconnect: false, heartbeat: false }),
      connect(`ws://127.0.0.1:${port}/admin`, { reconnect: false, heartbeat: false }),
      connect(`tcp://127.0.0.1:${chatTcp}`, { reconnect: false, heartbeat: false }),
      connect(`tcp://127.0.0.1:${adminTcp}`, { reconnect: false, heartbeat: false }),
    ];
    cleanups.push(() => clients.forEach((c) => c.close()));
    await Promise.all(clients.map((c) => c.connect()));
    expect(await Promise.all(clients.map((c) => c.request('where')))).toEqual(['chat', 'admin', 'chat', 'admin']);
    await Promise.all(clients.map((c) => c.join('r')));
    const got: string[][] = clients.map(() => []);
    clients.forEach((c, i) => c.on('news', (m: unknown) => void got[i]!.push(String(m))));
    chat.to('r').emit('news', 'for chat');
    admin.emit('news', 'for admin');
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual([['for chat'], ['for admin'], ['for chat'], ['for admin']]);
    expect([chat.getStats().connections.open, admin.getStats().connections.open]).toEqual([2, 2]);
    expect((await (await fetch(`http://127.0.0.1:${port}/`)).text())).toBe('page');
  });
});
