/**
 * recovery-shared.ts on its own: sessions that move between processes through a shared store,
 * with two in-memory "processes" (each a Recovery over a fake shared log) and one fake store:
 * claim, handover of a session still open elsewhere, letting a copy go without a second
 * `onDisconnect`, a record over the store's bound refused, and the replay planned by offsets.
 * (The real shared log is tested with Redis in packages/adapter-redis/test/recovery.test.ts.)
 */
import { compareOffsets, encodeAckResult, encodeJson, ZERO_OFFSET, type Offset } from '@stelar/codec-tcp';
import { afterEach, describe, expect, it } from 'vitest';
import { addRoom, linkOf, markOpen } from '../src/connection-access';
import type { HubContext } from '../src/hub-context';
import { LogEntry, RECOVERY_DEFAULTS, type RecoveryLog, type RecoverySettings, type SessionRecord, type SharedLog } from '../src/recovery-log';
import { Recovery } from '../src/recovery';
import type { SharedSessions } from '../src/recovery-shared';
import { AbsentLink } from '../src/recovery-session';
import { ServerSession } from '../src/session';
import { inertHost, recordingLink } from './fixtures';

const host = inertHost('n');

const at = (n: number): Offset => ({ hi: 0, lo: n });
type Target = { rooms: string[]; exceptRooms: string[]; exceptIds: string[]; volatile: boolean; local: boolean };
const to = (...rooms: string[]): Target => ({ rooms, exceptRooms: [], exceptIds: [], volatile: false, local: false });

/** The store every process shares: session records by token (with a bound on their size), who claimed which, the stream. */
class FakeStore {
  readonly records = new Map<string, SessionRecord>();
  readonly claimedBy = new Map<string, FakeLog>();
  readonly logs: FakeLog[] = [];
  /** The stream: every entry, by offset (100, 110, 120…: not the processes' seqs). */
  readonly stream: { offset: Offset; target: Target }[] = [];
  /** Stream entries at or below this offset are gone from the store. */
  floor: Offset = ZERO_OFFSET;
  constructor(readonly maxRecordBytes = 4096) {}

  /** A broadcast: the next offset, delivered to every process's log. */
  broadcast(target: Target): Offset {
    const offset = at(100 + 10 * this.stream.length);
    this.stream.push({ offset, target });
    for (const l of this.logs) l.deliver(offset, target);
    return offset;
  }
}

const entry = (seq: number, offset: Offset, target: Target) => new LogEntry(seq, offset, encodeJson('e', offset.lo).slice(), target, 0);

/** One process's side of the shared log: the entries it holds (local seqs 1, 2, 3…) and the store. */
class FakeLog implements RecoveryLog, SharedLog {
  sessions = 0;
  readonly shared = this;
  items: LogEntry[] = [];
  dropped = 0;
  floor: Offset = ZERO_OFFSET;
  onHandover: ((token: string) => boolean) | undefined = undefined;
  onTaken: ((id: string) => void) | undefined = undefined;
  readonly kept: { token: string; ttl: number }[] = [];
  reachable = true;
  constructor(readonly store: FakeStore) {
    store.logs.push(this);
  }

  deliver(offset: Offset, target: Target): void {
    this.items.push(entry(this.last + 1, offset, target));
  }
  /** Drops the held entries up to seq `seq` (the store keeps them). */
  drop(seq: number): void {
    while (this.items.length > 0 && this.items[0]!.seq <= seq) {
      const e = this.items.shift()!;
      this.dropped = e.seq;
      this.floor = e.offset;
    }
  }

  // RecoveryLog
  append(): LogEntry | undefined {
    throw new Error('a shared log is appended through the adapter');
  }
  get last(): number {
    return this.dropped + this.items.length;
  }
  get trimmed(): number {
    return this.dropped;
  }
  seqOf(offset: Offset): number {
    let seq = this.dropped;
    for (const e of this.items) if (compareOffsets(e.offset, offset) <= 0) seq = e.seq;
    return seq;
  }
  entriesAfter(from: number): Iterable<LogEntry> {
    return this.items.filter((e) => e.seq > from);
  }
  trim(): void {}
  get entries(): number {
    return this.items.length;
  }
  get bytes(): number {
    return 0;
  }
  clear(): void {}

  // SharedLog
  keep(token: string, record: SessionRecord, ttl: number): boolean {
    const size = JSON.stringify({ ...record, replies: [] }).length + record.replies.reduce((n, [, f]) => n + f.length, 0);
    if (size > this.store.maxRecordBytes) return false;
    this.store.records.set(token, structuredClone(record));
    this.kept.push({ token, ttl });
    return true;
  }
  async claim(token: string): Promise<SessionRecord | 'taken' | undefined> {
    await Promise.resolve();
    const record = this.store.records.get(token);
    if (record !== undefined) {
      this.store.records.delete(token);
      this.store.claimedBy.set(token, this);
      return record;
    }
    const by = this.store.claimedBy.get(token);
    return by !== undefined && by !== this ? 'taken' : undefined;
  }
  async handover(token: string): Promise<boolean> {
    await Promise.resolve();
    for (const l of this.store.logs) if (l !== this && l.onHandover?.(token)) return true;
    return false;
  }
  opened(): void {}
  closed(): void {}
  async release(token: string): Promise<boolean> {
    await Promise.resolve();
    if (this.store.records.delete(token)) return true;
    const by = this.store.claimedBy.get(token);
    return by === undefined || by === this;
  }
  reach(): Promise<boolean> {
    return Promise.resolve(this.reachable);
  }
  after(from: Offset): LogEntry[] | undefined {
    if (compareOffsets(from, this.floor) < 0) return undefined;
    return this.items.filter((e) => compareOffsets(e.offset, from) > 0);
  }
  async read(from: Offset, limit: number): Promise<LogEntry[] | undefined> {
    await Promise.resolve();
    if (compareOffsets(from, this.store.floor) < 0) return undefined;
    const first = this.items[0]?.offset;
    const older = this.store.stream.filter((e) => compareOffsets(e.offset, from) > 0 && (first === undefined || compareOffsets(e.offset, first) < 0));
    return older.slice(0, limit).map((e) => entry(0, e.offset, e.target));
  }
  offsetOf(seq: number): Offset | undefined {
    if (seq === this.dropped) return this.floor;
    return this.items.find((e) => e.seq === seq)?.offset;
  }
  get lastOffset(): Offset {
    return this.items.at(-1)?.offset ?? this.floor;
  }
  taken(id: string): void {
    for (const l of this.store.logs) if (l !== this) l.onTaken?.(id);
  }
}

const recoveries: Recovery<object, object>[] = [];
afterEach(() => {
  for (const r of recoveries.splice(0)) r.dispose();
});

/** One process: its Recovery over a FakeLog, and every end of a session it reports (`onDisconnect` when `reported`). */
function proc(store: FakeStore, settings: RecoverySettings = RECOVERY_DEFAULTS) {
  const log = new FakeLog(store);
  const ends: { id: string; code: number; reason: string; reported: boolean }[] = [];
  const hub = { open: new Map(), opening: new Set(), draining: false, metrics: { open: 0, opening: 0, transportDelta: () => undefined } };
  const r: Recovery<object, object> = new Recovery(
    hub as unknown as HubContext<object, object>,
    settings,
    () => log,
    (s, code, reason) => {
      // As Liveness.finish: onDisconnect only for a session that was open or absent here.
      const reported = r.isAbsent(s) || hub.open.delete(s.conn.id);
      ends.push({ id: s.conn.id, code, reason, reported });
      r.ended(s);
      s.closed(code, reason);
    },
    (link, id) => new ServerSession(link, host, id, 0),
  );
  recoveries.push(r);
  const sharing = (r as unknown as { sharing: SharedSessions<object, object> }).sharing;
  /** A session accepted with recovery, open on a recording link. */
  const open = (id: string, rooms: string[] = []) => {
    const rec = recordingLink();
    const s = new ServerSession(rec.link, host, id, 0);
    r.optIn(s, false);
    const token = r.accepted(s).token;
    markOpen(s.conn);
    hub.open.set(id, s.conn);
    for (const room of rooms) addRoom(s.conn, room);
    return { s, token, calls: rec.calls };
  };
  /** A new link's session, still opening (its CONNECT presents a token). */
  const opening = () => new ServerSession(recordingLink().link, host, 'new', 0);
  return { r, log, sharing, ends, open, opening };
}

describe('SharedSessions', () => {
  it('a session lost on A goes to the store; B claims it (rooms, data, rx, replies, offsets); A lets its copy go without onDisconnect', async () => {
    const store = new FakeStore();
    const a = proc(store);
    const b = proc(store);
    const { s, token } = a.open('s1', ['r']);
    s.conn.data = { user: 'u' };
    s.rec!.rx = 3;
    s.rec!.seen(7);
    s.rec!.answered(7, encodeJson('answer', 1).slice());
    const closes: number[] = [];
    s.conn.onClose((code) => void closes.push(code));
    store.broadcast(to('r'));
    s.rec!.sent = a.log.last;
    store.broadcast(to('other'));
    a.r.park(s, 1006, 'lost');
    expect([s.state, s.rec!.stored, a.log.kept.map((k) => k.token)]).toEqual(['absent', true, [token]]);
    expect(a.log.kept[0]!.ttl).toBeGreaterThan(RECOVERY_DEFAULTS.maxDisconnection - 1000);
    expect(store.records.get(token)).toMatchObject({ id: 's1', rooms: ['r'], data: { user: 'u' }, rx: 3, sent: at(100), dropped: at(110), missed: false, lostCode: 1006, lostReason: 'lost' });

    const s2 = b.opening();
    const s1 = (await b.sharing.claim(s2, token, at(100)))!;
    expect(s1).toBeDefined();
    expect([s1.conn.id, s1.state, s1.conn.data, s1.rec!.rx, s1.rec!.recovered, s1.rec!.claimed]).toEqual(['s1', 'absent', { user: 'u' }, 3, true, true]);
    expect(s1.rec!.moved).toEqual({ sent: at(100), dropped: at(110), rooms: ['r'] });
    expect(s1.rec!.keptReplies().map(([id]) => id)).toEqual([7]);
    expect([s2.resuming, s2.resumeFrom, s2.resumeOlder]).toEqual([s1, at(100), undefined]);
    expect([b.r.tokens.get(token), b.r.isAbsent(s1), b.log.sessions]).toEqual([s1, true, 1]);
    expect(store.records.has(token)).toBe(false);

    // A heard that B took it: its copy ends, with no onDisconnect and no close handler.
    expect([s.state, a.ends, closes, a.r.stats().movedAway, a.r.tokens.has(token)]).toEqual(['closed', [{ id: 's1', code: 1006, reason: 'lost', reported: false }], [], 1, false]);
    expect(b.ends).toEqual([]);
  });

  it('a token no process knows: a fresh session (handover asked, nothing claimed)', async () => {
    const store = new FakeStore();
    const b = proc(store);
    proc(store);
    expect(await b.sharing.claim(b.opening(), 'nobody', ZERO_OFFSET)).toBeUndefined();
    expect(b.r.absent.size).toBe(0);
  });

  it('handover: a session still open on A is parked there (old link cut) and claimed by B', async () => {
    const store = new FakeStore();
    const a = proc(store);
    const b = proc(store);
    const { s, token, calls } = a.open('s1', ['r']);
    const s1 = await b.sharing.claim(b.opening(), token, ZERO_OFFSET);
    expect(s1?.conn.id).toBe('s1');
    expect(calls).toContain('terminate');
    expect(s.state).toBe('closed');
    expect(a.ends).toEqual([{ id: 's1', code: 1006, reason: 'resumed on a new link', reported: false }]);
    // handOver refuses what it does not have, or what is being resumed here.
    expect(a.sharing.handOver('nobody')).toBe(false);
    const other = a.open('s2');
    other.s.rec!.claimed = true;
    expect(a.sharing.handOver(other.token)).toBe(false);
    expect(other.s.state).toBe('open');
  });

  it('a record over the store’s bound is refused: the session ends at once (onDisconnect), nothing stored', () => {
    const store = new FakeStore(256);
    const a = proc(store);
    const { s, token } = a.open('s1');
    s.conn.data = { big: 'x'.repeat(300) };
    a.r.park(s, 1006, 'lost');
    expect([s.state, s.rec!.stored, store.records.has(token), a.r.stats().expired]).toEqual(['closed', false, false, 1]);
    expect(a.ends).toEqual([{ id: 's1', code: 1006, reason: 'lost', reported: true }]);
  });

  it('a session claimed here: the other process’s taken notice does not let it go; nor does one for a session not stored', async () => {
    const store = new FakeStore();
    const a = proc(store);
    const { s, token } = a.open('s1');
    a.r.park(s, 1006, 'lost');
    s.rec!.claimed = true;
    a.sharing.takenElsewhere('s1');
    expect(s.state).toBe('absent');
    s.rec!.claimed = false;
    s.rec!.stored = false;
    a.sharing.takenElsewhere('s1');
    expect([s.state, a.ends]).toEqual(['absent', []]);
    s.rec!.stored = true;
    a.sharing.takenElsewhere('s1');
    expect([s.state, a.ends.length, store.records.has(token)]).toEqual(['closed', 1, true]);
  });

  it('expire: the record is released; the session ends here (onDisconnect), or is let go when another process took it', async () => {
    const store = new FakeStore();
    const a = proc(store);
    const b = proc(store);
    const one = a.open('s1');
    a.r.park(one.s, 1006, 'lost');
    a.sharing.expire(one.s);
    expect(one.s.rec!.claimed).toBe(true); // not expired twice while the store answers
    await Promise.resolve();
    await Promise.resolve();
    expect([one.s.state, store.records.has(one.token), a.r.stats().expired]).toEqual(['closed', false, 1]);
    expect(a.ends.at(-1)).toMatchObject({ id: 's1', reported: true });

    const two = a.open('s2');
    a.r.park(two.s, 1006, 'lost');
    a.log.onTaken = undefined; // A does not hear B's notice before its wait is over
    expect(await b.log.claim(two.token)).toMatchObject({ id: 's2' });
    a.sharing.expire(two.s);
    await Promise.resolve();
    await Promise.resolve();
    expect([two.s.state, a.r.stats().expired, a.r.stats().movedAway]).toEqual(['closed', 1, 1]);
    expect(a.ends.at(-1)).toMatchObject({ id: 's2', reported: false });
  });

  describe('plan: the replay by offsets', () => {
    /**
     * On A, session s1 in room r: 100 (r) sent to it; 110 (r) and 120 (other) delivered while
     * its link was up but not sent to it; lost at 120; then 130 (r), 140 (other), 150 (its id).
     */
    function scene(settings: RecoverySettings = RECOVERY_DEFAULTS) {
      const store = new FakeStore();
      const a = proc(store, settings);
      const b = proc(store, settings);
      const { s, token } = a.open('s1', ['r']);
      store.broadcast(to('r'));
      s.rec!.sent = a.log.last;
      store.broadcast(to('r'));
      store.broadcast(to('other'));
      a.r.park(s, 1006, 'lost');
      store.broadcast(to('r'));
      store.broadcast(to('other'));
      store.broadcast(to('s1'));
      return { store, a, b, s, token };
    }
    const offsets = (p: LogEntry[] | undefined) => p?.map((e) => e.offset.lo);

    it('a session parked by this process: by its seqs mapped to offsets (what was not for it is skipped)', () => {
      const { a, s } = scene();
      expect(offsets(a.sharing.plan(s, at(100), undefined))).toEqual([130, 150]);
      expect(offsets(a.sharing.plan(s, ZERO_OFFSET, undefined))).toEqual([100, 130, 150]);
      s.rec!.missed = true;
      expect(offsets(a.sharing.plan(s, at(100), undefined))).toEqual([110, 130, 150]);
    });

    it('a session from another process: by the offsets of its record, in the rooms of its record', async () => {
      const { b, token } = scene();
      const s2 = b.opening();
      const s1 = (await b.sharing.claim(s2, token, at(100)))!;
      expect(offsets(b.sharing.plan(s1, at(100), s2.resumeOlder))).toEqual([130, 150]);
      expect(s1.conn.rooms.size).toBe(0); // joined on resume, not before
    });

    it('what this process no longer holds is read from the store before the plan; gone from the store: undefined', async () => {
      const { store, b, token } = scene();
      b.log.drop(3); // B holds 130 onward only
      expect(b.log.after(at(100))).toBeUndefined();
      const s2 = b.opening();
      const s1 = (await b.sharing.claim(s2, token, ZERO_OFFSET))!;
      expect(s2.resumeOlder?.map((e) => e.offset.lo)).toEqual([100, 110, 120]);
      expect(offsets(b.sharing.plan(s1, ZERO_OFFSET, s2.resumeOlder))).toEqual([100, 130, 150]);
      expect(b.sharing.plan(s1, ZERO_OFFSET, undefined)).toBeUndefined();
      expect(store.stream.length).toBe(6);

      const gone = scene();
      gone.b.log.drop(3);
      gone.store.floor = at(100); // the store dropped 100 too
      const s3 = gone.b.opening();
      const s4 = (await gone.b.sharing.claim(s3, gone.token, ZERO_OFFSET))!;
      expect(s3.resumeOlder).toBeUndefined();
      expect(gone.b.sharing.plan(s4, ZERO_OFFSET, s3.resumeOlder)).toBeUndefined();
      expect(offsets(gone.b.sharing.plan(s4, at(120), s3.resumeOlder))).toEqual([130, 150]); // from 120 it holds all
    });

    it('undefined past maxMessages, or past maxBytes counting what the session holds', () => {
      const few = scene({ ...RECOVERY_DEFAULTS, maxMessages: 1 });
      expect(few.a.sharing.plan(few.s, at(100), undefined)).toBeUndefined();
      expect(offsets(few.a.sharing.plan(few.s, at(140), undefined))).toEqual([150]);
      const probe = scene();
      const bytes = probe.a.sharing.plan(probe.s, at(100), undefined)!.reduce((n, e) => n + e.stamped.length, 0);
      const fits = scene({ ...RECOVERY_DEFAULTS, maxBytes: bytes + 1 });
      expect(offsets(fits.a.sharing.plan(fits.s, at(100), undefined))).toEqual([130, 150]);
      const placeholder = linkOf(fits.s.conn) as AbsentLink;
      placeholder.send(encodeAckResult(1, 'e', 1).slice()); // a reply held for the client
      expect(placeholder.held).toBeGreaterThan(1);
      expect(fits.a.sharing.plan(fits.s, at(100), undefined)).toBeUndefined();
    });
  });
});
