/**
 * Hardening of request handlers (issue 10, item 6): "connect, send 64 slow requests, disconnect,
 * repeat" left handlers running for connections long gone, without bound. Handlers now get
 * `conn.signal`, which aborts when the connection goes, and the hub caps handlers in flight
 * process-wide (`maxHandlersInFlight`): over it, requests wait in arrival order while their
 * connection's reads pause.
 */
import { encodeAckRequest, FrameType, parseAckResponse } from '@stelar/codec-tcp';
import { StelarError } from '@stelar/server';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, until } from '@stelar/test-utils';
import { RawTcp, served, startServer, witness } from './helpers';

async function hello(tcp: RawTcp): Promise<void> {
  tcp.hello();
  await until(() => tcp.frames.some((f) => f.type === FrameType.CONNECT), 'CONNECT answer');
}

/** Connects, sends `n` requests for `event`, waits until the server has taken them, disconnects. */
async function hitAndRun(port: number, event: string, n: number, taken: () => boolean): Promise<void> {
  const t = await RawTcp.open(port);
  await hello(t);
  t.write(Buffer.concat(Array.from({ length: n }, (_, i) => encodeAckRequest(i + 1, event, i))));
  await until(taken, 'requests taken');
  t.destroy();
}

describe('hardening: request handlers are bounded process-wide', { timeout: 30_000 }, () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it('64 slow requests then a disconnect, 20 times: handlers in flight never pass maxHandlersInFlight; others are served after', async () => {
    const cap = 200;
    const h = await startServer({ maxHandlersInFlight: cap });
    cleanups.push(() => h.close());
    let running = 0;
    let most = 0;
    // A handler that ignores the signal: only the cap bounds it.
    h.server.on('slow', async (n: unknown) => {
      running++;
      most = Math.max(most, running);
      await sleep(1500);
      running--;
      return n;
    });
    const good = await witness(`tcp://127.0.0.1:${h.tcpPort}`);
    cleanups.push(() => good.close());
    const stats = () => h.server.getStats().acks.inFlightHandlers;
    let sampled = 0;
    const sampler = setInterval(() => (sampled = Math.max(sampled, stats())), 2);
    try {
      for (let round = 0; round < 20; round++) {
        const before = running;
        // Taken: started (under the cap), or waiting for a slot (at the cap).
        await hitAndRun(h.tcpPort, 'slow', 64, () => running >= Math.min(cap, before + 64) || running === cap);
      }
      console.log(`hit and run: 20 × 64 slow requests; at most ${most} handlers at once (cap ${cap}), ${running} still running`);
      expect(most).toBeLessThanOrEqual(cap);
      expect(sampled).toBeLessThanOrEqual(cap);
      expect(most).toBe(cap);
      // The witness waits for a slot (the orphans finish within 1.5 s), then is served.
      const t0 = performance.now();
      await served(good);
      console.log(`witness served after ${(performance.now() - t0).toFixed(0)} ms`);
      await until(() => stats() === 0, 'every handler done', 5000);
      expect(running).toBe(0);
    } finally {
      clearInterval(sampler);
    }
  });

  it('conn.signal aborts when the connection goes: handlers that honour it stop at once', async () => {
    const h = await startServer();
    cleanups.push(() => h.close());
    const reasons: unknown[] = [];
    h.server.on('wait', (_d: unknown, conn) => {
      const signal = conn.signal;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, 60_000);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          reasons.push(signal.reason);
          reject(signal.reason as Error);
        });
      });
    });
    for (let round = 0; round < 20; round++) {
      await hitAndRun(h.tcpPort, 'wait', 64, () => h.server.getStats().acks.inFlightHandlers === 64);
      await until(() => h.server.getStats().acks.inFlightHandlers === 0, 'handlers aborted', 2000);
    }
    expect(reasons).toHaveLength(20 * 64);
    expect(reasons[0]).toBeInstanceOf(StelarError);
    expect((reasons[0] as StelarError).code).toBe('DISCONNECTED');
    // Read after the close, it is already aborted.
    let late: AbortSignal | undefined;
    h.server.on('late', async (_d: unknown, conn) => {
      await sleep(50);
      late = conn.signal;
      return 1;
    });
    await hitAndRun(h.tcpPort, 'late', 1, () => h.server.getStats().acks.inFlightHandlers === 1);
    await until(() => late !== undefined, 'late handler done');
    expect(late!.aborted).toBe(true);
  });

  it('over the cap, requests of every connection wait in arrival order and are all answered', async () => {
    const h = await startServer({ maxHandlersInFlight: 3 });
    cleanups.push(() => h.close());
    let running = 0;
    let most = 0;
    const order: string[] = [];
    h.server.on('work', async (tag: unknown) => {
      running++;
      most = Math.max(most, running);
      order.push(String(tag));
      await sleep(20);
      running--;
      return tag;
    });
    const peers = await Promise.all([0, 1, 2, 3].map(() => RawTcp.open(h.tcpPort)));
    cleanups.push(() => peers.forEach((p) => p.destroy()));
    for (const p of peers) await hello(p);
    peers.forEach((p, i) => p.write(Buffer.concat(Array.from({ length: 5 }, (_, k) => encodeAckRequest(k + 1, 'work', `${i}.${k}`)))));
    for (const p of peers) await until(() => p.frames.filter((f) => f.type === FrameType.ACK_RES).length === 5, 'answers', 5000);
    expect(most).toBe(3);
    for (const p of peers) expect(p.frames.filter((f) => f.type === FrameType.ACK_RES).map((f) => parseAckResponse(f.payload).id)).toEqual([1, 2, 3, 4, 5]);
    // Each connection's requests start in its own order.
    for (let i = 0; i < 4; i++) expect(order.filter((t) => t.startsWith(`${i}.`))).toEqual([0, 1, 2, 3, 4].map((k) => `${i}.${k}`));
    expect(h.server.getStats().acks.inFlightHandlers).toBe(0);
  });
});
