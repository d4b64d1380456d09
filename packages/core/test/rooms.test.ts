import { encodeJoin, encodeLeave, FrameType, parseAckResponse, parseErrorBody } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import { Hub } from '../src/index';
import { openSessions, useHubs } from './fixtures';
import { until } from './memory-link';

const setup = useHubs();

describe('rooms', () => {
  it('limits rooms per connection and in the process with ROOM_LIMIT (nothing joined then); bad names are BAD_EVENT', async () => {
    const hub = new Hub({ heartbeat: false, maxRoomsPerConnection: 2, maxRooms: 3 });
    const [a, b] = openSessions(hub, 2).map((s) => s.conn);
    await a!.join(['r1', 'r2', 'r1']);
    expect(() => a!.join('r3')).toThrow(expect.objectContaining({ code: 'ROOM_LIMIT' }));
    await b!.join('r3');
    expect(() => b!.join('r4')).toThrow(expect.objectContaining({ code: 'ROOM_LIMIT', message: 'the server is at its limit of 3 rooms' }));
    expect([...b!.rooms]).toEqual(['r3']);
    await b!.join('r1'); // exists: no new room
    expect(() => b!.join('')).toThrow(expect.objectContaining({ code: 'BAD_EVENT' }));
    expect(hub.getStats().rooms).toBe(3);
    expect(hub.getStats().errors['ROOM_LIMIT']).toBe(2);
    await hub.dispose();
  });

  it('a client’s JOIN and LEAVE: answered with ACK_RES when they carry an id, else only a refusal with ERROR', async () => {
    const { hub, raw } = setup({ authorizeJoin: (_c, room) => room !== 'secret' });
    const r = raw();
    r.hello();
    r.send(encodeJoin('lobby', 1));
    r.send(encodeJoin('secret', 2));
    r.send(encodeJoin('secret'));
    r.send(encodeJoin('quiet')); // no id, allowed: no answer
    r.send(encodeLeave('lobby', 3));
    await until(() => r.frames.length === 5);
    const [, ok, refused, error, left] = r.frames;
    expect(parseAckResponse(ok!.payload)).toMatchObject({ id: 1, ok: true });
    expect(parseAckResponse(refused!.payload)).toMatchObject({ id: 2, ok: false });
    expect([error!.type, error!.event, parseErrorBody(error!.payload).code]).toEqual([FrameType.ERROR, 'secret', 'REJECTED']);
    expect(parseAckResponse(left!.payload)).toMatchObject({ id: 3, ok: true });
    expect([...hub.connections.values()][0]!.rooms).toEqual(new Set(['quiet']));
  });

  it('authorizeJoin: async verdicts; one that throws refuses the join and is reported', async () => {
    const errors: unknown[] = [];
    const { hub, client } = setup({
      authorizeJoin: async (_c, room) => {
        if (room === 'broken') throw new Error('db down');
        return !room.startsWith('admin');
      },
    });
    hub.onError((e) => errors.push((e as Error).message));
    const a = client();
    await a.connect();
    await a.join('public');
    await expect(a.join('admin:x')).rejects.toMatchObject({ code: 'REJECTED' });
    await expect(a.join('broken')).rejects.toMatchObject({ code: 'REJECTED' });
    expect(errors).toEqual(['db down']);
  });

  it('onJoin/onLeave see every join and leave, including leaving by disconnecting', async () => {
    const { hub, client } = setup();
    const log: string[] = [];
    hub.onJoin((_c, room) => void log.push(`+${room}`));
    hub.onLeave((_c, room) => void log.push(`-${room}`));
    hub.onConnection((conn) => void conn.join(['a', 'b']));
    const c = client();
    await c.connect();
    await c.join('c');
    await c.join('c');
    await c.leave('a');
    c.close();
    await until(() => log.length === 6);
    expect(log.slice(0, 4)).toEqual(['+a', '+b', '+c', '-a']);
    expect(log.slice(4).sort()).toEqual(['-b', '-c']);
    expect(hub.getStats().rooms).toBe(0);
  });

  it('server-side join/leave/disconnect of connections in a room', async () => {
    const { hub, client } = setup();
    const a = client();
    const b = client();
    await Promise.all([a.connect(), b.connect()]);
    await a.join('x');
    await hub.in('x').join('y');
    expect((await hub.in('y').fetchConnections()).map((i) => i.id)).toEqual([a.id]);
    await hub.in('y').leave('x');
    expect(await hub.in('x').count()).toBe(0);
    await hub.in('y').disconnect(4100, 'bye');
    await until(() => a.state === 'disconnected');
    expect(hub.connections.size).toBe(1);
  });
});
