import { decodeFrame, ErrorCode } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import { ClientRooms, type RoomsHost } from '../../src/client/rooms';
import { StelarError } from '../../src/errors';

/** A host whose requests are answered by hand: `answer(i)` / `refuse(i, code)`. */
function host(live = true, resumable = false) {
  const sent: { type: number; room: string; resolve: () => void; reject: (e: unknown) => void }[] = [];
  const errors: [string, string | undefined][] = [];
  const h: RoomsHost & { live: boolean; resumable: boolean } = {
    live,
    resumable,
    request(room, encode) {
      const f = decodeFrame(encode(1));
      return new Promise<unknown>((resolve, reject) => void sent.push({ type: f.type, room, resolve: () => resolve(undefined), reject }));
    },
    error: (err, event) => void errors.push([err.code, event]),
  };
  return { h, sent, errors };
}
const flush = () => new Promise((r) => setTimeout(r, 0));

describe('client/rooms', () => {
  it('join sends one JOIN per room however often asked, and resolves every caller when accepted', async () => {
    const { h, sent } = host();
    const rooms = new ClientRooms(h);
    const a = rooms.join('x');
    const b = rooms.join('x');
    expect(sent.map((s) => s.room)).toEqual(['x']);
    sent[0]!.resolve();
    await Promise.all([a, b]);
    await rooms.join('x'); // already joined: nothing sent
    expect(sent).toHaveLength(1);
    expect([...rooms.names]).toEqual(['x']);
  });

  it('a refusal is final (the callers get it); a join lost to a dropped link waits for the next session', async () => {
    const { h, sent, errors } = host();
    const rooms = new ClientRooms(h);
    const refused = rooms.join('no');
    sent[0]!.reject(new StelarError(ErrorCode.ROOM_LIMIT, 'no'));
    await expect(refused).rejects.toMatchObject({ code: ErrorCode.ROOM_LIMIT });
    expect([...rooms.names]).toEqual([]);
    expect(errors).toEqual([]); // a caller was told

    const later = rooms.join('y');
    sent[1]!.reject(new StelarError(ErrorCode.DISCONNECTED, 'gone'));
    await flush();
    rooms.reset();
    rooms.rejoinAll();
    expect(sent.map((s) => s.room)).toEqual(['no', 'y', 'y']);
    sent[2]!.resolve();
    await later;
  });

  it('joins asked while offline go out on the next session; leave rejects waiting joins', async () => {
    const { h, sent } = host(false);
    const rooms = new ClientRooms(h);
    const a = rooms.join('a');
    const b = rooms.join('b');
    expect(sent).toHaveLength(0);
    await rooms.leave('b');
    await expect(b).rejects.toMatchObject({ code: ErrorCode.REJECTED });
    h.live = true;
    rooms.rejoinAll();
    expect(sent.map((s) => s.room)).toEqual(['a']);
    sent[0]!.resolve();
    await a;
  });

  it('after a resume, catchUp leaves what was left while away and joins only what is not joined', async () => {
    const { h, sent } = host();
    const rooms = new ClientRooms(h);
    const kept = rooms.join('kept');
    const gone = rooms.join('gone');
    sent[0]!.resolve();
    sent[1]!.resolve();
    await Promise.all([kept, gone]);
    h.live = false;
    h.resumable = true;
    await rooms.leave('gone'); // away: remembered, nothing sent
    const fresh = rooms.join('fresh');
    expect(sent).toHaveLength(2);
    h.live = true;
    rooms.catchUp();
    expect(sent.slice(2).map((s) => [s.room, s.type === sent[0]!.type ? 'join' : 'leave'])).toEqual([
      ['gone', 'leave'],
      ['fresh', 'join'],
    ]);
    sent[3]!.resolve();
    await fresh;
  });

  it('a join refused with nobody waiting is reported through error(); stop fails what waits', async () => {
    const { h, sent, errors } = host();
    const rooms = new ClientRooms(h);
    await Promise.all([rooms.join('r'), Promise.resolve(sent[0]!.resolve())]);
    rooms.reset();
    rooms.rejoinAll(); // nobody waits for this one
    sent[1]!.reject(new StelarError(ErrorCode.ROOM_LIMIT, 'not any more'));
    await flush();
    expect(errors).toEqual([[ErrorCode.ROOM_LIMIT, 'r']]);
    const waiting = rooms.join('w');
    rooms.stop(new StelarError(ErrorCode.DISCONNECTED, 'closed'));
    await expect(waiting).rejects.toMatchObject({ code: ErrorCode.DISCONNECTED });
    expect([...rooms.names]).toEqual([]);
  });
});
