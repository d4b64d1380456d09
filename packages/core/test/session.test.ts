import { describe, expect, it } from 'vitest';
import { markOpen, sessionOf, stateOf } from '../src/connection-access';
import { StelarError } from '../src/errors';
import { ServerSession, type SessionHost } from '../src/session';
import { recordingLink } from './fixtures';

function makeSession() {
  const pending: number[] = [];
  const timeouts: number[] = [];
  const host: SessionHost = {
    nodeId: 'n1',
    requestTimeout: 50,
    joinRooms: () => undefined,
    leaveRoom: () => false,
    countSend: () => undefined,
    pendingDelta: (d) => void pending.push(d),
    requestTimedOut: () => void timeouts.push(1),
    broadcastFrom: () => {
      throw new Error('not here');
    },
  };
  const rec = recordingLink();
  const s = new ServerSession(rec.link, host, 'id-1', 123);
  return { s, rec, pending, timeouts };
}

describe('ServerSession', () => {
  it('is created with its connection; its state is the connection’s', () => {
    const { s } = makeSession();
    expect(s.conn.id).toBe('id-1');
    expect(sessionOf(s.conn)).toBe(s);
    expect([s.state, s.openedAt, s.lastSeen, s.inFlight, s.inbox, s.requests]).toEqual(['opening', 123, 123, 0, null, undefined]);
    markOpen(s.conn);
    expect([s.state, stateOf(s.conn), s.conn.isOpen]).toEqual(['open', 'open', true]);
  });

  it('its request table is made on first use, with the hub’s counters', async () => {
    const { s, rec, pending, timeouts } = makeSession();
    markOpen(s.conn);
    const p = s.conn.request('ask', 1);
    expect(s.tracker()).toBe(s.requests);
    expect(rec.frames()[0]!.event).toBe('ask');
    await expect(p).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(pending).toEqual([1, -1]);
    expect(timeouts).toEqual([1]);
  });

  it('closed(): state closed, what waits rejected with DISCONNECTED (code and reason), signal aborted, close handlers once', async () => {
    const { s } = makeSession();
    markOpen(s.conn);
    const p = s.conn.request('ask', 1, { timeout: 10_000 });
    const signal = s.conn.signal;
    const calls: [number, string][] = [];
    s.conn.onClose((code, reason) => void calls.push([code, reason]));
    s.inbox = [];
    s.closed(4100, 'bye');
    s.closed(4100, 'again');
    expect(s.state).toBe('closed');
    expect(s.inbox).toBeNull();
    await expect(p).rejects.toMatchObject({ code: 'DISCONNECTED', message: 'connection closed (4100: bye)' });
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(StelarError);
    expect(calls).toEqual([[4100, 'bye']]);
  });
});
