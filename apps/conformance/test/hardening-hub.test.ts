/**
 * Hardening of the application layer behind both listeners: JOIN floods (room limits), request
 * floods (maxConcurrentRequests, reads paused), slow consumers (volatile drops, then 4006),
 * connection floods (maxConnections / per-IP: 503 on WebSocket, DISCONNECT 1013 on TCP), and
 * rate limits (ERROR RATE_LIMITED, or 4005). Time and memory are bounded, and a well-behaved
 * client is served throughout.
 */
import {
  encodeAckRequest,
  encodeClientConnect,
  encodeJoin,
  encodeJson,
  FrameType,
  parseAckResponse,
  parseErrorBody,
} from '@stelar/codec-tcp';
import type { StelarClient } from '@stelar/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sleep, until } from '@stelar/test-utils';
import { OP } from '../src/wire';
import { runScenario } from './scenario';
import { KiB, MiB, RawTcp, rawHttp, rawWs, retained, served, startServer, upgradeRequest, witness, wsMessage, type Harness } from './helpers';

const dec = new TextDecoder();

async function hello(tcp: RawTcp): Promise<void> {
  tcp.hello();
  await until(() => tcp.frames.some((f) => f.type === FrameType.CONNECT), 'CONNECT answer');
}

describe('hardening: hub limits over both transports', { timeout: 30_000 }, () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it('JOIN flood: 256 rooms per connection, then ROOM_LIMIT; maxRooms caps the process; all freed on close', async () => {
    const h = await startServer({ maxRooms: 400 });
    cleanups.push(() => h.close());
    const good = await witness(`ws://127.0.0.1:${h.port}/`);
    cleanups.push(() => good.close());
    const a = await RawTcp.open(h.tcpPort);
    await hello(a);
    const before = await retained();
    const t0 = performance.now();
    const N = 5000;
    const burst: Uint8Array[] = [];
    for (let i = 1; i <= N; i++) burst.push(encodeJoin(`room-a-${i}`, i));
    a.write(Buffer.concat(burst));
    await until(() => a.frames.length >= N + 1, `${N} JOIN answers`, 10_000);
    const answers = a.frames.filter((f) => f.type === FrameType.ACK_RES).map((f) => parseAckResponse(f.payload));
    const ok = answers.filter((r) => r.ok).length;
    const limited = answers.filter((r) => !r.ok && (JSON.parse(dec.decode(r.body)) as { code: string }).code === 'ROOM_LIMIT').length;
    console.log(`JOIN flood: ${N} joins answered in ${(performance.now() - t0).toFixed(0)} ms: ${ok} accepted, ${limited} ROOM_LIMIT`);
    expect(ok).toBe(256);
    expect(limited).toBe(N - 256);
    expect(h.server.getStats().rooms).toBe(256);
    // A second connection: the process-wide limit (maxRooms 400) stops it at 144 new rooms.
    const b = await RawTcp.open(h.tcpPort);
    await hello(b);
    b.write(Buffer.concat(Array.from({ length: 300 }, (_, i) => encodeJoin(`room-b-${i}`, i + 1))));
    await until(() => b.frames.length >= 301, 'second JOIN answers');
    expect(b.frames.filter((f) => f.type === FrameType.ACK_RES && parseAckResponse(f.payload).ok)).toHaveLength(144);
    expect(h.server.getStats().rooms).toBe(400);
    expect((await retained()) - before).toBeLessThan(16 * MiB);
    await served(good);
    a.destroy();
    b.destroy();
    await until(() => h.server.getStats().rooms === 0, 'rooms freed');
  });

  it('request flood: at most maxConcurrentRequests handlers run, reads pause, memory stays bounded, others are served', async () => {
    const h = await startServer({ maxConcurrentRequests: 16, maxQueuedFrames: 16 });
    cleanups.push(() => h.close());
    let running = 0;
    let most = 0;
    h.server.on('slow', async (n: unknown) => {
      running++;
      most = Math.max(most, running);
      await sleep(10);
      running--;
      return n;
    });
    const good = await witness(`tcp://127.0.0.1:${h.tcpPort}`);
    cleanups.push(() => good.close());
    const a = await RawTcp.open(h.tcpPort);
    await hello(a);
    const before = await retained();
    const N = 3000;
    const wire = Buffer.concat(Array.from({ length: N }, (_, i) => encodeAckRequest(i + 1, 'slow', i + 1)));
    a.socket.write(wire);
    const t0 = performance.now();
    await sleep(300);
    const early = a.frames.filter((f) => f.type === FrameType.ACK_RES).length;
    const witnessMs = await served(good);
    expect(h.server.getStats().acks.inFlightHandlers).toBeLessThanOrEqual(16);
    // ~16 per 10 ms: the rest waits (unread, or queued up to maxQueuedFrames plus one socket chunk).
    expect(early).toBeLessThan(N);
    await until(() => a.frames.filter((f) => f.type === FrameType.ACK_RES).length === N, 'every request answered', 20_000);
    const ids = a.frames.filter((f) => f.type === FrameType.ACK_RES).map((f) => parseAckResponse(f.payload).id);
    expect(ids).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    const growth = (await retained()) - before;
    console.log(
      `request flood: ${N} slow requests (${(wire.length / KiB).toFixed(0)} KiB); ${early} answered after 300 ms, all in ${(performance.now() - t0).toFixed(0)} ms, ` +
        `at most ${most} handlers at once, memory +${(growth / MiB).toFixed(1)} MiB, witness ${witnessMs.toFixed(0)} ms`,
    );
    expect(most).toBeLessThanOrEqual(16);
    expect(growth).toBeLessThan(16 * MiB);
    expect(witnessMs).toBeLessThan(1000);
    a.destroy();
    await until(() => h.server.getStats().connections.open === 1, 'attacker gone');
  });

  it('a client that disconnects with requests waiting for a slot: the server keeps serving (run in a child process)', async () => {
    // Before 9a0ef0e the hub re-dispatched those requests in a microtask loop that starved the
    // event loop until the process ran out of memory.
    const r = await runScenario('request-disconnect', { timeout: 8000, maxOldSpaceMb: 96 });
    const survived = /survived (\d+)/.exec(r.stdout);
    if (!survived) console.log(`child ${r.killed ? 'killed' : 'ended'} after ${r.ms} ms (exit ${String(r.exit)}): ${r.stderr.split('\n').find((l) => /heap|FATAL/.test(l)) ?? r.stderr.slice(0, 500)}`);
    expect(survived).not.toBeNull();
    expect(Number(survived![1])).toBeLessThan(1000);
  });

  for (const transport of ['ws', 'tcp'] as const) {
    it(`slow consumer (${transport}): volatile broadcasts are dropped, then the connection is closed 4006; others keep receiving`, async () => {
      const h = await startServer({ highWaterMark: 64 * KiB, maxBufferedAmount: 512 * KiB, closeTimeout: 300 });
      cleanups.push(() => h.close());
      const codes: number[] = [];
      h.server.onDisconnect((_c, code) => codes.push(code));
      h.server.on('sub', (_d: unknown, conn) => {
        conn.join('feed');
        return true;
      });
      const good = await witness(transport === 'ws' ? `ws://127.0.0.1:${h.port}/` : `tcp://127.0.0.1:${h.tcpPort}`);
      cleanups.push(() => good.close());
      let goodGot = 0;
      good.on('tick' as never, (() => {
        goodGot++;
      }) as never);
      await good.request('sub' as never, null as never);

      // The slow consumer joins, then stops reading.
      let stop: () => void;
      if (transport === 'tcp') {
        const a = await RawTcp.open(h.tcpPort);
        await hello(a);
        a.write(encodeAckRequest(1, 'sub', null));
        await until(() => a.frames.some((f) => f.type === FrameType.ACK_RES), 'sub answer');
        a.socket.pause();
        stop = () => a.destroy();
      } else {
        const { tester } = await rawWs(h.port);
        tester.send({ opcode: OP.BINARY, payload: wsMessage(encodeClientConnect()) });
        tester.send({ opcode: OP.BINARY, payload: wsMessage(encodeAckRequest(1, 'sub', null)) });
        await tester.waitData(2, 2000);
        tester.socket.pause();
        stop = () => tester.destroy();
      }
      cleanups.push(stop);
      await until(() => h.server.getStats().connections.open === 2, 'two sessions');
      const payload = 'x'.repeat(4 * KiB);
      // Volatile until something is dropped (the kernel buffers take a few MiB first).
      let sent = 0;
      while (h.server.getStats().backpressure.dropped === 0 && sent < 64 * MiB) {
        for (let i = 0; i < 64; i++) h.server.to('feed').volatile.emit('tick' as never, payload as never);
        sent += 64 * payload.length;
        await new Promise<void>((r) => setImmediate(r));
      }
      const dropped = h.server.getStats().backpressure.dropped;
      expect(dropped).toBeGreaterThan(0);
      expect(codes).toEqual([]);
      // Non-volatile: the buffer overflows maxBufferedAmount → 4006.
      for (let i = 0; i < 400 && codes.length === 0; i++) {
        h.server.to('feed').emit('tick' as never, payload as never);
        if (i % 50 === 0) await new Promise<void>((r) => setImmediate(r));
      }
      await until(() => codes.length === 1, '4006', 5000);
      expect(codes).toEqual([4006]);
      expect(h.server.getStats().backpressure.slowConsumerDisconnects).toBe(1);
      console.log(`slow consumer ${transport}: ${(sent / MiB).toFixed(1)} MiB of volatile broadcasts before the first drop (${dropped} dropped), then 4006`);
      // The well-behaved member kept receiving what was not dropped for it.
      await until(() => goodGot > 0, 'witness received broadcasts');
      await served(good);
    });
  }

  it('connection flood: maxConnectionsPerIp and maxConnections answer 503 (WebSocket) and DISCONNECT 1013 (TCP); slots come back', async () => {
    const h = await startServer({ maxConnections: 9, maxConnectionsPerIp: 3 });
    cleanups.push(() => h.close());
    const good = await witness(`ws://127.0.0.1:${h.port}/`); // 1 slot from 127.0.0.1
    cleanups.push(() => good.close());
    const open: { destroy(): void }[] = [];
    cleanups.push(() => open.forEach((o) => o.destroy()));
    // 127.0.0.1: two more (3 per IP), then refused on both transports.
    open.push((await rawWs(h.port)).tester);
    open.push(await RawTcp.open(h.tcpPort));
    await sleep(50);
    const perIpWs = await rawHttp(h.port, upgradeRequest(h.port));
    expect(perIpWs.status).toBe(503);
    expect(perIpWs.head).toMatch(/retry-after: 1/i);
    perIpWs.socket.destroy();
    const perIpTcp = await RawTcp.open(h.tcpPort);
    await until(() => perIpTcp.closed, 'refused TCP closed');
    expect(perIpTcp.disconnectCode).toBe(1013);
    // Other addresses fill the total (9): 127.0.0.2 and .3 take 3 each.
    for (const ip of ['127.0.0.2', '127.0.0.3']) {
      for (let i = 0; i < 3; i++) open.push(i % 2 ? await RawTcp.open(h.tcpPort, ip) : (await rawWs(h.port, { localAddress: ip })).tester);
    }
    await sleep(50);
    // A flood of 200 attempts from a fresh address: all refused quickly, nothing retained.
    const before = await retained();
    const t0 = performance.now();
    const refused = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const r = await rawHttp(h.port, upgradeRequest(h.port), { localAddress: '127.0.0.4' });
        r.socket.destroy();
        return r.status;
      }),
    );
    const tcpRefused = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const t = await RawTcp.open(h.tcpPort, '127.0.0.4');
        await until(() => t.closed, 'refused');
        return t.disconnectCode;
      }),
    );
    console.log(`connection flood: 200 attempts over the total refused in ${(performance.now() - t0).toFixed(0)} ms`);
    expect(new Set(refused)).toEqual(new Set([503]));
    expect(new Set(tcpRefused)).toEqual(new Set([1013]));
    expect((await retained()) - before).toBeLessThan(8 * MiB);
    await served(good);
    // Slots come back when connections go.
    open.pop()!.destroy();
    open.pop()!.destroy();
    await sleep(100);
    const again = await rawWs(h.port, { localAddress: '127.0.0.4' });
    open.push(again.tester);
    expect(again.answer.status).toBe(101);
  });

  it('rate limits: drop answers ERROR RATE_LIMITED and keeps the connection; disconnect closes with 4005', async () => {
    for (const onExceeded of ['drop', 'disconnect'] as const) {
      const h = await startServer({ rateLimit: { connection: { rate: 20, burst: 20 }, onExceeded } });
      cleanups.push(() => h.close());
      let got = 0;
      h.server.on('ev', () => {
        got++;
      });
      const codes: number[] = [];
      h.server.onDisconnect((_c, code) => codes.push(code));
      const a = await RawTcp.open(h.tcpPort);
      await hello(a);
      a.write(Buffer.concat(Array.from({ length: 200 }, () => encodeJson('ev', 1))));
      if (onExceeded === 'drop') {
        await until(() => a.frames.filter((f) => f.type === FrameType.ERROR).length >= 150, 'RATE_LIMITED errors');
        const errs = a.frames.filter((f) => f.type === FrameType.ERROR).map((f) => parseErrorBody(f.payload).code);
        expect(new Set(errs)).toEqual(new Set(['RATE_LIMITED']));
        expect(got).toBeLessThanOrEqual(25);
        expect(a.closed).toBe(false);
        expect(h.server.getStats().rateLimit.hits).toBeGreaterThanOrEqual(175);
      } else {
        await until(() => a.closed, 'closed');
        expect(a.disconnectCode).toBe(4005);
        expect(codes).toEqual([4005]);
      }
      a.destroy();
    }
  });
});

describe('hardening: the same limits hold while a well-behaved client keeps working', () => {
  let h: Harness;
  let good: StelarClient;
  beforeAll(async () => {
    h = await startServer();
    good = await witness(`tcp://127.0.0.1:${h.tcpPort}`);
  });
  afterAll(async () => {
    good.close();
    await h.close();
  });
  it('a protocol violation on one connection (1002) leaves the others alone', async () => {
    const a = await RawTcp.open(h.tcpPort);
    a.write(new Uint8Array([0, 0, 0, 7, 0x63, 0, 0]));
    await until(() => a.closed, 'violator closed');
    expect(a.disconnectCode).toBe(1002);
    await served(good);
  });
});
