/**
 * Soak: thousands of clients over both transports join rooms, talk and leave, in waves, for a
 * bounded time. At the end the hub's counters are back to zero, the process holds no socket,
 * server or timer it did not hold before, and the retained heap is back near where it started.
 *
 * Size and duration by environment (CI defaults in parentheses):
 *   STELAR_SOAK_CLIENTS (2000, half WebSocket, half TCP), STELAR_SOAK_MS (20 000, time spent in
 *   waves after the first), STELAR_SOAK_ROOMS (50), STELAR_SOAK_MESSAGES (3 per client per wave).
 */
import { connect, type StelarClient } from '@stelar/client-node';
import { describe, expect, it } from 'vitest';
import { sleep, until } from '@stelar/test-utils';
import { MiB, retained, startServer } from './helpers';

const CLIENTS = Number(process.env['STELAR_SOAK_CLIENTS'] ?? 2000);
const DURATION = Number(process.env['STELAR_SOAK_MS'] ?? 20_000);
const ROOMS = Number(process.env['STELAR_SOAK_ROOMS'] ?? 50);
const MESSAGES = Number(process.env['STELAR_SOAK_MESSAGES'] ?? 3);

function resources(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

/** In batches of `size`, so the accept queue and the event loop keep up. */
async function inBatches<T>(items: T[], size: number, fn: (x: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

describe('soak', () => {
  it(
    `${CLIENTS} clients over WebSocket and TCP join, talk and leave; everything returns to zero`,
    { timeout: Math.max(60_000, DURATION * 3) },
    async () => {
      const handlesBefore = resources();
      const heapBefore = await retained();
      const h = await startServer({ maxFrameSize: 64 * 1024 });
      let chats = 0;
      h.server.on('chat', (m: unknown, conn) => {
        chats++;
        conn.to([...conn.rooms][0]!).emit('chat', m as never);
      });
      h.server.on('where', (_d: unknown, conn) => [...conn.rooms]);
      const urls = [`ws://127.0.0.1:${h.port}/`, `tcp://127.0.0.1:${h.tcpPort}`];
      let received = 0;
      let waves = 0;
      let peakOpen = 0;
      const t0 = performance.now();

      const wave = async (): Promise<void> => {
        waves++;
        const clients: StelarClient[] = [];
        await inBatches(
          Array.from({ length: CLIENTS }, (_, i) => i),
          200,
          async (i) => {
            const c = connect(urls[i % 2]!, { reconnect: false, heartbeat: false, requestTimeout: 20_000, connectTimeout: 20_000 });
            c.on('chat' as never, (() => {
              received++;
            }) as never);
            clients.push(c);
            await c.connect();
            await c.join(`room-${i % ROOMS}`);
          },
        );
        peakOpen = Math.max(peakOpen, h.server.getStats().connections.open);
        await inBatches(clients, 250, async (c) => {
          for (let k = 0; k < MESSAGES; k++) c.emit('chat' as never, { k, text: 'soak' } as never);
          const rooms = (await c.request('where' as never, null as never)) as string[];
          expect(rooms).toHaveLength(1);
          await c.leave(rooms[0]!);
        });
        for (const c of clients) c.close();
        await until(() => h.server.getStats().connections.open === 0, 'wave closed', 20_000);
      };

      await wave();
      const firstWaveMs = performance.now() - t0;
      while (performance.now() - t0 < DURATION) await wave();

      const stats = h.server.getStats();
      console.log(
        `soak: ${waves} wave(s) of ${CLIENTS} clients (first in ${(firstWaveMs / 1000).toFixed(1)} s), peak ${peakOpen} open, ` +
          `${chats} chats in, ${received} delivered, ${stats.messages.in} frames in, ${stats.messages.out} out, total ${(performance.now() - t0) / 1000 | 0} s`,
      );
      expect(peakOpen).toBe(CLIENTS);
      expect(stats.connections.total).toBe(CLIENTS * waves);
      expect(stats.connections.open).toBe(0);
      expect(stats.connections.opening).toBe(0);
      expect(stats.rooms).toBe(0);
      expect(stats.acks.pending).toBe(0);
      expect(stats.acks.inFlightHandlers).toBe(0);
      expect(chats).toBe(CLIENTS * MESSAGES * waves);

      await h.close();
      // Sockets, servers and timers of the test are gone.
      await sleep(100);
      const after = resources();
      for (const kind of ['TCPSocketWrap', 'TCPServerWrap', 'Timeout', 'TCPWrap']) {
        expect(after.get(kind) ?? 0, `${kind} left over`).toBeLessThanOrEqual(handlesBefore.get(kind) ?? 0);
      }
      const heapGrowth = (await retained()) - heapBefore;
      console.log(`soak: retained heap growth ${(heapGrowth / MiB).toFixed(1)} MiB; handles before ${JSON.stringify([...handlesBefore])}, after ${JSON.stringify([...after])}`);
      expect(heapGrowth).toBeLessThan(24 * MiB);
    },
  );
});
