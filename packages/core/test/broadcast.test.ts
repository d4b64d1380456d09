import { decodeFrame, FrameType } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import type { Adapter, BroadcastTarget, Target } from '../src/adapter';
import { BroadcastOperator } from '../src/broadcast';

function fakeAdapter(withCount: boolean) {
  const calls: [string, ...unknown[]][] = [];
  const a = {
    broadcast: (frame: Uint8Array, t: BroadcastTarget) => void calls.push(['broadcast', decodeFrame(frame), t]),
    fetchConnections: async (t: Target) => {
      calls.push(['fetch', t]);
      return [{ id: '1' }, { id: '2' }];
    },
    addConnectionsToRooms: async (t: Target, rooms: readonly string[]) => void calls.push(['join', t, rooms]),
    removeConnectionsFromRooms: async (t: Target, rooms: readonly string[]) => void calls.push(['leave', t, rooms]),
    disconnectConnections: async (t: Target, code: number, reason: string) => void calls.push(['disconnect', t, code, reason]),
    ...(withCount && { countConnections: async () => 42 }),
  } as unknown as Adapter;
  return { a, calls };
}

describe('BroadcastOperator', () => {
  it('is immutable; to/in add rooms (deduplicated), except takes rooms and connections, flags stack', () => {
    const { a, calls } = fakeAdapter(false);
    const base = new BroadcastOperator(a);
    const op = base.to('r1').in(['r2', 'r1']).except(['vip', { id: 'c9' }]).except({ id: 'c8' }).volatile.local;
    op.emit('chat', { t: 1 });
    base.emit('all');
    const [, f1, t1] = calls[0]!;
    expect((f1 as ReturnType<typeof decodeFrame>).event).toBe('chat');
    expect(t1).toEqual({ rooms: ['r1', 'r2'], exceptRooms: ['vip'], exceptIds: ['c9', 'c8'], volatile: true, local: true });
    expect(calls[1]![2]).toEqual({ rooms: [], exceptRooms: [], exceptIds: [], volatile: false, local: false });
  });

  it('emit encodes once: JSON, or BINARY for bytes', () => {
    const { a, calls } = fakeAdapter(false);
    new BroadcastOperator(a).emit('blob', new Uint8Array([1, 2]));
    new BroadcastOperator(a).emit('json', [1]);
    const [b, j] = calls.map((c) => c[1] as ReturnType<typeof decodeFrame>);
    expect([b!.type, [...b!.payload]]).toEqual([FrameType.BINARY, [1, 2]]);
    expect([j!.type, new TextDecoder().decode(j!.payload)]).toEqual([FrameType.JSON, '[1]']);
  });

  it('queries and actions go to the adapter with the target; count falls back to fetchConnections', async () => {
    const plain = fakeAdapter(false);
    const op = new BroadcastOperator(plain.a).to('x');
    const t = { rooms: ['x'], exceptRooms: [], exceptIds: [] };
    expect(await op.count()).toBe(2);
    await op.join('y');
    await op.leave(['y', 'z']);
    await op.disconnect();
    expect(plain.calls).toEqual([
      ['fetch', t],
      ['join', t, ['y']],
      ['leave', t, ['y', 'z']],
      ['disconnect', t, 1000, ''],
    ]);
    expect(await new BroadcastOperator(fakeAdapter(true).a).count()).toBe(42);
  });
});
