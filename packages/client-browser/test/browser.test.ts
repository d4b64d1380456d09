import { afterAll, describe, expect, it } from 'vitest';
import { connect as connectNode, type StelarClient as NodeClient } from '@stelar/client-node';
import { StelarError } from '@stelar/core';
import type { StelarServer } from '@stelar/server';
import { page as newPage, site, until, useChromium, type Site } from './harness';

type Events = {
  chat: (m: { from: string; text: string }) => void;
  bin: (b: Uint8Array) => void;
  seq: (n: number) => void;
  sum: (a: { a: number; b: number }) => number;
  fail: () => void;
  confirm: (q: string) => boolean;
  /** Asks the server for a chat message of about this many bytes. */
  big: (n: number) => void;
};

useChromium();
const nodeClients: NodeClient<Events>[] = [];
afterAll(() => {
  for (const c of nodeClients.splice(0)) c.close();
});

/** The test's site (page, bundle, Stelar on WebSocket and TCP); `seqs` records the `seq` events it got. */
async function start(port = 0, tcpPort = 0): Promise<Site & { stelar: StelarServer<Events>; seqs: number[] }> {
  const seqs: number[] = [];
  const s = await site({ port, tcpPort }, (srv) => {
    const stelar = srv as unknown as StelarServer<Events>;
    stelar.on('chat', (m, conn) => conn.to('lobby').emit('chat', m));
    stelar.on('bin', (b, conn) => conn.to('lobby').emit('bin', b));
    stelar.on('seq', (n, conn) => {
      seqs.push(n);
      conn.to('lobby').emit('seq', n);
    });
    stelar.on('sum', ({ a, b }) => a + b);
    stelar.on('big', (n, conn) => void conn.emit('chat', { from: 'x'.repeat(n), text: '' }));
    stelar.on('fail', () => {
      throw new StelarError('NOPE', 'not today');
    });
  });
  return Object.assign(s, { stelar: s.stelar as unknown as StelarServer<Events>, seqs });
}

function tcpClient(port: number): NodeClient<Events> {
  const c = connectNode<Events>(`tcp://127.0.0.1:${port}`, { reconnect: { baseDelay: 50, maxDelay: 200 } });
  nodeClients.push(c);
  return c;
}

/** Opens the test page and connects the bundle's client from it, joined to `lobby`. */
async function openPage(base: string) {
  const p = await newPage(base);
  await p.evaluate(async () => {
    const client = Stelar.createClient('/', { reconnect: { baseDelay: 50, maxDelay: 200 }, auth: { who: 'page' } });
    globalThis.t = { client, log: [], states: [], pending: [] };
    client.on('chat', (m) => void t.log.push(['chat', m]));
    client.on('bin', (b) => void t.log.push(['bin', b instanceof Uint8Array, Array.from(b as Uint8Array)]));
    client.on('confirm', (q) => q === 'ok?');
    client.onLifecycle('state', (s) => void t.states.push(s));
    await client.connect();
    await client.join('lobby');
  });
  return p;
}

describe('@stelar/client-browser in Chromium, from the <script> bundle', () => {
  it('exposes the API on the Stelar global and resolves URLs against the page', async () => {
    const srv = await start();
    const p = await newPage(srv.url);
    const r = await p.evaluate(() => {
      let bad = '';
      try {
        Stelar.resolveUrl('ftp://x/');
      } catch (e) {
        bad = (e as Error).name;
      }
      return {
        api: Object.keys(Stelar).sort(),
        none: Stelar.resolveUrl(),
        rel: Stelar.resolveUrl('/ws?room=a'),
        https: Stelar.resolveUrl('https://example.com/s'),
        ws: Stelar.resolveUrl('ws://h:1/x'),
        bad,
        url: Stelar.createClient('/x').url,
      };
    });
    expect(r.api).toEqual(['DialError', 'StelarClient', 'StelarError', 'connect', 'createClient', 'resolveUrl']);
    expect(r).toMatchObject({
      none: `ws://127.0.0.1:${srv.port}/`,
      rel: `ws://127.0.0.1:${srv.port}/ws?room=a`,
      https: 'wss://example.com/s',
      ws: 'ws://h:1/x',
      bad: 'TypeError',
      url: `ws://127.0.0.1:${srv.port}/x`,
    });
    // A refused connection is a (retryable) DialError; with reconnect off, connect() rejects with it.
    const refused = await p.evaluate(async () => {
      const c = Stelar.connect('ws://127.0.0.1:9/', { reconnect: false });
      try {
        await c.connect();
        return 'connected?';
      } catch (e) {
        const err = e as InstanceType<typeof Stelar.DialError>;
        return { name: err.name, code: err.code, fatal: err.fatal, state: c.state };
      }
    });
    expect(refused).toEqual({ name: 'DialError', code: 'WS_DIAL_FAILED', fatal: false, state: 'disconnected' });
  });

  it('stelar.min.js has none of the full file\'s features, and works with a server that has recovery on: it does not opt in, gets no offsets, and a lost link is a new session', async () => {
    const srv = await site({ recovery: true }, (stelar) => stelar.onConnection((conn) => void conn.join('lobby')));
    const p = await newPage(srv.url);
    const first = await p.evaluate(async () => {
      const c = Stelar.createClient('/', { reconnect: { baseDelay: 5, maxDelay: 10 } });
      x = { c, got: [] as unknown[], connected: [] as unknown[], errs: 0 };
      c.on('news', (m: unknown) => void x.got.push(m));
      c.onLifecycle('connected', (i: unknown) => void x.connected.push(i));
      c.onLifecycle('connect_error' as never, (() => void x.errs++) as never);
      await c.connect();
      return { id: c.id as string, counters: [c.messagesSent, c.connectedAt, c.lastError] };
    });
    expect(first.counters).toEqual([undefined, undefined, undefined]);
    const conn = srv.stelar.getConnection(first.id)!;
    expect(conn.recovered).toBe(false);
    srv.stelar.to('lobby').emit('news', { n: 1 });
    srv.stelar.to('lobby').emit('news', new Uint8Array([1, 2]));
    await until(() => p.evaluate(() => x.got.length === 2), 'the news');
    expect(await p.evaluate(() => x.got.map((g: unknown) => (g instanceof Uint8Array ? [...g] : g)))).toEqual([{ n: 1 }, [1, 2]]);
    // A lost link: not kept by the server (the client never opted in), a new session on reconnection.
    conn.disconnect(4100, 'moving');
    await until(() => p.evaluate((id) => x.c.connected && x.c.id !== id, first.id), 'the new session');
    expect(await p.evaluate(() => x.connected.map((i: object) => Object.keys(i)))).toEqual([['id'], ['id']]);
    expect(srv.stelar.getStats().recovery).toMatchObject({ recovered: 0 });
  });

  it('maps close codes the browser cannot send, and treats an oversize frame as a protocol error', async () => {
    const srv = await start();
    const closes: [string, number, string][] = [];
    srv.stelar.onDisconnect((conn, code, reason) => void closes.push([String((conn.auth as { who?: string } | undefined)?.who), code, reason]));
    const p = await newPage(srv.url);
    const seen = await p.evaluate(async () => {
      const out: unknown[] = [];
      // An application close code (4100–4999) goes through as is; 1001 becomes 1000 on the wire.
      for (const [who, code] of [['app', 4100], ['away', 1001]] as const) {
        const c = Stelar.connect('/', { auth: { who } });
        await c.connect();
        c.close(code, `bye ${who}`);
      }
      // A frame above maxFrameSize (128 bytes: the server's CONNECT fits, a 200-byte chat does not): the page closes the link (1009 to the engine), then reconnects.
      const c = Stelar.connect('/', { auth: { who: 'small' }, maxFrameSize: 128, reconnect: { baseDelay: 10, maxDelay: 20 } });
      c.onLifecycle('disconnected', (d) => void out.push(d));
      await c.connect();
      await c.join('lobby');
      const first = c.id;
      c.on('chat', (m) => void out.push(m));
      const back = new Promise<void>((resolve) => c.onLifecycle('connected', () => resolve()));
      c.emit('big', 200);
      await Promise.race([back, new Promise((_, reject) => setTimeout(() => reject(new Error('no reconnection')), 5000))]);
      out.push(first !== c.id, c.rooms.has('lobby'), c.state);
      c.close();
      return out;
    });
    // The oversize chat never reached a handler; the client came back as a new session, still in its room.
    expect(seen).toEqual([{ code: 1009, reason: expect.stringMatching(/exceeds the limit of 128/), willReconnect: true }, true, true, 'connected']);
    await until(() => closes.length >= 4);
    expect(closes).toEqual(
      expect.arrayContaining([
        ['app', 4100, 'bye app'],
        ['away', 1000, 'bye away'],
        ['small', 1000, expect.stringMatching(/exceeds the limit of 128/)],
      ]),
    );
  });

  it('shares a room with a TCP client: JSON, binary and ACK replies both ways; survives a server restart with its queue in order', async () => {
    let srv = await start();
    const { port, tcpPort } = srv;
    const page = await openPage(srv.url);
    const tcp = tcpClient(tcpPort);
    const atTcp: unknown[] = [];
    tcp.on('chat', (m) => void atTcp.push(['chat', m]));
    tcp.on('bin', (b) => void atTcp.push(['bin', [...b]]));
    tcp.on('seq', (n) => void atTcp.push(['seq', n]));
    await tcp.connect();
    await tcp.join('lobby');

    // The page's connection is a WebSocket one, in the lobby with the TCP one.
    const lobby = await srv.stelar.in('lobby').fetchConnections();
    expect(lobby.map((c) => c.transport).sort()).toEqual(['tcp', 'ws']);

    // JSON and binary, browser → TCP.
    await page.evaluate(() => {
      t.client.emit('chat', { from: 'web', text: 'hello tcp' });
      t.client.emit('bin', new Uint8Array([0, 1, 2, 255]));
    });
    await until(() => atTcp.length === 2);
    expect(atTcp).toEqual([
      ['chat', { from: 'web', text: 'hello tcp' }],
      ['bin', [0, 1, 2, 255]],
    ]);

    // TCP → browser; binary arrives as a Uint8Array.
    tcp.emit('chat', { from: 'tcp', text: 'hello web' });
    tcp.emit('bin', new Uint8Array([9, 8, 7]));
    await page.waitForFunction(() => t.log.length === 2, undefined, { timeout: 5000 });
    expect(await page.evaluate(() => t.log)).toEqual([
      ['chat', { from: 'tcp', text: 'hello web' }],
      ['bin', true, [9, 8, 7]],
    ]);

    // Requests from the page get the server's replies (and its errors, with their code).
    const replies = await page.evaluate(async () => {
      const sum = await t.client.request('sum', { a: 20, b: 22 });
      const err = await t.client.request('fail').then(
        () => null,
        (e: { code: string; message: string }) => ({ code: e.code, message: e.message }),
      );
      return { sum, err };
    });
    expect(replies).toEqual({ sum: 42, err: { code: 'NOPE', message: 'not today' } });
    // …and the server's requests get the page's reply.
    const pageConn = [...srv.stelar.connections.values()].find((c) => c.transport === 'ws')!;
    await expect(pageConn.request('confirm', 'ok?', { timeout: 2000 })).resolves.toBe(true);

    // Restart: close the server, queue messages and a request while it is down, start a new one
    // on the same ports.
    await srv.stop();
    await page.waitForFunction(() => t.client.state === 'reconnecting', undefined, { timeout: 5000 });
    const queued = await page.evaluate(() => {
      for (let n = 1; n <= 5; n++) t.client.emit('seq', n);
      t.pending.push(t.client.request('sum', { a: 1, b: 2 }));
      return t.client.queued;
    });
    expect(queued).toBe(6);
    srv = await start(port, tcpPort);
    await page.waitForFunction(() => t.client.connected, undefined, { timeout: 8000 });
    expect(await page.evaluate(() => t.pending[0])).toBe(3);
    await until(() => srv.seqs.length === 5);
    expect(srv.seqs).toEqual([1, 2, 3, 4, 5]);
    const states = await page.evaluate(() => t.states);
    expect(states).toEqual(['connecting', 'connected', 'reconnecting', 'connected']);

    // Both clients re-joined the lobby on their own and talk again.
    await until(() => tcp.connected);
    await until(() => srv.stelar.connections.size === 2);
    await expect(srv.stelar.in('lobby').count()).resolves.toBe(2);
    atTcp.length = 0;
    await page.evaluate(() => t.client.emit('chat', { from: 'web', text: 'back' }));
    tcp.emit('chat', { from: 'tcp', text: 'back too' });
    await until(() => atTcp.length === 1);
    expect(atTcp).toEqual([['chat', { from: 'web', text: 'back' }]]);
    await page.waitForFunction(() => t.log.some((e) => JSON.stringify(e).includes('back too')), undefined, { timeout: 5000 });
    await page.evaluate(() => t.client.close());
  });
});
