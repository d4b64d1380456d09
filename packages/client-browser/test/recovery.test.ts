// Connection-state recovery in Chromium (issue 12, docs/protocol.md §8): a TCP proxy between the
// page and the server cuts the link (both sockets reset, whatever is in flight lost) 100 times
// while a room streams and the page sends; every message arrives exactly once and in order, both
// ways, a `retry` request runs once, and every reconnection is a resume. Run against this
// package's engine as stelar.full.min.js has it and against core's ClientEngine (the same test).
import { describe, expect, it } from 'vitest';
import { cuttingProxy as proxy } from '@stelar/test-utils';
import { page, site, until, useChromium, useEngine, type EngineName } from './harness';

const ENGINES: EngineName[] = ['browser engine (full)', "core's ClientEngine"];
useChromium(ENGINES);

const DROPS = 100;

describe.each(ENGINES)('%s', (engine) => {
  useEngine(engine);

  it(`${DROPS} cuts while a room streams: every message once and in order both ways, a retry request run once, resumed every time`, async () => {
    const runs = new Map<number, number>();
    const ups: number[] = [];
    const s = await site({ recovery: true }, (srv) => {
      srv.onConnection((conn) => void conn.join('room'));
      srv.on('chat', (m: { n: number }) => void ups.push(m.n));
      srv.on('flaky', (n: number) => {
        runs.set(n, (runs.get(n) ?? 0) + 1);
        return n * 2;
      });
    });
    const p = await proxy(s.port);
    try {
      const pg = await page(s.url);
      await pg.evaluate(async (port) => {
        const c = Stelar.createClient(`ws://127.0.0.1:${port}/`, { reconnect: { baseDelay: 2, maxDelay: 10 } });
        x = { c, got: [] as number[], connected: [] as unknown[], failed: [] as unknown[], said: 0, answers: [] as Promise<number>[] };
        c.on('news', (m: { n: number }) => void x.got.push(m.n));
        c.onLifecycle('connected', (i: unknown) => void x.connected.push(i));
        c.onLifecycle('recovery_failed', (i: unknown) => void x.failed.push(i));
        await c.connect();
        // The page sends all the time, and asks with `retry` every third message.
        x.timer = setInterval(() => {
          c.emit('chat', { n: x.said++ });
          if (x.said % 3 === 0) x.answers.push(c.request('flaky', x.said, { retry: true, timeout: 30_000 }));
        }, 2);
      }, p.port);
      const state = () => pg.evaluate(() => ({ got: x.got.length as number, links: x.connected.length as number, connected: x.c.connected as boolean }));
      // The server streams to the room all the time.
      let sent = 0;
      const stream = setInterval(() => {
        for (let k = 0; k < 4; k++) s.stelar.to('room').emit('news', { n: sent++ });
      }, 2);
      try {
        await until(async () => (await state()).got >= 8, 'the stream to start');
        for (let d = 0; d < DROPS; d++) {
          const before = await state();
          p.cut();
          // Resumed on a new link, and the stream goes on.
          await until(
            async () => {
              const now = await state();
              return now.links > before.links && now.connected && now.got >= before.got + 8;
            },
            `the resume after cut ${d + 1}`,
            10_000,
          );
        }
      } finally {
        clearInterval(stream);
        await pg.evaluate(() => clearInterval(x.timer));
      }
      const said = await pg.evaluate(() => x.said as number);
      await until(async () => (await state()).got >= sent && ups.length >= said, `the last messages (server ${ups.length}/${said})`, 10_000);
      const r = await pg.evaluate(async () => ({ got: x.got, connected: x.connected, failed: x.failed, id: x.c.id, answers: await Promise.all(x.answers) }));
      expect(r.got).toEqual(Array.from({ length: sent }, (_, i) => i));
      expect(ups).toEqual(Array.from({ length: said }, (_, i) => i));
      expect(r.answers).toEqual(r.answers.map((_: number, i: number) => (i + 1) * 3 * 2));
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
      expect(runs.size).toBe(r.answers.length);
      // Resumed after every cut: one session all along.
      expect(p.accepted).toBeGreaterThanOrEqual(DROPS + 1);
      expect(r.failed).toEqual([]);
      expect(r.connected).toHaveLength(DROPS + 1);
      expect(r.connected[0]).toEqual({ id: r.id, recovered: false });
      expect(r.connected.slice(1).every((i: { id: string; recovered: boolean }) => i.id === r.id && i.recovered === true)).toBe(true);
      const stats = s.stelar.getStats();
      expect(stats.connections.total).toBe(1);
      expect(stats.recovery).toMatchObject({ failed: 0, absentSessions: 0, recovered: DROPS });
    } finally {
      await p.close();
    }
  }, 120_000);

  it('a page that stays away past maxDisconnection gets a fresh session (recovery_failed), re-joins its rooms, and its requests on the wire fail', async () => {
    const ended: [string, number][] = [];
    const s = await site({ recovery: { maxDisconnection: 100 } }, (srv) => {
      srv.onDisconnect((conn, code) => void ended.push([conn.id, code]));
      srv.on('never', () => new Promise(() => undefined));
    });
    const p = await proxy(s.port);
    try {
      const pg = await page(s.url);
      const first = await pg.evaluate(async (port) => {
        const c = Stelar.createClient(`ws://127.0.0.1:${port}/`, { reconnect: { baseDelay: 20, maxDelay: 40 } });
        x = { c, failed: [] as unknown[], connected: [] as unknown[], news: 0 };
        c.on('news', () => void x.news++);
        c.onLifecycle('recovery_failed', (i: unknown) => void x.failed.push(i));
        c.onLifecycle('connected', (i: unknown) => void x.connected.push(i));
        await c.connect();
        await c.join('lobby');
        x.lost = c.request('never', 1).catch((e: { code: string }) => e.code);
        return c.id as string;
      }, p.port);
      p.refuse(true);
      p.cut();
      await until(() => ended.length === 1, 'the session to expire', 5000);
      expect(ended).toEqual([[first, 1006]]);
      p.refuse(false);
      await until(() => pg.evaluate(() => x.failed.length === 1), 'the fresh session', 5000);
      const r = await pg.evaluate(async () => ({ id: x.c.id, failed: x.failed, connected: x.connected, lost: await x.lost, rooms: [...x.c.rooms] }));
      expect(r.id).not.toBe(first);
      expect(r.failed).toEqual([{ id: r.id, previousId: first }]);
      expect(r.connected).toEqual([
        { id: first, recovered: false },
        { id: r.id, recovered: false },
      ]);
      expect(r.lost).toBe('DISCONNECTED');
      expect(r.rooms).toEqual(['lobby']);
      // The new session is in the room again: what the server sends there arrives.
      await until(async () => {
        s.stelar.to('lobby').emit('news', { n: 1 });
        return pg.evaluate(() => x.news > 0);
      }, 'the re-join');
      expect(s.stelar.getStats().recovery).toMatchObject({ failed: 1, expired: 1, recovered: 0 });
    } finally {
      await p.close();
    }
  });
});
