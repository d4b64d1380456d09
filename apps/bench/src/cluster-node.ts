/**
 * One server process of the real-process cluster bench (forked by cluster.ts): Stelar with
 * `@stelar/adapter-redis` (classic or sharded), or Socket.IO with `@socket.io/redis-adapter`
 * (ioredis clients), on one Redis. Every connection joins one room; an event `pub` is relayed to
 * that room except its sender, as `fan`, on every node.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRedisAdapter, type RedisAdapter } from '@stelar/adapter-redis';
import { createServer } from '@stelar/server';
import { serveRequests } from './lib/ipc';

const HOST = '127.0.0.1';
const ROOM = 'room';

interface Running {
  port: number;
  connections(): number;
  nodes(): number;
  extra(): Record<string, number>;
  close(): Promise<void>;
}

async function stelar(kind: string, url: string, sharded: boolean): Promise<Running> {
  const adapter: RedisAdapter = createRedisAdapter({ url, sharded, prefix: 'bench' });
  const server = createServer({
    host: HOST,
    ...(kind === 'stelar-ws' ? { port: 0, ws: { perMessageDeflate: false } } : { tcpPort: 0, ws: false as const }),
    heartbeat: false,
    adapter,
    onError: () => undefined,
  });
  server.on('pub', (data: unknown, conn) => {
    if (trace.on && typeof data === 'string') trace.stamp('inbound', data);
    conn.to(ROOM).emit('fan', data);
  });
  server.onConnection((conn) => conn.join(ROOM));
  if (process.env['BENCH_TRACE']) await traceRedis(url);
  const info = await server.listen();
  await server.ready();
  const port = kind === 'stelar-ws' ? info.port : info.tcpPort;
  if (port === undefined) throw new Error('no port');
  return {
    port,
    connections: () => server.getStats().connections.open,
    nodes: () => adapter.nodeCount(),
    extra: () => {
      const s = adapter.stats;
      return {
        published: s.published,
        received: s.received,
        lost: s.droppedWhileDown + s.droppedBufferFull + s.publishUnconfirmed + s.publishFailures,
        missed: s.missedFromPeers,
        down: s.droppedWhileDown,
        full: s.droppedBufferFull,
        unconfirmed: s.publishUnconfirmed,
        stalls: s.publishStalls,
        disconnects: s.disconnects,
        duplicates: s.duplicatesDropped,
      };
    },
    close: () => server.close({ timeout: 200 }),
  };
}

async function socketio(url: string): Promise<Running> {
  const { Server } = await import('socket.io');
  const { createAdapter } = await import('@socket.io/redis-adapter');
  const { Redis } = await import('ioredis');
  const pub = new Redis(url);
  const sub = pub.duplicate();
  const httpServer = http.createServer();
  const io = new Server(httpServer, { transports: ['websocket'], serveClient: false, perMessageDeflate: false, adapter: createAdapter(pub, sub) });
  io.on('connection', (socket) => {
    void socket.join(ROOM);
    socket.on('pub', (d: unknown) => {
      socket.to(ROOM).emit('fan', d);
    });
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(0, HOST, resolve);
  });
  let servers = 1;
  const poll = setInterval(() => {
    void (io.of('/').adapter as unknown as { serverCount(): Promise<number> })
      .serverCount()
      .then((n) => (servers = n))
      .catch(() => undefined);
  }, 200);
  return {
    port: (httpServer.address() as AddressInfo).port,
    connections: () => io.engine.clientsCount,
    nodes: () => servers,
    extra: () => ({}),
    close: async () => {
      clearInterval(poll);
      await new Promise<void>((resolve) => {
        void io.close(() => resolve());
        httpServer.closeAllConnections();
      });
      pub.disconnect();
      sub.disconnect();
    },
  };
}

/**
 * BENCH_TRACE (diagnosis only, classic mode): between `traceStart` and `traceStop` a Stelar node
 * records, for each paced message (publisher 0), the µs from its send stamp to (a) its `pub`
 * event on this node (`inbound`: publisher → node 0) and (b) its arrival on a second subscriber
 * connection of this process, psubscribed to every channel (`redis`: publisher → node 0 →
 * Redis → this node's event loop), and (c) the end of that event-loop turn (`turn`), plus the
 * CPU this process used in between. The probe's figure minus (b) is this node's fan-out plus
 * the probe's own wake-up.
 */
const trace = {
  on: false,
  cpu: process.cpuUsage(),
  samples: { inbound: [] as number[], redis: [] as number[], turn: [] as number[] },
  stamp(kind: 'inbound' | 'redis', text: string): void {
    const m = /(?:^|[^0-9])0:[0-9]+:([0-9]+)\|/.exec(text);
    if (!m) return;
    const sent = Number(m[1]);
    this.samples[kind].push(Number(process.hrtime.bigint() / 1000n) - sent);
    // The end of the event-loop turn that read it (the adapter's fan-out of it runs in that turn).
    if (kind === 'redis') setImmediate(() => this.samples.turn.push(Number(process.hrtime.bigint() / 1000n) - sent));
  },
};

async function traceRedis(url: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const sub = new Redis(url);
  await sub.psubscribe('*');
  sub.on('pmessageBuffer', (_p: Buffer, _c: Buffer, msg: Buffer) => {
    if (trace.on) trace.stamp('redis', msg.toString('latin1'));
  });
}

/** BENCH_TRACE_PROF=DIR (with BENCH_TRACE): a CPU profile of the paced phase only, DIR/paced-<pid>.cpuprofile. */
const profile = {
  session: undefined as import('node:inspector').Session | undefined,
  async start(): Promise<void> {
    const { Session } = await import('node:inspector');
    const s = (this.session = new Session());
    s.connect();
    const post = (m: string, p: Record<string, unknown> = {}): Promise<unknown> => new Promise((res, rej) => s.post(m, p, (e, r) => (e ? rej(e) : res(r))));
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 100 });
    await post('Profiler.start');
  },
  async stop(dir: string): Promise<void> {
    const s = this.session;
    if (!s) return;
    this.session = undefined;
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const r = await new Promise<{ profile: unknown }>((res, rej) => s.post('Profiler.stop', (e, x) => (e ? rej(e) : res(x as { profile: unknown }))));
    writeFileSync(join(dir, `paced-${process.pid}.cpuprofile`), JSON.stringify(r.profile));
    s.disconnect();
  },
};

let running: Running | undefined;
// BENCH_DEBUG: each server writes its event-loop delay and adapter counters every second to
// <tmpdir>/stelar-cluster-node-<pid>.log.
if (process.env['BENCH_DEBUG']) {
  const { monitorEventLoopDelay } = await import('node:perf_hooks');
  const { appendFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const file = join(tmpdir(), `stelar-cluster-node-${process.pid}.log`);
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  setInterval(() => {
    appendFileSync(file, `loop max ${(h.max / 1e6).toFixed(0)} ms p99 ${(h.percentile(99) / 1e6).toFixed(0)} ms ${JSON.stringify(running?.extra() ?? {})}\n`);
    h.reset();
  }, 1000).unref();
}
serveRequests({
  async start(req) {
    const kind = String(req['kind']);
    const url = String(req['url']);
    running = kind === 'socketio' ? await socketio(url) : await stelar(kind, url, req['sharded'] === true);
    return { port: running.port, pid: process.pid };
  },
  stats() {
    const cpu = process.cpuUsage();
    return { user: cpu.user, system: cpu.system, connections: running?.connections() ?? 0, nodes: running?.nodes() ?? 0, rss: process.memoryUsage().rss, ...running?.extra() };
  },
  async traceStart() {
    if (process.env['BENCH_TRACE_PROF']) await profile.start();
    trace.samples = { inbound: [], redis: [], turn: [] };
    trace.cpu = process.cpuUsage();
    trace.on = true;
    return null;
  },
  async traceStop() {
    trace.on = false;
    const cpu = process.cpuUsage(trace.cpu);
    if (process.env['BENCH_TRACE_PROF']) await profile.stop(process.env['BENCH_TRACE_PROF']);
    return { ...trace.samples, cpuUs: cpu.user + cpu.system };
  },
  async stop() {
    await running?.close().catch(() => undefined);
    setImmediate(() => process.exit(0));
    return null;
  },
});
