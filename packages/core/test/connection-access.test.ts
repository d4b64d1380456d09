import { describe, expect, it } from 'vitest';
import { Hub, MemoryAdapter } from '../src/index';
import { addRoom, firstVisit, grantAccess, markAbsent, markClosed, markOpen, removeRoom, stateOf } from '../src/connection-access';
import { openSessions } from './fixtures';

describe('connection-access', () => {
  it('is granted once: a second grant is refused', () => {
    expect(() => grantAccess({} as Parameters<typeof grantAccess>[0])).toThrow(/granted once/);
  });

  it('addRoom / removeRoom record what conn.rooms shows, and say whether anything changed', async () => {
    const hub = new Hub({ heartbeat: false, logger: false });
    const conn = openSessions(hub, 1)[0]!.conn;
    expect(addRoom(conn, 'a')).toBe(true);
    expect(addRoom(conn, 'a')).toBe(false);
    expect(addRoom(conn, 'b')).toBe(true);
    expect([...conn.rooms]).toEqual(['a', 'b']);
    expect(conn.info().rooms).toEqual(['a', 'b']);
    expect(removeRoom(conn, 'a')).toBe(true);
    expect(removeRoom(conn, 'a')).toBe(false);
    expect([...conn.rooms]).toEqual(['b']);
    await hub.dispose();
  });

  it('firstVisit: true once per stamp and connection', async () => {
    const hub = new Hub({ heartbeat: false, logger: false });
    const [a, b] = openSessions(hub, 2).map((s) => s.conn);
    expect(firstVisit(a!, 1)).toBe(true);
    expect(firstVisit(a!, 1)).toBe(false);
    expect(firstVisit(b!, 1)).toBe(true);
    expect(firstVisit(a!, 2)).toBe(true);
    expect(firstVisit(a!, 2)).toBe(false);
    await hub.dispose();
  });

  it('the state moves only through the hub’s ways in', async () => {
    const hub = new Hub({ heartbeat: false, logger: false });
    const conn = openSessions(hub, 1)[0]!.conn;
    expect(stateOf(conn)).toBe('open');
    markAbsent(conn);
    expect([stateOf(conn), conn.isOpen]).toEqual(['absent', false]);
    markOpen(conn);
    expect(conn.isOpen).toBe(true);
    markClosed(conn);
    expect(stateOf(conn)).toBe('closed');
    await hub.dispose();
  });

  it('MemoryAdapter keeps no state of its own on a connection: nothing but the room names shows', async () => {
    const adapter = new MemoryAdapter();
    const hub = new Hub({ heartbeat: false, logger: false, adapter });
    const conn = openSessions(hub, 1)[0]!.conn;
    const before = Object.keys(conn).sort();
    adapter.join(conn, ['x', 'y']);
    adapter.broadcast(new Uint8Array([0, 0, 0, 5, 1, 0, 0, 0, 0]), { rooms: ['x', 'y'], exceptRooms: [], exceptIds: [], volatile: false, local: false });
    expect(Object.keys(conn).sort()).toEqual(before);
    expect('roomSet' in conn || 'broadcastStamp' in conn).toBe(false);
    await hub.dispose();
  });
});
