/** The reply cache of a session with recovery: which replies are kept when more are answered or asked again than it holds. */
import { describe, expect, it } from 'vitest';
import { REPLY_CACHE_BYTES, REPLY_CACHE_ENTRIES, SessionRecovery } from '../src/recovery-session';

const reply = (id: number, size = 8): Uint8Array => new Uint8Array(size).fill(id & 0xff);
/** Runs request `id` (when new) and answers it; returns whether it ran. */
function run(rec: SessionRecovery, id: number, size = 8): boolean {
  if (rec.seen(id) !== undefined) return false;
  rec.answered(id, reply(id, size));
  return true;
}

describe('SessionRecovery reply cache', () => {
  it('keeps the replies of the newest ids; a kept one is answered again, not run', () => {
    const rec = new SessionRecovery();
    for (let id = 1; id <= REPLY_CACHE_ENTRIES + 4; id++) expect(run(rec, id)).toBe(true);
    expect(rec.keptReplies().map(([id]) => id)).toEqual(Array.from({ length: REPLY_CACHE_ENTRIES }, (_, i) => i + 5));
    expect(rec.seen(REPLY_CACHE_ENTRIES + 4)).toEqual(reply(REPLY_CACHE_ENTRIES + 4));
    expect(rec.cachedBytes).toBe(REPLY_CACHE_ENTRIES * 8);
  });

  it('a request asked again whose reply went runs again once, and does not push out the newer replies asked again after it', () => {
    const rec = new SessionRecovery();
    // One more request answered than the cache holds, their replies all lost with the link: the client asks again for all, oldest first.
    for (let id = 1; id <= REPLY_CACHE_ENTRIES + 1; id++) run(rec, id);
    const ran = [];
    for (let id = 1; id <= REPLY_CACHE_ENTRIES + 1; id++) if (run(rec, id)) ran.push(id);
    expect(ran).toEqual([1]);
    // And the same again after another loss: still only the one that cannot be kept.
    const again = [];
    for (let id = 1; id <= REPLY_CACHE_ENTRIES + 1; id++) if (run(rec, id)) again.push(id);
    expect(again).toEqual([1]);
  });

  it('replies answered out of order: still the newest ids are kept', () => {
    const rec = new SessionRecovery();
    for (let id = 1; id <= REPLY_CACHE_ENTRIES + 14; id++) expect(rec.seen(id)).toBeUndefined();
    for (let id = REPLY_CACHE_ENTRIES + 14; id >= 1; id--) rec.answered(id, reply(id));
    expect(rec.keptReplies().map(([id]) => id).sort((a, b) => a - b)).toEqual(Array.from({ length: REPLY_CACHE_ENTRIES }, (_, i) => i + 15));
  });

  it('ids wrap after 2^32 − 1: the ids past the wrap are the newest', () => {
    const rec = new SessionRecovery();
    const ids = Array.from({ length: REPLY_CACHE_ENTRIES + 4 }, (_, i) => (0xffff_fff6 + i) >>> 0);
    for (const id of ids) run(rec, id);
    expect(rec.keptReplies().map(([id]) => id).sort((a, b) => ids.indexOf(a) - ids.indexOf(b))).toEqual(ids.slice(4));
  });

  it('bounded by bytes too (the oldest ids go), and a reply above the byte bound is not kept', () => {
    const rec = new SessionRecovery();
    const size = Math.floor(REPLY_CACHE_BYTES / 4);
    for (let id = 1; id <= 6; id++) run(rec, id, size);
    expect(rec.keptReplies().map(([id]) => id)).toEqual([3, 4, 5, 6]);
    expect(rec.cachedBytes).toBe(4 * size);
    run(rec, 7, REPLY_CACHE_BYTES + 1);
    expect(rec.keptReplies().map(([id]) => id)).toEqual([3, 4, 5, 6]);
    expect(rec.seen(7)).toBeUndefined();
  });

  it('a record\'s replies restored on another process keep the same bound and order', () => {
    const a = new SessionRecovery();
    for (let id = 1; id <= REPLY_CACHE_ENTRIES + 4; id++) run(a, id);
    const b = new SessionRecovery();
    b.restoreReplies([...a.keptReplies()].reverse());
    expect(b.keptReplies().map(([id]) => id).sort((x, y) => x - y)).toEqual(a.keptReplies().map(([id]) => id));
    const ran = [];
    for (let id = 4; id <= REPLY_CACHE_ENTRIES + 5; id++) if (run(b, id)) ran.push(id);
    expect(ran).toEqual([4, REPLY_CACHE_ENTRIES + 5]);
  });
});
