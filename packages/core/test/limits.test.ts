/**
 * `hub.onLimit` (issue 15, the 3.x hooks onMaxRoomsReached, onMaxRoomsPerClientReached and
 * onRateLimitExceeded): one typed event per refusal, the refusal itself unchanged; nothing is
 * built when nobody listens. maxConnections and maxConnectionsPerIp are @stelar/server's (its tests).
 */
import { describe, expect, it } from 'vitest';
import type { Connection, LimitEvent } from '../src/index';
import { useHubs } from './fixtures';
import { until } from './memory-link';

const setup = useHubs();

describe('onLimit', () => {
  it('maxRoomsPerConnection and maxRooms: the event names the connection, the limit and the rooms asked for; the join still fails ROOM_LIMIT', async () => {
    const { hub, client, nextConnection } = setup({ maxRoomsPerConnection: 2, maxRooms: 3 });
    const events: LimitEvent<Connection>[] = [];
    hub.onLimit((e) => void events.push(e));
    const accepted = nextConnection();
    const a = client();
    await a.connect();
    const conn = await accepted;
    await a.join('r1');
    await a.join('r2');
    await expect(a.join('r3')).rejects.toMatchObject({ code: 'ROOM_LIMIT' });
    const b = client();
    await b.connect();
    await b.join('r3');
    await expect(b.join('r4')).rejects.toMatchObject({ code: 'ROOM_LIMIT' });
    expect(events.map((e) => ({ ...e, conn: 'conn' in e ? e.conn.id : undefined }))).toEqual([
      { reason: 'maxRoomsPerConnection', limit: 2, conn: conn.id, rooms: ['r3'] },
      { reason: 'maxRooms', limit: 3, conn: b.id, rooms: ['r4'] },
    ]);
    expect(() => conn.join(['x', 'y'])).toThrow(/at most 2 rooms/);
    expect(events.at(-1)).toMatchObject({ reason: 'maxRoomsPerConnection', rooms: ['x', 'y'] });
  });

  it('rateLimit: one event per message over the limit, with its action; drop keeps the connection, disconnect closes it 4005', async () => {
    const { hub, client } = setup({ rateLimit: { events: { chat: { rate: 0.001, burst: 2 } } } });
    const events: string[] = [];
    hub.onLimit((e) => {
      if (e.reason === 'rateLimit') events.push(`${e.event} ${e.action} ${e.conn.id === c.id}`);
    });
    hub.on('chat', () => undefined);
    const c = client();
    await c.connect();
    for (let i = 0; i < 5; i++) c.emit('chat', i);
    await until(() => events.length === 3);
    expect(events).toEqual(['chat drop true', 'chat drop true', 'chat drop true']);
    expect(hub.getStats().rateLimit.hits).toBe(3);

    const strict = setup({ rateLimit: { connection: { rate: 0.001, burst: 1 }, onExceeded: 'disconnect' } });
    const seen: LimitEvent[] = [];
    strict.hub.onLimit((e) => void seen.push(e));
    const d = strict.client();
    const closed = new Promise<number>((resolve) => d.onLifecycle('disconnected', ({ code }) => resolve(code)));
    await d.connect();
    d.emit('a');
    d.emit('b');
    expect(await closed).toBe(4005);
    expect(seen).toMatchObject([{ reason: 'rateLimit', event: 'b', action: 'disconnect' }]);
  });

  it('a listener that throws is reported like any listener; the refusal goes on', async () => {
    const { hub, client } = setup({ maxRoomsPerConnection: 1 });
    const errors: string[] = [];
    hub.onError((err) => void errors.push((err as Error).message));
    hub.onLimit(() => {
      throw new Error('limit listener broke');
    });
    const c = client();
    await c.connect();
    await c.join('a');
    await expect(c.join('b')).rejects.toMatchObject({ code: 'ROOM_LIMIT' });
    expect(errors).toEqual(['limit listener broke']);
  });
});

describe('getRooms', () => {
  it('the rooms of this process’s open connections with their member counts, as a new map each time', async () => {
    const { hub, client } = setup();
    expect(hub.getRooms()).toEqual(new Map());
    const a = client();
    const b = client();
    await a.connect();
    await b.connect();
    await a.join('lobby');
    await b.join('lobby');
    await b.join('vip');
    const rooms = hub.getRooms();
    expect(rooms).toEqual(new Map([['lobby', 2], ['vip', 1]]));
    rooms.clear();
    expect(hub.getRooms().size).toBe(2);
    b.close();
    await until(() => hub.getRooms().get('lobby') === 1);
    expect(hub.getRooms()).toEqual(new Map([['lobby', 1]]));
    expect(hub.getStats().rooms).toBe(1);
  });
});
