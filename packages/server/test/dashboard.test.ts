import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connect, type StelarClient } from '@stelar/client-node';
import { createServer, type DashboardData, type ServerOptions, type StelarServer } from '../src/index';
import { Dashboard, MAX_ROOM_NAME, sanitizeStats, scanConnections, TOP_ROOMS, type ScannedConnection } from '../src/dashboard';
import { tick, until } from './helpers';

const servers: StelarServer[] = [];
const clients: StelarClient[] = [];
const others: http.Server[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close({ timeout: 300 });
  for (const s of others.splice(0)) await new Promise<void>((r) => s.close(() => r()));
});

const COOKIE = 'session=let-me-in';
const loggedIn = (req: http.IncomingMessage): boolean => (req.headers.cookie ?? '').split(/;\s*/).includes(COOKIE);

async function start(options: ServerOptions = {}, withDashboard = true) {
  const server = createServer({ port: 0, tcpPort: 0, host: '127.0.0.1', heartbeat: false, ...(withDashboard && { dashboard: { authorize: loggedIn } }), ...options });
  servers.push(server);
  const { port, tcpPort } = await server.listen();
  const client = (scheme: 'ws' | 'tcp') => {
    const c = connect(scheme === 'ws' ? `ws://127.0.0.1:${port}/` : `tcp://127.0.0.1:${tcpPort}`, { reconnect: false, heartbeat: false });
    clients.push(c);
    return c;
  };
  return { server, port: port!, client };
}

async function get(port: number, path: string, init: RequestInit & { cookie?: boolean } = {}) {
  const { cookie, ...rest } = init;
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { redirect: 'manual', ...rest, headers: { ...(cookie !== false && { cookie: COOKIE }) } });
  return { status: r.status, headers: r.headers, body: await r.text() };
}

async function data(port: number): Promise<DashboardData> {
  const r = await get(port, '/stelar/data');
  expect(r.status).toBe(200);
  return JSON.parse(r.body) as DashboardData;
}

describe('dashboard options', () => {
  it('is off by default: no route answers', async () => {
    const { port } = await start({}, false);
    expect((await get(port, '/stelar')).status).toBe(404);
    expect((await get(port, '/stelar/data')).status).toBe(404);
  });

  it('refuses, at createServer, a dashboard without authorize, a bad path or no HTTP server', () => {
    expect(() => createServer({ dashboard: {} as never })).toThrow(/authorize is required/);
    expect(() => createServer({ dashboard: true as never })).toThrow(/authorize/);
    expect(() => createServer({ dashboard: { authorize: 'yes' } as never })).toThrow(/authorize is required/);
    expect(() => createServer({ dashboard: { authorize: () => true, path: 'stelar' } })).toThrow(/must start with "\/"/);
    expect(() => createServer({ dashboard: { authorize: () => true, path: '/a b' } })).toThrow(/dashboard.path/);
    expect(() => createServer({ dashboard: { authorize: () => true, nodeTimeout: -1 } })).toThrow(/nodeTimeout/);
    expect(() => createServer({ tcpPort: 0, dashboard: { authorize: () => true } })).toThrow(/needs the HTTP server/);
    expect(() => createServer({ port: 0, ws: false, dashboard: { authorize: () => true } })).toThrow(/needs the HTTP server/);
  });
});

describe('dashboard endpoints (standalone server)', () => {
  it('refuses without the app’s cookie (page and data), serves with it, with strict headers', async () => {
    const { port } = await start();
    for (const path of ['/stelar', '/stelar/', '/stelar/data']) {
      const r = await get(port, path, { cookie: false });
      expect(r.status, path).toBe(403);
      expect(r.body).toBe('Forbidden\n');
      expect(r.headers.get('cache-control')).toBe('no-store');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    }
    const page = await get(port, '/stelar');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toMatch(/^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'; style-src 'sha256-[A-Za-z0-9+/=]+'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'$/);
    // Self-contained: no external script, style or any URL; the hashes are those of its inline blocks.
    expect(page.body).not.toMatch(/\bsrc=|\bhref=|https?:\/\//);
    const script = /<script>([\s\S]*)<\/script>/.exec(page.body)![1]!;
    const style = /<style>([\s\S]*)<\/style>/.exec(page.body)![1]!;
    const hash = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;
    expect(csp).toContain(`script-src ${hash(script)}`);
    expect(csp).toContain(`style-src ${hash(style)}`);
    expect(page.body).not.toMatch(/innerHTML|insertAdjacentHTML|document\.write|eval\(/);
    expect(Buffer.byteLength(page.body)).toBeLessThan(16 * 1024);

    const d = await get(port, '/stelar/data');
    expect(d.status).toBe(200);
    expect(d.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(d.headers.get('cache-control')).toBe('no-store');
    expect(d.headers.get('x-content-type-options')).toBe('nosniff');
    expect(d.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    expect(d.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");

    const head = await get(port, '/stelar', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    const post = await get(port, '/stelar/data', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    // Only its own paths.
    expect((await get(port, '/stelar/other')).status).toBe(404);
    expect((await get(port, '/stelarx')).status).toBe(404);
  });

  it('awaits an async authorize; a throw is a 500 reported to onError, never a pass; the app may answer itself', async () => {
    const errors: unknown[] = [];
    const { port } = await start({
      onError: (e) => void errors.push(e),
      dashboard: {
        path: '/ops/live/',
        authorize: async (req, res) => {
          await tick(5);
          if (req.headers['x-boom']) throw new Error('session store down');
          if (!loggedIn(req)) {
            res.writeHead(303, { location: '/login' }).end();
            return false;
          }
          return true;
        },
      },
    });
    expect((await get(port, '/ops/live')).status).toBe(200);
    expect((await get(port, '/ops/live/data')).status).toBe(200);
    const refused = await get(port, '/ops/live', { cookie: false });
    expect(refused.status).toBe(303);
    expect(refused.headers.get('location')).toBe('/login');
    const boom = await fetch(`http://127.0.0.1:${port}/ops/live/data`, { headers: { cookie: COOKIE, 'x-boom': '1' } });
    expect(boom.status).toBe(500);
    expect(await boom.text()).not.toContain('session store');
    expect(errors).toEqual([expect.objectContaining({ message: 'session store down' })]);
  });

  it('an authorize that never settles is a 500 after 10 s (and its timer is cleared when it does settle)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const errors: unknown[] = [];
      const hub = createServer({ port: 0, heartbeat: false });
      let settle: ((ok: boolean) => void) | undefined;
      const dash = new Dashboard(hub, { authorize: () => new Promise<boolean>((r) => (settle = r)) }, (e) => void errors.push(e));
      const answer = () => {
        const res = {
          status: 0,
          headersSent: false,
          writableEnded: false,
          writeHead(status: number) {
            this.status = status;
            this.headersSent = true;
            return this;
          },
          end() {
            this.writableEnded = true;
          },
        };
        expect(dash.handle({ url: '/stelar/data', method: 'GET', headers: {} } as http.IncomingMessage, res as unknown as http.ServerResponse)).toBe(true);
        return res;
      };
      const hung = answer();
      await vi.advanceTimersByTimeAsync(9_999);
      expect(hung.status).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(hung.status).toBe(500);
      expect(String(errors[0])).toMatch(/did not settle within 10000 ms/);
      const quick = answer();
      settle!(true);
      await vi.advanceTimersByTimeAsync(0);
      expect(quick.status).toBe(200);
      expect(vi.getTimerCount()).toBe(0);
      void hub.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('only exactly `true` lets in (a truthy session object does not)', async () => {
    const { port } = await start({ dashboard: { authorize: () => ({ user: 'x' }) as unknown as boolean } });
    expect((await get(port, '/stelar/data')).status).toBe(403);
  });

  it('data: connections by transport, totals, rooms, rates inputs, errors, backpressure; no cluster without a cluster adapter', async () => {
    const { server, port, client } = await start();
    server.on('echo', (x, conn) => conn.emit('echo', x));
    server.onConnection((conn) => conn.join(['lobby', `own-${conn.transport}`]));
    const ws = client('ws');
    const tcp = client('tcp');
    await Promise.all([ws.connect(), tcp.connect()]);
    await until(() => server.connections.size === 2);
    await ws.join('only-ws');
    const before = await data(port);
    expect(before.v).toBe(1);
    expect(before.nodeId).toBe(server.nodeId);
    expect(typeof before.time).toBe('number');
    expect(before.stats.connections).toMatchObject({ open: 2, byTransport: { ws: 1, tcp: 1 }, total: 2, rejected: 0 });
    expect(before.rooms.top[0]).toEqual({ name: 'lobby', members: 2 });
    expect(before.rooms.top).toEqual(expect.arrayContaining([{ name: 'own-ws', members: 1 }, { name: 'own-tcp', members: 1 }, { name: 'only-ws', members: 1 }]));
    expect(before.rooms).toMatchObject({ limit: TOP_ROOMS, scanned: 2 });
    expect(before.stats.rooms).toBe(4);
    expect(before.cluster).toBeNull();
    expect(before.slow).toEqual([]);
    expect(before.stats.backpressure).toEqual({ buffered: 0, dropped: 0, slowConsumerDisconnects: 0 });
    for (let i = 0; i < 20; i++) ws.emit('echo', i);
    let echoed = 0;
    ws.on('echo', () => void echoed++);
    await until(() => echoed === 20);
    const after = await data(port);
    expect(after.stats.messages.in - before.stats.messages.in).toBeGreaterThanOrEqual(20);
    expect(after.stats.messages.out - before.stats.messages.out).toBeGreaterThanOrEqual(20);
    expect(after.stats.bytes.in).toBeGreaterThan(before.stats.bytes.in);
    expect(after.stats.uptimeMs).toBeGreaterThanOrEqual(before.stats.uptimeMs);
  });

  it('rooms: the top 20 by members, long names cut; the scan is cached for at least a second', async () => {
    const { server, port, client } = await start();
    const c = client('tcp');
    const d = client('ws');
    await Promise.all([c.connect(), d.connect()]);
    await until(() => server.connections.size === 2);
    const [a, b] = [...server.connections.values()];
    await a!.join(Array.from({ length: 60 }, (_, i) => `room-${i}`));
    await b!.join(['room-7', 'room-42', 'x'.repeat(5000)]);
    await a!.join('x'.repeat(5000));
    const first = await data(port);
    expect(first.rooms.top).toHaveLength(TOP_ROOMS);
    expect(first.rooms.top.slice(0, 3).map((r) => r.members)).toEqual([2, 2, 2]);
    expect(first.rooms.top.find((r) => r.truncated)).toEqual({ name: 'x'.repeat(MAX_ROOM_NAME), members: 2, truncated: true });
    expect(first.rooms.top.every((r) => r.name.length <= MAX_ROOM_NAME)).toBe(true);
    expect(first.stats.rooms).toBe(61);
    expect(first.rooms.everyMs).toBeGreaterThanOrEqual(1000);
    // Within the second: the same scan (a third connection is not seen yet), though counters move.
    const e = client('ws');
    await e.connect();
    await until(() => server.connections.size === 3);
    const second = await data(port);
    expect(second.stats.connections.open).toBe(3);
    expect(second.rooms.scanned).toBe(2);
    expect(second.rooms.top).toEqual(first.rooms.top);
    await tick(second.rooms.everyMs - second.rooms.ageMs + 50);
    expect((await data(port)).rooms.scanned).toBe(3);
    expect(JSON.stringify(first).length).toBeLessThan(8 * 1024);
  });

  it('backpressure: slow consumers are listed from the same scan, most buffered first, at most 10', () => {
    const conns: ScannedConnection[] = Array.from({ length: 50 }, (_, i) => ({ id: `c${i}`, transport: i % 2 ? 'ws' : 'tcp', rooms: new Set<string>(), bufferedAmount: i % 3 === 0 ? 0 : i * 100, pendingRequests: i % 4 }));
    const s = scanConnections(conns, 20, 10);
    expect(s.slow.map((x) => x.id)).toEqual(['c49', 'c47', 'c46', 'c44', 'c43', 'c41', 'c40', 'c38', 'c37', 'c35']);
    expect(s.slow[0]).toEqual({ id: 'c49', transport: 'ws', buffered: 4900, pendingRequests: 1 });
    expect(s.scanned).toBe(50);
  });
});

describe('what a data request costs', () => {
  it('a slow scan runs less often: at most 1/20 of the time, never more than once a second', () => {
    let clock = 0;
    const conns = new Map<string, ScannedConnection>([['c1', { id: 'c1', transport: 'ws', rooms: new Set(['r']), bufferedAmount: 0, pendingRequests: 0 }]]);
    let scans = 0;
    let scanCost = 0;
    const hub = createServer({ port: 0, heartbeat: false });
    const source = {
      nodeId: 'me',
      adapter: hub.adapter,
      // Each pass over the connections "takes" scanCost ms of the fake clock.
      get connections(): ReadonlyMap<string, ScannedConnection> {
        return {
          values: function* () {
            scans++;
            clock += scanCost;
            yield* conns.values();
          },
        } as unknown as ReadonlyMap<string, ScannedConnection>;
      },
      getStats: () => hub.getStats(),
      serverSideEmit: async () => [],
      onServerEvent: () => undefined,
    };
    const dash = new Dashboard(source, { authorize: () => true }, () => undefined, () => clock);
    scanCost = 1;
    for (let i = 0; i < 100; i++) {
      dash.data();
      clock += 10;
    }
    expect(scans).toBe(1); // 1000 ms of requests every 10 ms: one scan
    dash.data();
    expect(scans).toBe(2);
    scanCost = 200; // 200 ms per scan: the next ones 4 s apart
    clock += 1000;
    dash.data();
    expect(scans).toBe(3);
    expect(dash.data().rooms.everyMs).toBe(4000);
    clock += 3000;
    dash.data();
    expect(scans).toBe(3);
    clock += 1000;
    dash.data();
    expect(scans).toBe(4);
    void hub.close();
  });

  it('scanning 100 000 connections in 3 of 10 000 rooms takes well under half a second (measured, printed)', () => {
    const conns = new Map<string, ScannedConnection>();
    for (let i = 0; i < 100_000; i++) {
      conns.set(`c${i}`, { id: `c${i}`, transport: i % 2 ? 'ws' : 'tcp', rooms: new Set([`room-${i % 10_000}`, `room-${(i * 7) % 10_000}`, `room-${(i * 13) % 10_000}`]), bufferedAmount: i % 1000, pendingRequests: 0 });
    }
    const times: number[] = [];
    let result: ReturnType<typeof scanConnections> | undefined;
    for (let r = 0; r < 5; r++) {
      const t = performance.now();
      result = scanConnections(conns.values(), TOP_ROOMS, 10);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    console.log(`dashboard scan, 100 000 connections × 3 rooms: median ${times[2]!.toFixed(1)} ms (min ${times[0]!.toFixed(1)}, max ${times[4]!.toFixed(1)})`);
    expect(times[2]).toBeLessThan(500);
    expect(result!.top).toHaveLength(TOP_ROOMS);
    expect(result!.slow).toHaveLength(10);
    expect(result!.slow[0]!.buffered).toBe(999);
    expect(result!.scanned).toBe(100_000);
  });
});

describe('dashboard on your own HTTP server', () => {
  it('answers its paths only, behind authorize; your routes stay yours, also after close()', async () => {
    const mine = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`mine:${req.url}`);
    });
    others.push(mine);
    await new Promise<void>((r) => mine.listen(0, '127.0.0.1', r));
    const port = (mine.address() as AddressInfo).port;
    const server = createServer({ server: mine, heartbeat: false, health: true, dashboard: { authorize: loggedIn } });
    servers.push(server);
    await server.listen();
    expect((await get(port, '/stelar', { cookie: false })).status).toBe(403);
    expect((await get(port, '/stelar')).status).toBe(200);
    expect((await get(port, '/healthz')).status).toBe(200);
    expect(await get(port, '/login')).toMatchObject({ status: 200, body: 'mine:/login' });
    const c = connect(`ws://127.0.0.1:${port}/`, { reconnect: false, heartbeat: false });
    clients.push(c);
    await c.connect();
    expect((await data(port)).stats.connections.byTransport).toEqual({ ws: 1 });
    await server.close({ timeout: 300 });
    expect(await get(port, '/stelar')).toMatchObject({ status: 200, body: 'mine:/stelar' });
  });
});

describe('per-node status', () => {
  it('waiting until a question is nodeTimeout old; ok if answered (up to 250 ms before it); no answer otherwise; forgotten 60 s after leaving', () => {
    let clock = 0;
    let ids = ['b', 'c'];
    const handlers = new Map<string, (data: unknown, from: string) => unknown>();
    const asked: number[] = [];
    const hub = createServer({ port: 0, heartbeat: false });
    const adapter = Object.assign(Object.create(hub.adapter) as typeof hub.adapter, { nodeCount: () => ids.length + 1, nodeIds: () => ids });
    const source = {
      nodeId: 'a',
      adapter,
      connections: new Map<string, ScannedConnection>(),
      getStats: () => hub.getStats(),
      serverSideEmit: async (_e: string, d?: unknown) => {
        if ((d as { op: string }).op === 'ask') asked.push(clock);
        return [];
      },
      onServerEvent: (e: string, fn: (data: unknown, from: string) => unknown) => handlers.set(e, fn),
    };
    const dash = new Dashboard(source, { authorize: () => true, nodeTimeout: 500 }, () => undefined, () => clock);
    const on = handlers.get('stelar:dashboard')!;
    const status = () => Object.fromEntries(dash.data().cluster!.nodes.map((n) => [n.id, n.status]));
    on({ op: 'stats', stats: { uptimeMs: 1 } }, 'b'); // b answered another node's question just before ours
    clock = 200;
    expect(status()).toEqual({ a: 'ok', b: 'ok', c: 'waiting' });
    expect(asked).toEqual([200]);
    clock = 700;
    expect(status()).toEqual({ a: 'ok', b: 'ok', c: 'no answer' }); // b's answer at 0 is within 250 ms of the question at 200
    clock = 1200; // second question; b stays silent from now on
    expect(status()).toEqual({ a: 'ok', b: 'ok', c: 'no answer' });
    clock = 1700;
    expect(status()).toEqual({ a: 'ok', b: 'no answer', c: 'no answer' });
    on({ op: 'stats', stats: { uptimeMs: 2 } }, 'c');
    expect(status()).toMatchObject({ c: 'ok' });
    const row = dash.data().cluster!.nodes.find((n) => n.id === 'b')!;
    expect(row.stats!.uptimeMs).toBe(1);
    expect(row.ageMs).toBe(1700);
    // b leaves the adapter's list: kept (as not answering) until 60 s after it was last heard.
    ids = ['c'];
    clock = 59_000;
    expect(Object.keys(status())).toEqual(['a', 'b', 'c']);
    clock = 60_001;
    expect(Object.keys(status())).toEqual(['a', 'c']);
    void hub.close();
  });
});

describe('what other nodes send is bounded', () => {
  it('sanitizeStats keeps the shape of Stats, numbers only, at most 256 labels of 64 characters', () => {
    expect(sanitizeStats(null)).toBeUndefined();
    expect(sanitizeStats('x')).toBeUndefined();
    const s = sanitizeStats({ connections: { open: 'many', byTransport: { ws: 3, ['y'.repeat(65)]: 1, tcp: Infinity } }, errors: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`E${i}`, i])), uptimeMs: 5 })!;
    expect(s.connections).toEqual({ open: 0, opening: 0, byTransport: { ws: 3 }, total: 0, rejected: 0 });
    expect(Object.keys(s.errors)).toHaveLength(256);
    expect(s.uptimeMs).toBe(5);
    expect(s.messages).toEqual({ in: 0, out: 0 });
  });

  it('keeps at most 64 other nodes, answers questions at most every 250 ms, ignores malformed events', () => {
    const handlers = new Map<string, (data: unknown, from: string) => unknown>();
    const emitted: unknown[] = [];
    let clock = 0;
    let nodeCount = 1;
    const hub = createServer({ port: 0, heartbeat: false });
    const source = {
      nodeId: 'me',
      adapter: Object.assign(Object.create(hub.adapter) as typeof hub.adapter, { nodeCount: () => nodeCount }),
      connections: new Map<string, ScannedConnection>(),
      getStats: () => hub.getStats(),
      serverSideEmit: async (_e: string, d?: unknown) => {
        emitted.push(d);
        return [];
      },
      onServerEvent: (e: string, fn: (data: unknown, from: string) => unknown) => handlers.set(e, fn),
    };
    const dash = new Dashboard(source, { authorize: () => true }, () => undefined, () => clock);
    const on = handlers.get('stelar:dashboard')!;
    expect(dash.data().cluster).toBeNull();
    for (let i = 0; i < 200; i++) on({ op: 'stats', stats: { uptimeMs: i } }, `node-${String(i).padStart(3, '0')}`);
    on({ op: 'stats', stats: {} }, 'x'.repeat(200)); // id too long: ignored
    on('garbage', 'n1');
    on({ op: 'stats', stats: 'nope' }, 'n2');
    nodeCount = 201;
    const d = dash.data();
    expect(d.cluster!.nodes).toHaveLength(65);
    expect(d.cluster!.nodes[0]).toMatchObject({ id: 'me', self: true, status: 'ok' });
    expect(d.cluster!.nodes[1]!.id).toBe('node-136'); // the 64 heard from last
    expect(d.cluster!.omitted).toBe(201 - 65);
    expect(emitted).toEqual([{ op: 'ask', v: 1 }]);
    emitted.length = 0;
    for (let i = 0; i < 100; i++) on({ op: 'ask', v: 1 }, `asker-${i}`);
    expect(emitted).toHaveLength(1);
    clock += 300;
    on({ op: 'ask', v: 1 }, 'asker-0');
    expect(emitted).toHaveLength(2);
    // Asked again only once ASK_EVERY has passed, however often the data is read.
    emitted.length = 0;
    for (let i = 0; i < 50; i++) dash.data();
    expect(emitted).toHaveLength(0);
    clock += 1000;
    dash.data();
    expect(emitted).toEqual([{ op: 'ask', v: 1 }]);
    void hub.close();
  });
});
