/**
 * 1,000 attacking connections at once against `createServer` at default limits, running in a
 * child process whose RSS is measured (issue 10: "a process under 1,000 attacking connections
 * stays under a documented memory bound"). The classes are those of the application layer:
 * - ERROR floods: unique 64 KiB codes after CONNECT (300 connections × 8 frames = 150 MiB of
 *   distinct codes), and before CONNECT (50 connections);
 * - hit and run: 64 slow requests, then a disconnect (300 connections at once, 3 rounds: 57 600
 *   requests whose handlers ignore `conn.signal`);
 * - bogus close codes: DISCONNECT with 4006, 99999, 1.5, -1 or 1006 and a 60 KiB reason
 *   (250 TCP connections), WebSocket close frames with 4006 (100 connections).
 * The bound and the method are stated in docs/security.md; the figures are printed.
 */
import { connect } from '@stelar/client-node';
import { encodeAckRequest, encodeClientConnect, encodeDisconnect, encodeError, FrameType } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import { sleep, until } from '@stelar/test-utils';
import { OP } from '../src/wire';
import { MiB, RawTcp, rawWs, spawnScenario, wsMessage } from './helpers';

/** RSS growth allowed over the baseline (docs/security.md, "1,000 attacking connections"). */
const RSS_BOUND = 160 * MiB;
const DEFAULT_MAX_HANDLERS = 10_000;

interface Report {
  rss: number;
  baseline: number;
  peak: number;
  maxRss: number;
  heapUsed: number;
  arrayBuffers: number;
  open: number;
  opening: number;
  inFlightHandlers: number;
  slowConsumer: number;
  labels: number;
  longestLabel: number;
  peerErrors: number;
}

async function hello(t: RawTcp): Promise<void> {
  t.hello();
  await until(() => t.frames.some((f) => f.type === FrameType.CONNECT), 'CONNECT answer', 15_000);
}

describe('hardening: 1,000 attacking connections, server memory bounded', { timeout: 60_000 }, () => {
  it('ERROR floods, hit-and-run requests and bogus close codes on 1,000 connections: RSS growth stays under the bound, service goes on', async () => {
    const child = await spawnScenario('app-flood-server', { maxOldSpaceMb: 512, timeout: 50_000 });
    try {
      const { port, tcpPort } = await child.line<{ port: number; tcpPort: number }>('ready');
      const report = async (): Promise<Report> => {
        child.send('report');
        return child.line<Report>('report');
      };
      const good = connect(`tcp://127.0.0.1:${tcpPort}`, { reconnect: false, heartbeat: false, requestTimeout: 10_000 });
      await good.connect();
      // Warm-up: one connection of each class, then the baseline.
      for (let i = 0; i < 20; i++) await good.request('echo' as never, i as never);
      {
        const t = await RawTcp.open(tcpPort);
        await hello(t);
        t.write(encodeError('warm', 'up'));
        t.write(encodeDisconnect(4006, 'warm'));
        await until(() => t.closed, 'warm-up closed');
      }
      await sleep(200);
      child.send('baseline');
      await child.line('baseline');
      const t0 = performance.now();

      const pad = 'C'.repeat(64 * 1024);
      const flooders = Array.from({ length: 300 }, async (_, i) => {
        const t = await RawTcp.open(tcpPort);
        await hello(t);
        for (let k = 0; k < 8; k++) t.write(encodeError(`${i}.${k}:${pad}`, 'flood'));
        return t;
      });
      const early = Array.from({ length: 50 }, async (_, i) => {
        const t = await RawTcp.open(tcpPort);
        t.write(encodeError(`early${i}:${pad}`, 'before CONNECT'));
        await until(() => t.closed, 'early ERROR closed', 15_000);
        return t.disconnectCode;
      });
      const slow = Buffer.concat(Array.from({ length: 64 }, (_, k) => encodeAckRequest(k + 1, 'slow', k)));
      const hitAndRun = Array.from({ length: 300 }, async () => {
        for (let round = 0; round < 3; round++) {
          const t = await RawTcp.open(tcpPort);
          await hello(t);
          t.write(slow);
          await sleep(150);
          t.destroy();
        }
      });
      const bogus = [4006, 99999, 1.5, -1, 1006];
      const reason = 'r'.repeat(60 * 1024);
      const closers = Array.from({ length: 250 }, async (_, i) => {
        const t = await RawTcp.open(tcpPort);
        await hello(t);
        t.write(encodeDisconnect(bogus[i % bogus.length]!, reason));
        await until(() => t.closed, 'bogus DISCONNECT closed', 15_000);
        return t.disconnectCode;
      });
      const wsClosers = Array.from({ length: 100 }, async () => {
        const { tester } = await rawWs(port);
        tester.send({ opcode: OP.BINARY, payload: wsMessage(encodeClientConnect()) });
        await tester.waitData(1, 15_000);
        tester.close(4006, 'claiming a slow consumer');
        await tester.waitPeerGone(15_000);
        tester.destroy();
      });
      const [openFlooders, earlyCodes, , closeCodes] = await Promise.all([
        Promise.all(flooders),
        Promise.all(early),
        Promise.all(hitAndRun),
        Promise.all(closers),
        Promise.all(wsClosers),
      ]);
      // Every flood frame counted (the flooders stay connected).
      let r = await report();
      const t1 = performance.now();
      while (r.peerErrors < 300 * 8 + 1 && performance.now() - t1 < 15_000) {
        await sleep(100);
        r = await report();
      }
      const attackMs = performance.now() - t0;
      const t2 = performance.now();
      const witnessReply = await good.request('echo' as never, 'still here' as never);
      const witnessMs = performance.now() - t2;
      r = await report();
      for (const t of openFlooders) t.destroy();
      console.log(
        `1,000 attacking connections in ${(attackMs / 1000).toFixed(1)} s: server RSS ${(r.baseline / MiB).toFixed(0)} MiB at baseline, ` +
          `peak +${((r.peak - r.baseline) / MiB).toFixed(0)} MiB (sampled every 5 ms; lifetime maxRSS ${(r.maxRss / MiB).toFixed(0)} MiB), ` +
          `now +${((r.rss - r.baseline) / MiB).toFixed(0)} MiB, heap ${(r.heapUsed / MiB).toFixed(0)} MiB; ` +
          `${r.labels} error labels (longest ${r.longestLabel} characters); slow consumers ${r.slowConsumer}; handlers in flight ${r.inFlightHandlers}; witness ${witnessMs.toFixed(0)} ms`,
      );
      expect(witnessReply).toBe('still here');
      expect(new Set(earlyCodes)).toEqual(new Set([1002]));
      expect(new Set(closeCodes)).toEqual(new Set([1002]));
      expect(r.peerErrors).toBe(300 * 8 + 1); // + the warm-up
      expect(r.labels).toBeLessThan(40);
      expect(r.longestLabel).toBeLessThanOrEqual(64);
      expect(r.slowConsumer).toBe(0);
      expect(r.inFlightHandlers).toBeLessThanOrEqual(DEFAULT_MAX_HANDLERS);
      expect(r.peak - r.baseline).toBeLessThan(RSS_BOUND);
      good.close();
      child.send('exit');
      expect(await child.exited).toBe(0);
    } finally {
      await child.stop();
    }
  });
});
