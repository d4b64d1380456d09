/**
 * recovery-session.ts on its own: what a session with recovery keeps (token, rx, the reply cache
 * and its bounds), the placeholder link of an absent session (what it keeps and its bound), the
 * replay plan from a log of one process, and which lost links keep their session.
 */
import { DisconnectCode, encodeAckError, encodeAckRequest, encodeAckResult, encodeError, encodeJson, FrameType } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import { addRoom, attachLink, markAbsent, markOpen } from '../src/connection-access';
import { SendStatus } from '../src/link';
import { MemoryRecoveryLog, RECOVERY_DEFAULTS, type RecoverySettings } from '../src/recovery-log';
import { AbsentLink, countsForRx, keptOnLoss, planReplay, REPLY_CACHE_BYTES, REPLY_CACHE_ENTRIES, SessionRecovery, type AbsentHost } from '../src/recovery-session';
import { ServerSession } from '../src/session';
import { inertHost, recordingLink } from './fixtures';

const host = inertHost('n1');

/** An ACK_RES frame of about `n` bytes, in an array of its own (the encoder's may be carved from a shared slab). */
const reply = (id: number, n = 10) => encodeAckResult(id, 'e', 'x'.repeat(n)).slice();

/** A host that grants up to `budget` bytes and records what the placeholder link tells it. */
function absentHost(budget = Infinity) {
  const calls: string[] = [];
  let used = 0;
  const h: AbsentHost = {
    hold(bytes) {
      if (used + bytes > budget) return false;
      used += bytes;
      return true;
    },
    overflow: () => void calls.push('overflow'),
    close: (code, reason) => void calls.push(`close ${code} ${reason}`),
  };
  return { h, calls };
}

describe('SessionRecovery', () => {
  it('starts with no token and nothing counted; rx counts JSON, BINARY, ACK_REQ, JOIN, LEAVE only', () => {
    const rec = new SessionRecovery();
    expect([rec.token, rec.rx, rec.sent, rec.dropped, rec.claimed, rec.recovered, rec.missed, rec.stored, rec.moved]).toEqual(['', 0, 0, 0, false, false, false, false, undefined]);
    expect([rec.cachedBytes, rec.keptReplies()]).toEqual([0, []]);
    const counted = Object.entries(FrameType)
      .filter(([, t]) => countsForRx(t))
      .map(([name]) => name);
    expect(counted).toEqual(['JSON', 'BINARY', 'ACK_REQ', 'JOIN', 'LEAVE']);
    expect(countsForRx(0)).toBe(false);
  });

  it('seen: new (then running), running, then the kept reply; an answer to an id never seen is not kept', () => {
    const rec = new SessionRecovery();
    expect(rec.seen(1)).toBeUndefined();
    expect(rec.seen(1)).toBe('running');
    const f = reply(1);
    rec.answered(1, f);
    expect(rec.seen(1)).toBe(f);
    rec.answered(1, reply(1, 20)); // a second answer changes nothing
    expect(rec.seen(1)).toBe(f);
    rec.answered(2, reply(2));
    expect(rec.seen(2)).toBeUndefined(); // it was not kept: new
    expect(rec.keptReplies().map(([id]) => id)).toEqual([1]);
    expect(rec.cachedBytes).toBe(f.length);
  });

  it.each(['Uint8Array', 'Buffer'])('keeps a copy of a reply carved from a larger buffer (a %s), the frame itself otherwise', (kind) => {
    const rec = new SessionRecovery();
    const whole = reply(1);
    const slab = kind === 'Buffer' ? Buffer.alloc(whole.length + 100) : new Uint8Array(whole.length + 100);
    slab.set(whole, 50);
    const carved = slab.subarray(50, 50 + whole.length);
    rec.seen(1);
    rec.answered(1, carved);
    const kept = rec.seen(1) as Uint8Array;
    expect(kept).not.toBe(carved);
    expect(kept.buffer.byteLength).toBe(whole.length);
    expect([...kept]).toEqual([...whole]);
    slab.fill(0); // the slab is reused: the kept reply is not touched
    expect([...kept]).toEqual([...whole]);
    rec.seen(2);
    const own = reply(2);
    rec.answered(2, own);
    expect(rec.seen(2)).toBe(own);
  });

  it(`keeps at most ${REPLY_CACHE_ENTRIES} replies, the newest; a reply over ${REPLY_CACHE_BYTES} bytes is not kept but no longer runs`, () => {
    const rec = new SessionRecovery();
    for (let id = 1; id <= REPLY_CACHE_ENTRIES + 4; id++) {
      rec.seen(id);
      rec.answered(id, reply(id));
    }
    const ids = rec.keptReplies().map(([id]) => id);
    expect(ids).toEqual(Array.from({ length: REPLY_CACHE_ENTRIES }, (_, i) => i + 5));
    expect(rec.cachedBytes).toBe(rec.keptReplies().reduce((n, [, f]) => n + f.length, 0));
    expect(rec.seen(1)).toBeUndefined(); // evicted: a repeat runs again
    rec.seen(100);
    rec.answered(100, reply(100, REPLY_CACHE_BYTES));
    expect(rec.keptReplies().map(([id]) => id)).not.toContain(100);
    expect(rec.seen(100)).toBeUndefined();
  });

  it(`keeps at most ${REPLY_CACHE_BYTES} bytes of replies: the oldest go first`, () => {
    const rec = new SessionRecovery();
    const size = Math.floor(REPLY_CACHE_BYTES / 3);
    for (let id = 1; id <= 4; id++) {
      rec.seen(id);
      rec.answered(id, reply(id, size - 40));
    }
    expect(rec.keptReplies().map(([id]) => id)).toEqual([2, 3, 4]);
    expect(rec.cachedBytes).toBeLessThanOrEqual(REPLY_CACHE_BYTES);
  });

  it('restoreReplies takes a record’s replies with the same bounds; each is answered again, none runs', () => {
    const rec = new SessionRecovery();
    const list: [number, Uint8Array][] = Array.from({ length: REPLY_CACHE_ENTRIES + 2 }, (_, i) => [i + 1, reply(i + 1)]);
    list.push([99, reply(99, REPLY_CACHE_BYTES)]);
    rec.restoreReplies(list);
    expect(rec.keptReplies().map(([id]) => id)).toEqual(list.slice(2, REPLY_CACHE_ENTRIES + 2).map(([id]) => id));
    expect(rec.seen(3)).toBe(list[2]![1]);
    expect(rec.seen(99)).toBeUndefined(); // too big to keep; not left 'running' either
    const copy = new SessionRecovery();
    copy.restoreReplies(rec.keptReplies());
    expect(copy.keptReplies()).toEqual(rec.keptReplies());
  });
});

describe('AbsentLink', () => {
  const was = { transport: 'ws', remoteAddress: '192.0.2.7', remotePort: 1234, upgradeRequest: { url: '/ws', headers: { a: 'b' } } } as const;

  it('keeps the facts of the lost link, and takes those of the link a resume comes by', () => {
    const { h } = absentHost();
    const link = new AbsentLink(was, h, 10);
    expect([link.transport, link.remoteAddress, link.remotePort, link.upgradeRequest]).toEqual(['ws', '192.0.2.7', 1234, was.upgradeRequest]);
    link.adopt({ transport: 'tcp', remoteAddress: '198.51.100.1' });
    expect([link.transport, link.remoteAddress, 'remotePort' in link, 'upgradeRequest' in link]).toEqual(['tcp', '198.51.100.1', false, false]);
    link.adopt(was);
    expect(link.remotePort).toBe(1234);
  });

  it('keeps answers, errors and requests for the client (copies of its own), not JSON or BINARY', () => {
    const { h, calls } = absentHost();
    const link = new AbsentLink(was, h, 10);
    expect(link.send(encodeJson('e', 1))).toBe(SendStatus.CLOSED);
    const kept = [reply(1), encodeAckError(2, 'e', 'X', 'no'), encodeError('X', 'bad'), encodeAckRequest(3, 'ask', 1)];
    for (const f of kept) expect(link.send(f)).toBe(SendStatus.OK);
    expect(link.frames.map((f) => [...f])).toEqual(kept.map((f) => [...f]));
    const total = kept.reduce((n, f) => n + f.length, 0);
    expect([link.held, link.bufferedAmount]).toEqual([total, total]);
    expect(calls).toEqual([]);
  });

  it('past its frame bound or the host’s byte bound: overflow, CLOSED, nothing more kept', () => {
    const a = absentHost();
    const byCount = new AbsentLink(was, a.h, 2);
    expect([byCount.send(reply(1)), byCount.send(reply(2)), byCount.send(reply(3))]).toEqual([SendStatus.OK, SendStatus.OK, SendStatus.CLOSED]);
    expect([byCount.frames.length, a.calls]).toEqual([2, ['overflow']]);
    const f = reply(1);
    const b = absentHost(f.length);
    const byBytes = new AbsentLink(was, b.h, 100);
    expect([byBytes.send(f), byBytes.send(reply(2))]).toEqual([SendStatus.OK, SendStatus.CLOSED]);
    expect([byBytes.held, b.calls]).toEqual([f.length, ['overflow']]);
  });

  it('close and terminate tell the host (terminate as 1006); ping, pause, resume do nothing', () => {
    const { h, calls } = absentHost();
    const link = new AbsentLink(was, h, 10);
    link.ping();
    link.pause();
    link.resume();
    link.close(4000, 'bye');
    link.terminate();
    expect(calls).toEqual(['close 4000 bye', 'close 1006 ']);
  });
});

/** A session with recovery, open on a recording link, in `rooms`. */
function session(rooms: string[] = [], id = 'me') {
  const s = new ServerSession(recordingLink().link, host, id, 0);
  markOpen(s.conn);
  for (const r of rooms) addRoom(s.conn, r);
  s.rec = new SessionRecovery();
  s.rec.token = 'tok';
  return s;
}

/** Parks `s` as the hub does: an AbsentLink in place of its link, `dropped` = the log's last seq. */
function park(s: ServerSession, log: MemoryRecoveryLog, maxFrames = 100) {
  const placeholder = new AbsentLink({ transport: 'mem', remoteAddress: '192.0.2.1' }, absentHost().h, maxFrames);
  attachLink(s.conn, placeholder);
  markAbsent(s.conn);
  s.rec!.dropped = log.last;
  return placeholder;
}

const to = (rooms: string[]) => ({ rooms, exceptRooms: [], exceptIds: [], volatile: false, local: false });
const offset = (n: number) => ({ hi: 0, lo: n });

describe('planReplay (a log of one process)', () => {
  /**
   * Entries 1–2 to room r were sent to the session (sent = 2); 3 (room r) and 4 (room other)
   * were logged while its link was up but not sent to it (not for it); it was lost at 4; 5 (r),
   * 6 (other) and 7 (its id) came while it was away.
   */
  function scene(settings: RecoverySettings = RECOVERY_DEFAULTS) {
    const log = new MemoryRecoveryLog(settings);
    log.sessions = 1;
    const s = session(['r']);
    const add = (rooms: string[]) => log.append(encodeJson('e', 'x'.repeat(20)), to(rooms), 0)!;
    add(['r']);
    add(['r']);
    s.rec!.sent = 2;
    add(['r']);
    add(['other']);
    const placeholder = park(s, log);
    add(['r']);
    add(['other']);
    add(['me']);
    return { log, s, placeholder, settings };
  }
  const seqs = (p: { seq: number }[] | undefined) => p?.map((e) => e.seq);

  it('from what the client got: what it was sent and missed, then what addressed it while away', () => {
    const { log, s, settings } = scene();
    expect(seqs(planReplay(log, settings, s, offset(2)))).toEqual([5, 7]);
    expect(seqs(planReplay(log, settings, s, offset(1)))).toEqual([2, 5, 7]); // 3 and 4 were not for it
    expect(seqs(planReplay(log, settings, s, offset(0)))).toEqual([1, 2, 5, 7]);
    expect(seqs(planReplay(log, settings, s, offset(7)))).toEqual([]);
  });

  it('a frame it missed while live (missed): nothing between sent and the loss is skipped', () => {
    const { log, s, settings } = scene();
    s.rec!.missed = true;
    expect(seqs(planReplay(log, settings, s, offset(2)))).toEqual([3, 5, 7]);
  });

  it('undefined once the log dropped an entry it needs; entries it does not need may go', () => {
    const { log, s, settings } = scene();
    log.trim(0, log.bytes - 1); // drops entry 1
    expect(log.trimmed).toBe(1);
    expect(planReplay(log, settings, s, offset(0))).toBeUndefined();
    expect(seqs(planReplay(log, settings, s, offset(2)))).toEqual([5, 7]);
    log.trim(0, 0);
    expect(planReplay(log, settings, s, offset(2))).toBeUndefined();
  });

  it('undefined past maxMessages, or past maxBytes counting what its placeholder holds', () => {
    const one = scene({ ...RECOVERY_DEFAULTS, maxMessages: 1 });
    expect(planReplay(one.log, one.settings, one.s, offset(2))).toBeUndefined();
    expect(seqs(planReplay(one.log, one.settings, one.s, offset(5)))).toEqual([7]);
    const probe = scene();
    const [e5, e7] = planReplay(probe.log, probe.settings, probe.s, offset(2))!;
    const fits = scene({ ...RECOVERY_DEFAULTS, maxBytes: e5!.stamped.length + e7!.stamped.length });
    expect(seqs(planReplay(fits.log, fits.settings, fits.s, offset(2)))).toEqual([5, 7]);
    fits.placeholder.send(reply(1)); // held for the client: counts against the same bound
    expect(planReplay(fits.log, fits.settings, fits.s, offset(2))).toBeUndefined();
  });
});

describe('keptOnLoss', () => {
  it('only a session with a token, open or closing, lost by 1006 or a heartbeat timeout, without a failure, with recovery bounds above 0', () => {
    const s = session();
    const on = RECOVERY_DEFAULTS;
    expect(keptOnLoss(s, 1006, on)).toBe(true);
    expect(keptOnLoss(s, DisconnectCode.HEARTBEAT_TIMEOUT, on)).toBe(true);
    expect(keptOnLoss(s, 1000, on)).toBe(false);
    expect(keptOnLoss(s, 4000, on)).toBe(false);
    expect(keptOnLoss(s, 1006, { ...on, maxDisconnection: 0 })).toBe(false);
    expect(keptOnLoss(s, 1006, { ...on, maxSessions: 0 })).toBe(false);
    s.failure = { code: 4001, reason: 'bad frame' };
    expect(keptOnLoss(s, 1006, on)).toBe(false);
    s.failure = undefined;
    s.rec!.token = '';
    expect(keptOnLoss(s, 1006, on)).toBe(false);
    s.rec = undefined;
    expect(keptOnLoss(s, 1006, on)).toBe(false);
    const away = session();
    park(away, new MemoryRecoveryLog(on));
    expect(keptOnLoss(away, 1006, on)).toBe(false); // already absent
    const opening = new ServerSession(recordingLink().link, host, 'x', 0);
    opening.rec = new SessionRecovery();
    opening.rec.token = 'tok';
    expect(keptOnLoss(opening, 1006, on)).toBe(false);
  });
});
