/**
 * Broadcast with replies (`to(room).timeout(ms).request(event, data)`) and the compress flag
 * (`conn.compress(false).emit`, `emit(…, { compress })`, broadcast `.compress(false)`), issue 15
 * item 8, on the in-memory adapter.
 */
import { describe, expect, it } from 'vitest';
import { MemoryAdapter, StelarError } from '../src/index';
import type { BroadcastRequestDetails } from '../src/broadcast';
import { openSessions, useHubs } from './fixtures';
import { tick } from './memory-link';

type Down = { vote: (q: string) => number; ping: () => void; blob: (b: { bytes: Uint8Array }) => void };
type Up = { noop: () => void };

const setup = useHubs();

describe('server.to(room).timeout(ms).request(…): one reply per recipient', () => {
  it('collects every recipient\'s reply (binary values too); [] when nobody is addressed', async () => {
    const { hub, client } = setup<Up, Down>();
    const clients = [1, 2, 3].map((n) => {
      const c = client();
      c.on('vote', (q) => q.length * n);
      return c;
    });
    await Promise.all(clients.map((c) => c.connect()));
    for (const conn of hub.connections.values()) await conn.join('r');
    const replies = await hub.to('r').timeout(1000).request('vote', 'abc');
    expect(replies.sort()).toEqual([3, 6, 9]);
    expect(await hub.to('empty').request('vote', 'x')).toEqual([]);
    // Except, and the whole hub.
    const [first] = hub.connections.values();
    expect((await hub.except({ id: first!.id }).request('vote', 'a')).length).toBe(2);
    expect(hub.getStats().acks.pending).toBe(0);
  });

  it('a recipient that does not answer in time: rejects TIMEOUT after about ms, with the replies that came and who failed', async () => {
    const { hub, client } = setup<Up, Down>();
    const fast = client();
    fast.on('vote', () => 1);
    const slow = client();
    slow.on('vote', () => new Promise<number>(() => {}));
    await Promise.all([fast.connect(), slow.connect()]);
    const t0 = Date.now();
    const err = (await hub.timeout(150).request('vote', 'q').catch((e: unknown) => e)) as StelarError;
    const took = Date.now() - t0;
    expect(err).toBeInstanceOf(StelarError);
    expect(err.code).toBe('TIMEOUT');
    const details = err.details as BroadcastRequestDetails<number>;
    expect(details.replies).toEqual([1]);
    expect(details.failures).toEqual([{ id: slow.id, code: 'TIMEOUT', message: expect.stringContaining('150 ms') }]);
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(2000);
  });

  it('a handler error or a disconnect counts as that recipient\'s failure; the first failure\'s code', async () => {
    const { hub, client } = setup<Up, Down>();
    const ok = client();
    ok.on('vote', () => 7);
    const bad = client();
    bad.on('vote', () => {
      throw new StelarError('NOPE', 'no vote');
    });
    await Promise.all([ok.connect(), bad.connect()]);
    const err = (await hub.timeout(1000).request('vote', 'q').catch((e: unknown) => e)) as StelarError;
    expect(err.code).toBe('NOPE');
    expect((err.details as BroadcastRequestDetails).replies).toEqual([7]);
    const gone = client();
    gone.on('vote', () => new Promise<number>(() => {}));
    await gone.connect();
    const goneId = gone.id;
    const p = hub.timeout(5000).request('vote', 'q').catch((e: unknown) => e);
    await tick(20);
    gone.close();
    const err2 = (await p) as StelarError;
    expect(err2.code).not.toBe('TIMEOUT');
    expect((err2.details as BroadcastRequestDetails).failures.map((f) => f.id)).toContain(goneId);
  });

  it('without timeout(ms), the hub\'s requestTimeout applies', async () => {
    const { hub, client } = setup<Up, Down>({ requestTimeout: 120 });
    const slow = client();
    slow.on('vote', () => new Promise<number>(() => {}));
    await slow.connect();
    const t0 = Date.now();
    await expect(hub.to(slow.id!).request('vote', 'q')).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('timeout(ms) refuses non-positive values; a bad event name rejects', async () => {
    const { hub } = setup<Up, Down>();
    expect(() => hub.timeout(0)).toThrow(RangeError);
    expect(() => hub.timeout(-1)).toThrow(RangeError);
    openSessions(hub, 1);
    await expect(hub.timeout(50).request('' as 'vote', 'x')).rejects.toThrow();
  });

  it('an adapter that reaches other nodes but has no hook of its own: NO_SUPPORT (unless .local)', async () => {
    class Clustered extends MemoryAdapter {}
    const { hub } = setup<Up, Down>({ adapter: new Clustered() });
    const [s] = openSessions(hub, 1);
    await expect(hub.timeout(50).request('vote', 'q')).rejects.toMatchObject({ code: 'NO_SUPPORT' });
    // .local: only this process, which the base class can do (the request is sent; nobody answers here).
    await expect(hub.local.timeout(50).request('vote', 'q')).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(s!.frames().filter((f) => f.event === 'vote')).toHaveLength(1);
  });
});

describe('compress flag', () => {
  it('conn.compress(false).emit, emit(…, { compress }) and broadcast .compress(false) reach the link; omitted stays undefined', () => {
    const { hub } = setup<Up, Down>();
    const [a] = openSessions(hub, 1);
    const seen: (boolean | undefined)[] = [];
    const send = a!.link.send.bind(a!.link);
    a!.link.send = (frame, volatile, compress) => {
      seen.push(compress);
      return send(frame, volatile);
    };
    const conn = a!.conn;
    conn.emit('ping');
    conn.compress(false).emit('ping');
    conn.compress(true).emit('ping');
    conn.emit('blob', { bytes: new Uint8Array(1) }, { compress: false });
    conn.compress(false).emit('ping', undefined, { compress: true });
    hub.compress(false).emit('ping');
    hub.to(conn.id).compress(false).volatile.emit('ping');
    hub.emit('ping');
    expect(seen).toEqual([undefined, false, true, false, true, false, false, undefined]);
  });
});
