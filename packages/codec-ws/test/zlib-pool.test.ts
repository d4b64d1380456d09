/**
 * ZlibPool: the process-wide bound on permessage-deflate's concurrent zlib operations and on the
 * memory of zlib streams kept between messages.
 */
import { describe, expect, it } from 'vitest';
import { deflateRawSync } from 'node:zlib';
import { deflateMemory, inflateMemory, PerMessageDeflate, WsError, ZlibPool } from '../src/index';
import type { DeflateParams, Role } from '../src/index';

const TAKEOVER: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
const NCT: DeflateParams = { ...TAKEOVER, serverNoContextTakeover: true, clientNoContextTakeover: true };
const DEF = deflateMemory(15, 8, 16 * 1024);
const INF = inflateMemory(15, 16 * 1024);

const pmd = (pool: ZlibPool, role: Role = 'server', params = TAKEOVER): PerMessageDeflate =>
  new PerMessageDeflate({ role, params, threshold: 0, pool });
const text = (i: number, n = 3000): Buffer => Buffer.from(`message ${i} `.repeat(n / 10).slice(0, n));

describe('ZlibPool', () => {
  it('runs at most `concurrency` operations at once, in order, with exact results', async () => {
    const pool = new ZlibPool({ concurrency: 2 });
    const senders = Array.from({ length: 8 }, () => pmd(pool, 'server', NCT));
    let peak = 0;
    const all = senders.flatMap((s, i) =>
      [0, 1, 2].map((k) =>
        s.compressAsync(text(i * 10 + k)).then((out) => {
          peak = Math.max(peak, pool.running);
          return out;
        }),
      ),
    );
    expect(pool.running).toBe(2);
    expect(pool.waiting).toBe(6); // one waiting ticket per direction of each other instance
    const outs = await Promise.all(all);
    expect(peak).toBeLessThanOrEqual(2);
    const receiver = pmd(new ZlibPool(), 'client', NCT);
    for (let i = 0; i < outs.length; i++) {
      expect((await receiver.decompressAsync(outs[i]!)).equals(text(Math.floor(i / 3) * 10 + (i % 3)))).toBe(true);
    }
    expect(pool.running).toBe(0);
    for (const s of [...senders, receiver]) s.close();
    expect(pool.memory).toBe(0);
  });

  it('keeps at most maxMemory of compressors between messages: idle ones are released (LRU) and recreated; output stays decodable with context takeover', async () => {
    const pool = new ZlibPool({ maxMemory: 3 * DEF + 4 * INF });
    const senders = Array.from({ length: 6 }, () => pmd(pool, 'server', { ...TAKEOVER, clientNoContextTakeover: true }));
    const receivers = Array.from({ length: 6 }, () => pmd(new ZlibPool(), 'client', { ...TAKEOVER, clientNoContextTakeover: true }));
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < senders.length; i++) {
        const out = await senders[i]!.compressAsync(text(i + round * 100));
        // The receivers keep their context (server context takeover): a sender's fresh stream must still decode.
        expect((await receivers[i]!.decompressAsync(out)).equals(text(i + round * 100))).toBe(true);
        expect(pool.memory).toBeLessThanOrEqual(pool.maxMemory);
      }
    }
    expect(pool.liveStreams).toBeLessThanOrEqual(3);
    // The three used last kept theirs: the others were released least recently used first.
    expect(senders.map((s) => s.streams)).toEqual([0, 0, 0, 1, 1, 1]);
    for (const s of [...senders, ...receivers]) s.close();
    expect(pool.memory).toBe(0);
    expect(pool.liveStreams).toBe(0);
  });

  it('over budget with nothing idle: a compressor lives for one message only; an inflater for a whole message too', async () => {
    const pool = new ZlibPool({ maxMemory: 0 });
    const s = pmd(pool, 'server', NCT);
    const out = await s.compressAsync(text(1));
    expect(s.streams).toBe(0);
    expect(pool.memory).toBe(0);
    const r = pmd(pool, 'client', NCT);
    expect((await r.decompressAsync(out)).equals(text(1))).toBe(true);
    expect(r.streams).toBe(0);
    expect(pool.memory).toBe(0);
    s.close();
    r.close();
  });

  it('over budget, the first fragment of a compressed message is refused with 1013 (WS_OVERLOADED)', async () => {
    const pool = new ZlibPool({ maxMemory: 0 });
    const r = pmd(pool, 'client', NCT);
    const whole = deflateRawSync(text(2), { finishFlush: 2 });
    const err = await r.decompressAsync(whole.subarray(0, 10), false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsError);
    expect((err as WsError).code).toBe('WS_OVERLOADED');
    expect((err as WsError).closeCode).toBe(1013);
    r.close();
  });

  it('inflaters that keep their context are reserved for the connection; canPin says when half the budget is taken', () => {
    const pool = new ZlibPool({ maxMemory: 4 * INF });
    expect(pool.canPin(INF)).toBe(true);
    const a = pmd(pool, 'server', TAKEOVER);
    const b = pmd(pool, 'server', TAKEOVER);
    expect(pool.pinnedMemory).toBe(2 * INF);
    expect(pool.canPin(INF)).toBe(false);
    const c = pmd(pool, 'server', { ...TAKEOVER, clientNoContextTakeover: true });
    expect(pool.pinnedMemory).toBe(2 * INF); // releasable: not reserved
    for (const p of [a, b, c]) p.close();
    expect(pool.memory).toBe(0);
  });

  it('close() takes a waiting instance out of the queue and fails its operations', async () => {
    const pool = new ZlibPool({ concurrency: 1 });
    const a = pmd(pool, 'server', NCT);
    const b = pmd(pool, 'server', NCT);
    const pa = a.compressAsync(text(1, 100_000));
    const pb = b.compressAsync(text(2));
    expect(pool.waiting).toBe(1);
    b.close();
    await expect(pb).rejects.toMatchObject({ code: 'WS_DEFLATE_CLOSED' });
    expect(pool.waiting).toBe(0);
    await pa;
    expect(pool.running).toBe(0);
    a.close();
    expect(pool.memory).toBe(0);
  });

  it('validates its options', () => {
    expect(() => new ZlibPool({ concurrency: 0 })).toThrow(RangeError);
    expect(() => new ZlibPool({ maxMemory: -1 })).toThrow(RangeError);
  });
});
