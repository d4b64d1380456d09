import { describe, expect, it } from 'vitest';
import { Hub, MemoryAdapter } from '../src/index';
import { openSessions } from './fixtures';

function hubWith(n: number, options: ConstructorParameters<typeof Hub>[0] = {}) {
  const adapter = new MemoryAdapter();
  const hub = new Hub({ heartbeat: false, adapter, ...options });
  return { hub, adapter, s: openSessions(hub, n) };
}

const target = (rooms: string[] = [], exceptRooms: string[] = [], exceptIds: string[] = []) => ({ rooms, exceptRooms, exceptIds, volatile: false, local: false });
const frame = new Uint8Array([0, 0, 0, 5, 1, 0, 0, 0, 0]);

describe('MemoryAdapter', () => {
  it('keeps the room index and each connection’s rooms; empty rooms are freed and counted', async () => {
    const { hub, adapter, s } = hubWith(2);
    const [a, b] = [s[0]!.conn, s[1]!.conn];
    adapter.join(a, ['x', 'y']);
    adapter.join(b, ['x']);
    adapter.join(b, ['x']); // again: nothing
    expect([...adapter.members('x')!]).toEqual([a, b]);
    expect(adapter.roomCount).toBe(2);
    expect(hub.getStats().rooms).toBe(2);
    expect([...a.rooms]).toEqual(['x', 'y']);
    expect(adapter.leave(a, 'x')).toBe(true);
    expect(adapter.leave(a, 'x')).toBe(false);
    adapter.leaveAll(a);
    expect(a.rooms.size).toBe(0);
    expect(adapter.members('y')).toBeUndefined();
    expect(hub.getStats().rooms).toBe(1);
    await adapter.close();
    expect(adapter.roomCount).toBe(0);
    await hub.dispose();
  });

  it('broadcast: one room, several rooms (each member once), everyone, with except rooms and ids; closing connections are skipped', async () => {
    const { hub, adapter, s } = hubWith(4);
    const [a, b, c, d] = s.map((x) => x.conn);
    adapter.join(a!, ['r1', 'r2']);
    adapter.join(b!, ['r2']);
    adapter.join(c!, ['r1', 'vip']);
    const got = () => s.map((x) => x.sent.length);
    const base = got();
    const delta = () => got().map((n, i) => n - base[i]!);
    adapter.broadcast(frame, target(['r1']));
    expect(delta()).toEqual([1, 0, 1, 0]);
    adapter.broadcast(frame, target(['r1', 'r2']));
    expect(delta()).toEqual([2, 1, 2, 0]);
    adapter.broadcast(frame, target([], [], [d!.id]));
    expect(delta()).toEqual([3, 2, 3, 0]);
    adapter.broadcast(frame, target(['r1', 'r2'], ['vip']));
    expect(delta()).toEqual([4, 3, 3, 0]);
    adapter.broadcast(frame, { ...target(['r2']), volatile: true });
    expect(s[1]!.sent.at(-1)!.volatile).toBe(true);
    b!.disconnect(); // closing: not open any more
    adapter.broadcast(frame, target(['r2']));
    expect(delta()).toEqual([6, 4, 3, 0]);
    expect(s[0]!.sent.at(-1)!.frame).toBe(frame); // the same bytes for everyone
    await hub.dispose();
  });

  it('queries and actions on matching local connections', async () => {
    const { hub, adapter, s } = hubWith(3, { maxRoomsPerConnection: 1 });
    const [a, b, c] = s.map((x) => x.conn);
    a!.data['user'] = 'ann';
    await a!.join('x');
    await b!.join('x');
    await c!.join('full');
    expect((await adapter.fetchConnections(target(['x']))).map((i) => [i.id, i.rooms, i.data])).toEqual([
      [a!.id, ['x'], { user: 'ann' }],
      [b!.id, ['x'], {}],
    ]);
    expect(await adapter.countConnections(target([], ['x']))).toBe(1);
    await adapter.removeConnectionsFromRooms(target(['x'], [], [b!.id]), ['x']);
    expect([...a!.rooms]).toEqual([]);
    await adapter.addConnectionsToRooms(target(), ['y']); // b and c are at their limit of 1 room: skipped
    expect([a!.rooms.has('y'), b!.rooms.has('y'), c!.rooms.has('y')]).toEqual([true, false, false]);
    expect(hub.getStats().errors['ROOM_LIMIT']).toBe(2);
    await adapter.disconnectConnections(target(['y']), 4100, 'bye');
    expect(s[0]!.calls).toContain('close 4100 bye');
    expect(await adapter.serverSideEmit('e', 1)).toEqual([]);
    expect(adapter.nodeCount()).toBe(1);
    await hub.dispose();
  });
});
