/**
 * Connection-state recovery over real sockets (issue 12): a TCP proxy between client and server
 * cuts the connection (both sockets destroyed, whatever is in flight lost) 100 times while a
 * room streams and the client sends; every message arrives exactly once, in order, in both
 * directions, and the session is resumed each time.
 */
import { describe, expect, it } from 'vitest';
import { cuttingProxy } from '@stelar/test-utils';
import { client, onCleanup, startServer, until, useFixtures, type Scheme } from './helpers';

useFixtures();

/** A cutting TCP proxy to `target`, closed after the test. */
async function proxy(target: number) {
  const p = await cuttingProxy(target);
  onCleanup(() => p.close());
  return p;
}

const DROPS = 100;

describe.each(['ws', 'tcp'] as Scheme[])('recovery over %s://', (scheme) => {
  it(`${DROPS} cuts while a room streams: every message once and in order both ways, a retry request run once, resumed every time`, async () => {
    const runs = new Map<number, number>();
    const ups: number[] = [];
    const { server, port, tcpPort } = await startServer({ recovery: true }, (s) => {
      s.onConnection((conn) => void conn.join('room'));
      s.on('chat', (m) => void ups.push(m.n));
      s.on('flaky', (n) => {
        runs.set(n, (runs.get(n) ?? 0) + 1);
        return n * 2;
      });
    });
    const p = await proxy(scheme === 'ws' ? port : tcpPort);
    const c = client(`${scheme}://127.0.0.1:${p.port}${scheme === 'ws' ? '/' : ''}`, { reconnect: { baseDelay: 2, maxDelay: 10 } });
    const got: number[] = [];
    c.on('news', (m) => void got.push(Number(m.text)));
    const connected: { id: string; recovered?: boolean }[] = [];
    c.onLifecycle('connected', (i) => void connected.push(i));
    const failed: unknown[] = [];
    c.onLifecycle('recovery_failed', (i) => void failed.push(i));
    await c.connect();
    const id = c.id!;

    // The server streams to the room; the client sends, and asks with `retry`, all the time.
    let sent = 0;
    let said = 0;
    const answers: Promise<number>[] = [];
    const stream = setInterval(() => {
      for (let k = 0; k < 4; k++) server.to('room').emit('news', { text: String(sent++) });
      c.emit('chat', { n: said++, text: '' });
      if (said % 3 === 0) answers.push(c.request('flaky', said, { retry: true, timeout: 20_000 }));
    }, 2);
    try {
      await until(() => got.length >= 8, 'the stream to start');
      for (let d = 0; d < DROPS; d++) {
        const links = connected.length;
        const seen = got.length;
        p.cut();
        // Resumed on a new link, and the stream goes on.
        await until(() => connected.length > links && c.connected && got.length >= seen + 8, () => `the resume after cut ${d + 1} (got ${got.length}, connected ${c.connected})`, 10_000);
      }
    } finally {
      clearInterval(stream);
    }
    await until(() => got.length >= sent && ups.length >= said, () => `the last messages (got ${got.length}/${sent}, server ${ups.length}/${said})`, 10_000);
    expect(got).toEqual(Array.from({ length: sent }, (_, i) => i));
    expect(ups).toEqual(Array.from({ length: said }, (_, i) => i));
    const replies = await Promise.all(answers);
    expect(replies).toEqual(answers.map((_, i) => (i + 1) * 3 * 2));
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(runs.size).toBe(answers.length);
    // Resumed after every cut: one session all along.
    expect(p.accepted).toBeGreaterThanOrEqual(DROPS + 1);
    expect(failed).toEqual([]);
    expect(connected.length).toBe(DROPS + 1);
    expect(connected.slice(1).every((x) => x.id === id && x.recovered === true)).toBe(true);
    expect(connected[0]).toEqual({ id, recovered: false });
    const stats = server.getStats();
    expect(stats.connections.total).toBe(1);
    expect(stats.recovery).toMatchObject({ failed: 0, absentSessions: 0 });
    expect(stats.recovery!.recovered).toBe(connected.length - 1);
  }, 30_000);

  it('a client that stays away past maxDisconnection gets a fresh session and is told so', async () => {
    const ended: [string, number][] = [];
    const { server, port, tcpPort } = await startServer({ recovery: { maxDisconnection: 100 } }, (s) => {
      s.onDisconnect((conn, code) => void ended.push([conn.id, code]));
    });
    const p = await proxy(scheme === 'ws' ? port : tcpPort);
    const c = client(`${scheme}://127.0.0.1:${p.port}${scheme === 'ws' ? '/' : ''}`, { reconnect: { baseDelay: 20, maxDelay: 40 } });
    const failed: { id: string; previousId: string }[] = [];
    c.onLifecycle('recovery_failed', (i) => void failed.push(i));
    await c.connect();
    const first = c.id!;
    p.refuse(true);
    p.cut();
    await until(() => ended.length === 1, 'the session to expire', 5000);
    expect(ended).toEqual([[first, 1006]]);
    p.refuse(false);
    await until(() => failed.length === 1, 'the fresh session', 5000);
    expect(c.id).not.toBe(first);
    expect(failed).toEqual([{ id: c.id, previousId: first }]);
    expect(server.getStats().recovery).toMatchObject({ failed: 1, expired: 1, recovered: 0 });
  });
});
