/**
 * Hardening of the hub's error accounting (issue 10, items 1 and 2): nothing a peer sends becomes
 * a metrics label or a map key, so `getStats().errors` has a bounded label set whatever peers
 * send; ERROR before CONNECT is a protocol error (1002); `getStats()` costs the same after
 * hundreds of thousands of distinct error codes; `/readyz` does not touch the stats at all.
 */
import { encodeAckRequest, encodeClientConnect, encodeError, ErrorCode, FrameType, parseAckResponse, parseErrorBody } from '@stelar/codec-tcp';
import { StelarError } from '@stelar/server';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '@stelar/test-utils';
import { OP } from '../src/wire';
import { KiB, MiB, RawTcp, rawWs, retained, served, startServer, witness, wsMessage } from './helpers';

/** Labels `getStats().errors` may hold (docs/security.md): Stelar's codes, the same as `peer:`, the hub's two timeouts, `peer:other`, `other`, 64 more. */
const MAX_LABELS = 2 * Object.keys(ErrorCode).length + 4 + 64;
const MAX_LABEL_LENGTH = 64 + 'peer:'.length;

const total = (errors: Record<string, number>): number => Object.values(errors).reduce((a, b) => a + b, 0);

function checkLabels(errors: Record<string, number>): void {
  const labels = Object.keys(errors);
  expect(labels.length).toBeLessThanOrEqual(MAX_LABELS);
  for (const l of labels) expect(l.length).toBeLessThanOrEqual(MAX_LABEL_LENGTH);
}

async function hello(tcp: RawTcp): Promise<void> {
  tcp.hello();
  await until(() => tcp.frames.some((f) => f.type === FrameType.CONNECT), 'CONNECT answer');
}

describe('hardening: peer strings never become metric labels', { timeout: 30_000 }, () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it('ERROR before CONNECT is a protocol error: ERROR PROTOCOL, then 1002, on both transports', async () => {
    const h = await startServer();
    cleanups.push(() => h.close());
    const tcp = await RawTcp.open(h.tcpPort);
    tcp.write(encodeError('X'.repeat(KiB), 'not yet'));
    await until(() => tcp.closed, 'TCP peer closed');
    expect(tcp.disconnectCode).toBe(1002);
    const err = tcp.frames.find((f) => f.type === FrameType.ERROR);
    expect(err && parseErrorBody(err.payload).code).toBe('PROTOCOL');

    const { tester } = await rawWs(h.port);
    cleanups.push(() => tester.destroy());
    tester.send({ opcode: OP.BINARY, payload: wsMessage(encodeError('Y'.repeat(KiB), 'not yet')) });
    expect(await tester.waitFor(() => tester.peerClosed !== undefined, 3000)).toBe(true);
    expect(tester.peerClosed!.code).toBe(1002);
    // Counted under the fixed PROTOCOL label, not under the peer's code.
    expect(h.server.getStats().errors['PROTOCOL']).toBe(2);
    checkLabels(h.server.getStats().errors);
  });

  it('ERROR floods with unique 64 KiB codes (both transports): a fixed label, flat memory', async () => {
    const h = await startServer();
    cleanups.push(() => h.close());
    const good = await witness(`tcp://127.0.0.1:${h.tcpPort}`);
    cleanups.push(() => good.close());
    const tcp = await RawTcp.open(h.tcpPort);
    cleanups.push(() => tcp.destroy());
    await hello(tcp);
    const { tester } = await rawWs(h.port);
    cleanups.push(() => tester.destroy());
    tester.send({ opcode: OP.BINARY, payload: wsMessage(encodeClientConnect()) });
    await tester.waitData(1, 2000);
    const before = await retained();
    const pad = 'C'.repeat(64 * KiB);
    const N = 1000; // 2 × 1000 × 64 KiB = 125 MiB of distinct codes
    for (let i = 0; i < N; i++) {
      tcp.write(encodeError(`${i}:${pad}`, 'flood'));
      tester.send({ opcode: OP.BINARY, payload: wsMessage(encodeError(`${i}:${pad}`, 'flood')) });
      if (i % 100 === 99) await served(good);
    }
    // Well-known codes keep their own label.
    tcp.write(encodeError('BAD_JSON', 'known'));
    await until(() => total(h.server.getStats().errors) === 2 * N + 1, 'peer errors counted', 20_000);
    const growth = (await retained()) - before;
    console.log(`ERROR flood: ${2 * N} unique 64 KiB codes; heap + buffers ${(growth / MiB).toFixed(1)} MiB after GC`);
    expect(growth).toBeLessThan(16 * MiB);
    const errors = h.server.getStats().errors;
    checkLabels(errors);
    expect(errors['peer:other']).toBe(2 * N);
    expect(errors['peer:BAD_JSON']).toBe(1);
    expect(tcp.closed).toBe(false);
    await served(good);
  });

  it('error codes thrown by handlers are bounded too: a few dozen distinct labels, the rest under "other"', async () => {
    const h = await startServer();
    cleanups.push(() => h.close());
    // An application that (unwisely) puts client input into its error codes.
    h.server.on('lookup', (key: unknown) => {
      throw new StelarError(`NOT_FOUND_${String(key)}`, 'no such key');
    });
    const tcp = await RawTcp.open(h.tcpPort);
    cleanups.push(() => tcp.destroy());
    await hello(tcp);
    const N = 5000;
    // Short keys first (they would be valid labels), then long ones.
    tcp.write(Buffer.concat(Array.from({ length: N }, (_, i) => encodeAckRequest(i + 1, 'lookup', i < N / 2 ? `${i}` : `${i}-${'k'.repeat(200)}`))));
    await until(() => tcp.frames.filter((f) => f.type === FrameType.ACK_RES).length === N, 'every request answered', 10_000);
    // The client still gets its own code back; only the metrics are bounded.
    const last = tcp.frames.filter((f) => f.type === FrameType.ACK_RES).at(-1)!;
    expect(parseErrorBody(parseAckResponse(last.payload).body).code).toMatch(/^NOT_FOUND_4999-k+$/);
    const errors = h.server.getStats().errors;
    checkLabels(errors);
    expect(total(errors)).toBe(N);
    expect(Object.keys(errors).filter((l) => l.startsWith('NOT_FOUND_'))).toHaveLength(64);
    expect(errors['other']).toBe(N - 64);
  });
});

describe('hardening: getStats() and /readyz stay constant-time', { timeout: 60_000 }, () => {
  it('getStats() costs the same after 200 000 distinct error codes; 20 parallel /readyz answer at once', async () => {
    const h = await startServer({ health: true });
    try {
      const tcp = await RawTcp.open(h.tcpPort);
      await hello(tcp);
      /** Time of one call in µs: the fastest of 5 batches (each up to 2000 calls or 20 ms). */
      const cost = (): number => {
        let best = Infinity;
        for (let b = 0; b < 5; b++) {
          const t0 = performance.now();
          let n = 0;
          while (n < 2000 && performance.now() - t0 < 20) {
            h.server.getStats();
            n++;
          }
          best = Math.min(best, ((performance.now() - t0) / n) * 1000);
        }
        return best;
      };
      const base = cost();
      const N = 200_000;
      for (let off = 0; off < N; off += 20_000) {
        tcp.write(Buffer.concat(Array.from({ length: 20_000 }, (_, i) => encodeError(`E${off + i}`, ''))));
        await until(() => total(h.server.getStats().errors) >= off + 20_000, 'errors counted', 30_000);
      }
      const after = cost();
      console.log(`getStats(): ${base.toFixed(2)} µs before, ${after.toFixed(2)} µs after ${N} distinct codes`);
      expect(after / base).toBeLessThan(5);

      const t0 = performance.now();
      const answers = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const r = await fetch(`http://127.0.0.1:${h.port}/readyz`);
          return { status: r.status, body: (await r.json()) as { status: string; connections: { open: number } } };
        }),
      );
      const ms = performance.now() - t0;
      console.log(`20 parallel /readyz: ${ms.toFixed(0)} ms`);
      expect(answers.every((a) => a.status === 200 && a.body.connections.open === 1)).toBe(true);
      expect(ms).toBeLessThan(2000);
      tcp.destroy();
    } finally {
      await h.close();
    }
  });

  it('/readyz never calls getStats()', async () => {
    const h = await startServer({ health: true });
    try {
      h.server.getStats = () => {
        throw new Error('readiness must not read the stats');
      };
      const r = await fetch(`http://127.0.0.1:${h.port}/readyz`);
      expect(r.status).toBe(200);
      expect(((await r.json()) as { status: string }).status).toBe('ready');
    } finally {
      await h.close();
    }
  });
});
