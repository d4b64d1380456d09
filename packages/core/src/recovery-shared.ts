import { compareOffsets, ZERO_OFFSET, type Offset } from '@stelar/codec-tcp';
import { now } from './clock';
import { linkOf, markAbsent, setRecovery } from './connection-access';
import type { Link } from './link';
import type { Recovery } from './recovery';
import { addressedIn, type LogEntry, type SessionRecord, type SharedLog } from './recovery-log';
import { AbsentLink, SessionRecovery } from './recovery-session';
import type { ServerSession } from './session';

/** Most entries read from a shared store for one resume (those this process does not hold). */
const SHARED_READ_LIMIT = 10_000;

/**
 * Connection-state recovery with a log shared by several processes (a cluster's stream,
 * `RecoveryLog.shared`): a lost session's record goes to the shared store, a resume on any
 * process claims it there (asynchronously), the replay is planned by offsets, and a process
 * whose absent copy was claimed elsewhere lets it go without `onDisconnect`. The rest of
 * recovery (`Recovery`) is the same as for one process.
 */
export class SharedSessions<In extends object, Out extends object> {
  constructor(
    private readonly r: Recovery<In, Out>,
    readonly shared: SharedLog,
    /** A session record for a session that comes from another process. */
    private readonly makeSession: (link: Link, id: string) => ServerSession,
  ) {
    shared.onTaken = (id) => this.takenElsewhere(id);
    shared.onHandover = (token) => this.handOver(token);
  }

  /**
   * Another process's client presents the token of a session still open here (its link is
   * gone, but this process has not seen it yet): the session is parked now, so that its record
   * goes to the store for that process to claim. True when the session was here.
   */
  handOver(token: string): boolean {
    const s = this.r.tokens.get(token);
    if (s === undefined || s.rec === undefined || s.rec.claimed) return false;
    if (s.state === 'open') this.r.takeOver(s);
    return s.state === 'absent' && s.rec.stored;
  }

  /**
   * With a shared log (a cluster): a CONNECT presents `token`, and the session it names is taken
   * from the shared store — whichever process kept it — for this link while its middleware runs.
   * A session still open here is parked first (its record goes to the store, then is taken back
   * in order). Before it resolves, this process's log has caught up with the offsets the session
   * needs, and what it does not hold has been read from the store. `undefined`: a fresh session.
   */
  async claim(s2: ServerSession, token: string, offset: Offset): Promise<ServerSession | undefined> {
    const shared = this.shared;
    let s1 = this.r.tokens.get(token);
    if (s1 !== undefined) {
      const r = s1.rec;
      if (r === undefined || r.claimed || !s1.active) return undefined;
      if (s1.state === 'open') this.r.takeOver(s1);
      if (s1.state !== 'absent') return undefined;
      r.claimed = true;
    }
    let record = await shared.claim(token);
    if (record === undefined && s1 === undefined && s2.state === 'opening' && (await shared.handover(token))) {
      // It was still open on another process, which parked it for us.
      record = await shared.claim(token);
    }
    if (record === 'taken') record = undefined;
    if (s1 !== undefined) {
      s1.rec!.claimed = false;
      if (record === undefined) return undefined; // claimed elsewhere, or expired: its own expiry tells
      s1.rec!.stored = false;
      if (s1.state !== 'absent') return undefined;
    }
    if (record === undefined) return undefined;
    s1 ??= this.adopt(token, record, linkOf(s2.conn));
    shared.taken(s1.conn.id);
    const rec = s1.rec!;
    rec.claimed = true;
    let older: LogEntry[] | undefined;
    const need = rec.moved !== undefined && compareOffsets(rec.moved.dropped, offset) > 0 ? rec.moved.dropped : offset;
    if (s2.state === 'opening' && (await shared.reach(need)) && s2.state === 'opening' && shared.after(offset) === undefined) {
      older = await shared.read(offset, SHARED_READ_LIMIT);
    }

    rec.claimed = false;
    if (s2.state !== 'opening' || s1.state !== 'absent') {
      // This link went away meanwhile: the session waits again, for any process.
      if (s1.state === 'absent') this.store(s1);
      return undefined;
    }
    rec.claimed = true;
    rec.recovered = true;
    s2.resuming = s1;
    s2.resumeFrom = offset;
    s2.resumeOlder = older;
    (linkOf(s1.conn) as AbsentLink).adopt(linkOf(s2.conn));
    return s1;
  }

  /** A session claimed from the shared store that this process did not have: absent here from now on. */
  adopt(token: string, record: SessionRecord, via: Link): ServerSession {
    const placeholder = new AbsentLink(via, this.r, this.r.settings.maxMessages);
    const s = this.makeSession(placeholder, record.id);
    const rec = (s.rec = new SessionRecovery());
    rec.token = token;
    rec.rx = record.rx;
    rec.missed = record.missed;
    rec.lostCode = record.lostCode;
    rec.lostReason = record.lostReason;
    rec.restoreReplies(record.replies);
    rec.moved = { sent: record.sent, dropped: record.dropped, rooms: record.rooms };
    rec.recovered = true;
    if (record.data !== null && typeof record.data === 'object') s.conn.data = record.data as Record<string, unknown>;
    setRecovery(s.conn, rec);
    markAbsent(s.conn);
    this.r.setToken(token, s);
    if (this.r.log.sessions++ === 0) this.r.startTimer();
    this.r.owners.set(placeholder, s);
    rec.expiresAt = now() + this.r.settings.maxDisconnection;
    this.r.absent.add(s);
    return s;
  }

  /** The record of an absent session, for the shared store. */
  recordOf(s: ServerSession): SessionRecord {
    const shared = this.shared;
    const rec = s.rec!;
    const moved = rec.moved;
    const sent = moved ? moved.sent : shared.offsetOf(Math.max(rec.sent, rec.base));
    const dropped = moved ? moved.dropped : shared.offsetOf(rec.dropped);
    return {
      id: s.conn.id,
      rooms: moved ? moved.rooms : [...s.conn.rooms],
      data: s.conn.data,
      rx: rec.rx,
      sent: sent ?? ZERO_OFFSET,
      dropped: dropped ?? ZERO_OFFSET,
      // Without both offsets nothing may be skipped on resume.
      missed: rec.missed || sent === undefined || dropped === undefined,
      lostCode: rec.lostCode,
      lostReason: rec.lostReason,
      replies: rec.keptReplies(),
    };
  }

  /** Puts an absent session's record in the shared store; false (and nothing kept) when it is refused. */
  store(s: ServerSession): boolean {
    const rec = s.rec!;
    rec.stored = this.shared.keep(rec.token, this.recordOf(s), Math.max(1, rec.expiresAt - now()));
    return rec.stored;
  }

  /**
   * Writes an absent session's record again when it holds something new (a reply made while away,
   * its request queued when the link dropped), or another node would run that request again. Not
   * once claimed: the store does not write over a claim.
   */
  refresh(s: ServerSession | undefined): void {
    const rec = s?.rec;
    if (s && rec && rec.stored && !rec.claimed) this.shared.keep(rec.token, this.recordOf(s), Math.max(1, rec.expiresAt - now()));
  }

  /**
   * The replay of a resume with a shared log, by offsets: the entries after the client's
   * `from` that address the session, except those its process had and did not send it while
   * its link was up (they were not for it). `older`: what was read from the store before what
   * this process holds.
   */
  plan(s1: ServerSession, from: Offset, older: LogEntry[] | undefined): LogEntry[] | undefined {
    const shared = this.shared;
    const rec = s1.rec!;
    let held = shared.after(from);
    if (held === undefined) {
      if (older === undefined) return undefined;
      const rest = shared.after(older.length > 0 ? older[older.length - 1]!.offset : from);
      if (rest === undefined) return undefined;
      held = older.concat(rest);
    }
    let skip: [Offset, Offset] | undefined;
    if (!rec.missed) {
      if (rec.moved) skip = [rec.moved.sent, rec.moved.dropped];
      else {
        const a = shared.offsetOf(Math.max(rec.sent, rec.base));
        const b = shared.offsetOf(rec.dropped);
        if (a !== undefined && b !== undefined) skip = [a, b];
      }
    }
    const id = s1.conn.id;
    const rooms: ReadonlySet<string> = rec.moved ? new Set(rec.moved.rooms) : s1.conn.rooms;
    const { maxMessages, maxBytes } = this.r.settings;
    let bytes = (linkOf(s1.conn) as AbsentLink).held;
    const out: LogEntry[] = [];
    for (const e of held) {
      if (skip && compareOffsets(e.offset, skip[0]) > 0 && compareOffsets(e.offset, skip[1]) <= 0) continue;
      if (!addressedIn(id, rooms, e.target)) continue;
      bytes += e.stamped.length;
      if (out.length >= maxMessages || bytes > maxBytes) return undefined;
      out.push(e);
    }
    return out;
  }

  /** Another process claimed the session `id`: this process's absent copy, if any, goes (O(absent sessions)). */
  takenElsewhere(id: string): void {
    for (const s of this.r.absent) {
      if (s.conn.id !== id) continue;
      const rec = s.rec!;
      if (rec.claimed || !rec.stored) return;
      rec.stored = false;
      return this.letGo(s);
    }
  }

  /** Another process claimed this absent session: it ends here without `onDisconnect` (that process reports its end). */
  letGo(s: ServerSession): void {
    const rec = s.rec!;
    this.r.moved++;
    this.r.leaveAbsence(s, linkOf(s.conn) as AbsentLink);
    s.closeHandlers = undefined;
    this.r.end(s, rec.lostCode, rec.lostReason);
  }

  /**
   * An absent session whose wait is over, with a shared store: its record is deleted there, and
   * the store says whether it ends here (`onDisconnect`) or another process took it meanwhile.
   */
  expire(s: ServerSession): void {
    const rec = s.rec!;
    rec.claimed = true;
    rec.stored = false;
    void this.shared.release(rec.token).then((here) => {
      rec.claimed = false;
      if (s.state !== 'absent') return;
      if (!here) return this.letGo(s);
      this.r.expired++;
      this.r.end(s, rec.lostCode, rec.lostReason);
    });
  }
}
