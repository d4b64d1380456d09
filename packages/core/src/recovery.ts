import { compareOffsets, DisconnectCode, encodeServerConnect, parseAckRequest, PROTOCOL_VERSION, ZERO_OFFSET, type Frame, type Offset, type RecoveryAnswer } from '@stelar/codec-tcp';
import { now, unrefTimer } from './clock';
import { attachLink, linkOf, markAbsent, markClosed, markOpen, setRecovery, stateOf, type AnyConnection } from './connection';
import type { HubContext } from './hub-context';
import { randomToken } from './ids';
import { SendStatus, type Link } from './link';
import { addressed, addressedIn, OutFrame, type LogEntry, type RecoveryLog, type RecoverySettings, type RecoveryStats, type SessionRecord, type SharedLog } from './recovery-log';
import { AbsentLink, SessionRecovery, type AbsentHost } from './recovery-session';
import type { ServerSession } from './session';

const NO_NAMES: readonly string[] = [];
/** Most entries read from a shared store for one resume (those this process does not hold). */
const SHARED_READ_LIMIT = 10_000;

/**
 * Connection-state recovery, the hub's side (docs/protocol.md §8): sessions that opted in get a
 * secret token; when such a session's link is lost (1006, or a heartbeat timeout) its record is
 * kept as `absent` — same id, rooms, `data`, handlers still running, answers kept for it — until
 * its client presents the token again (resume: the missed broadcasts are replayed from the
 * adapter's log, then live traffic follows, in one synchronous step) or `maxDisconnection`
 * passes (then it ends: `onDisconnect`). Bounded per session and per process.
 */
export class Recovery<In extends object, Out extends object> implements AbsentHost {
  readonly log: RecoveryLog;
  /** Accepted sessions that opted in (open, absent, or being resumed), by token. */
  private readonly tokens = new Map<string, ServerSession>();
  /** Absent sessions, longest-absent first. */
  private readonly absent = new Set<ServerSession>();
  private readonly owners = new Map<AbsentLink, ServerSession>();
  /** Bytes absent sessions hold (their placeholder links' frames). */
  private held = 0;
  private timer: ReturnType<typeof setInterval> | undefined = undefined;
  private recovered = 0;
  private failed = 0;
  private expired = 0;

  constructor(
    private readonly hub: HubContext<In, Out>,
    readonly settings: RecoverySettings,
    makeLog: (budget: () => number) => RecoveryLog,
    /** Ends a session for good (`Liveness.finish`). */
    private readonly end: (s: ServerSession, code: number, reason: string) => void,
    /** A session record for a session that comes from another process (shared log only). */
    private readonly makeSession?: (link: Link, id: string) => ServerSession,
  ) {
    this.log = makeLog(() => this.settings.maxLogBytes - this.held);
    this.shared = this.log.shared;
    if (this.shared) {
      this.shared.onTaken = (id) => this.takenElsewhere(id);
      this.shared.onHandover = (token) => this.handOver(token);
    }
  }

  private setToken(token: string, s: ServerSession): void {
    this.tokens.set(token, s);
    this.shared?.opened(token);
  }

  private dropToken(token: string): void {
    this.tokens.delete(token);
    this.shared?.closed(token);
  }

  /**
   * Another process's client presents the token of a session still open here (its link is
   * gone, but this process has not seen it yet): the session is parked now, so that its record
   * goes to the store for that process to claim. True when the session was here.
   */
  private handOver(token: string): boolean {
    const s = this.tokens.get(token);
    if (s === undefined || s.rec === undefined || s.rec.claimed) return false;
    if (s.state === 'open') this.takeOver(s);
    return s.state === 'absent' && s.rec.stored;
  }

  /** The log's side of moving sessions between processes, when the log is shared (a cluster). */
  readonly shared: SharedLog | undefined;
  /** Sessions this process let go because another one claimed them (no `onDisconnect` here). */
  private moved = 0;

  stats(): RecoveryStats {
    const log = this.log;
    return {
      absentSessions: this.absent.size,
      logEntries: log.entries,
      logBytes: log.bytes,
      heldBytes: this.held,
      recovered: this.recovered,
      failed: this.failed,
      expired: this.expired,
      ...(this.shared ? { movedAway: this.moved } : {}),
    };
  }

  // ── opening ─────────────────────────────────────────────────────────────────

  /** A client opted in (its CONNECT carried `recover`): its frames are counted from now on. */
  optIn(s: ServerSession, triedToken: boolean): void {
    s.rec = new SessionRecovery();
    if (triedToken) this.failed++;
  }

  /** The session was accepted: its token, and the `recovery` field of its CONNECT answer. */
  accepted(s: ServerSession): RecoveryAnswer {
    const rec = s.rec!;
    rec.token = randomToken();
    this.setToken(rec.token, s);
    setRecovery(s.conn, rec);
    rec.base = this.log.last;
    if (this.log.sessions++ === 0) this.startTimer();
    return { token: rec.token, recovered: false, rx: rec.rx };
  }

  /**
   * A CONNECT presents `token`: the session it names, claimed for this link while its
   * middleware runs, or `undefined` (unknown, expired, already being resumed, or its missed
   * messages are no longer all kept: then it ends, as its client starts over).
   */
  claim(s2: ServerSession, token: string, offset: Offset): ServerSession | undefined {
    const s1 = this.tokens.get(token);
    const rec = s1?.rec;
    if (s1 === undefined || rec === undefined || rec.claimed || !s1.active) return undefined;
    // The client is back before the old link was seen to go: that link is cut now.
    if (s1.state === 'open') this.takeOver(s1);
    if (this.plan(s1, offset) === undefined) {
      this.end(s1, rec.lostCode, rec.lostReason);
      return undefined;
    }
    rec.claimed = true;
    rec.recovered = true;
    s2.resuming = s1;
    s2.resumeFrom = offset;
    const placeholder = linkOf(s1.conn) as AbsentLink;
    placeholder.adopt(linkOf(s2.conn));
    attachLink(s1.conn, placeholder);
    return s1;
  }

  /**
   * With a shared log (a cluster): a CONNECT presents `token`, and the session it names is taken
   * from the shared store — whichever process kept it — for this link while its middleware runs.
   * A session still open here is parked first (its record goes to the store, then is taken back
   * in order). Before it resolves, this process's log has caught up with the offsets the session
   * needs, and what it does not hold has been read from the store. `undefined`: a fresh session.
   */
  async claimShared(s2: ServerSession, token: string, offset: Offset): Promise<ServerSession | undefined> {
    const shared = this.shared!;
    let s1 = this.tokens.get(token);
    if (s1 !== undefined) {
      const r = s1.rec;
      if (r === undefined || r.claimed || !s1.active) return undefined;
      if (s1.state === 'open') this.takeOver(s1);
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
  private adopt(token: string, record: SessionRecord, via: Link): ServerSession {
    const placeholder = new AbsentLink(via, this, this.settings.maxMessages);
    const s = this.makeSession!(placeholder, record.id);
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
    this.setToken(token, s);
    if (this.log.sessions++ === 0) this.startTimer();
    this.owners.set(placeholder, s);
    rec.expiresAt = now() + this.settings.maxDisconnection;
    this.absent.add(s);
    return s;
  }

  /** The record of an absent session, for the shared store. */
  private recordOf(s: ServerSession): SessionRecord {
    const shared = this.shared!;
    const rec = s.rec!;
    const moved = rec.moved;
    const sent = moved ? moved.sent : shared.offsetOf(Math.max(rec.sent, rec.base));
    const dropped = moved ? moved.dropped : shared.offsetOf(rec.dropped);
    return {
      id: s.conn.id,
      rooms: moved ? moved.rooms : [...s.conn.roomSet],
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
  private store(s: ServerSession): boolean {
    const rec = s.rec!;
    rec.stored = this.shared!.keep(rec.token, this.recordOf(s), Math.max(1, rec.expiresAt - now()));
    return rec.stored;
  }

  /**
   * The replay of a resume with a shared log, by offsets: the entries after the client's
   * `from` that address the session, except those its process had and did not send it while
   * its link was up (they were not for it). `older`: what was read from the store before what
   * this process holds.
   */
  private planShared(s1: ServerSession, from: Offset, older: LogEntry[] | undefined): LogEntry[] | undefined {
    const shared = this.shared!;
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
    const rooms: ReadonlySet<string> = rec.moved ? new Set(rec.moved.rooms) : s1.conn.roomSet;
    const { maxMessages, maxBytes } = this.settings;
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
  private takenElsewhere(id: string): void {
    for (const s of this.absent) {
      if (s.conn.id !== id) continue;
      const rec = s.rec!;
      if (rec.claimed || !rec.stored) return;
      rec.stored = false;
      return this.letGo(s);
    }
  }

  /** Another process claimed this absent session: it ends here without `onDisconnect` (that process reports its end). */
  private letGo(s: ServerSession): void {
    const rec = s.rec!;
    this.moved++;
    this.leaveAbsence(s, linkOf(s.conn) as AbsentLink);
    s.closeHandlers = undefined;
    this.end(s, rec.lostCode, rec.lostReason);
  }

  /** The link that claimed `s1` went away before its middleware finished: `s1` waits again. */
  unclaim(s1: ServerSession): void {
    if (s1.rec) s1.rec.claimed = false;
  }

  /**
   * The last step of a resume, in one synchronous block: the new link of `s2` moves to `s1`,
   * which is open again; its CONNECT answer, the missed broadcasts and what it held go out
   * before any live traffic. Returns false (nothing done) when it can no longer be resumed.
   */
  resume(s1: ServerSession, s2: ServerSession): boolean {
    const rec = s1.rec;
    s2.resuming = undefined;
    if (rec === undefined || s1.state !== 'absent') return false;
    rec.claimed = false;
    const entries = this.shared ? this.planShared(s1, s2.resumeFrom!, s2.resumeOlder) : this.plan(s1, s2.resumeFrom!);
    s2.resumeOlder = undefined;
    if (entries === undefined) return false;
    const hub = this.hub;
    const m = hub.metrics;
    const link = linkOf(s2.conn);
    // The new link's session record is dropped: its handler now feeds s1.
    if (hub.opening.delete(s2)) m.opening--;
    markClosed(s2.conn);
    s2.inbox = null;
    const handler = s2.inbound!;
    handler.session = s1;
    s1.inbound = handler;
    s2.inbound = undefined;
    const placeholder = linkOf(s1.conn) as AbsentLink;
    this.leaveAbsence(s1, placeholder);
    const conn = s1.conn;
    attachLink(conn, link);
    markOpen(conn);
    // A session that came from another process joins its rooms here, in the same step as its
    // replay: the entries this process delivers from now on reach it, those before were replayed.
    if (rec.moved !== undefined) {
      hub.adapter.join(conn, rec.moved.rooms);
      rec.moved = undefined;
    }
    rec.base = this.log.last;
    hub.open.set(conn.id, conn);
    m.open++;
    m.transportDelta(conn.transport, 1);
    this.dropToken(rec.token);
    rec.token = randomToken();
    this.setToken(rec.token, s1);
    rec.expiresAt = 0;
    s1.alive = true;
    s1.lastSeen = now();
    s1.pingSent = false;
    this.recovered++;
    const hb = hub.settings.heartbeat;
    const answer = { token: rec.token, recovered: true, rx: rec.rx };
    this.send(link, encodeServerConnect({ v: PROTOCOL_VERSION, id: conn.id, heartbeat: hb ? hb.interval : 0, maxFrame: hub.settings.maxFrameSize, recovery: answer }));
    for (const e of entries) {
      const st = this.send(link, e.stamped);
      if (st === SendStatus.OK || st === SendStatus.BUFFERED) rec.sent = e.seq;
    }
    // Answers, errors and requests that waited for it (already counted when they were kept).
    for (const f of placeholder.frames) link.send(f, false);
    if (s1.inbox && s1.inbox.length >= hub.settings.maxQueuedFrames) link.pause();
    return true;
  }

  /** Sends on a link and counts it as `Connection.sendEncoded` does. */
  private send(link: Link, frame: Uint8Array): SendStatus {
    const st = link.send(frame, false);
    const m = this.hub.metrics;
    if (st === SendStatus.OK || st === SendStatus.BUFFERED) {
      m.messagesOut++;
      m.bytesOut += frame.length;
      if (st === SendStatus.BUFFERED) m.buffered++;
    }
    return st;
  }

  /**
   * The broadcasts `s1` needs after `from` (the client's offset), in order: those it was sent
   * and the client did not get, then those it was addressed while absent. `undefined` when the
   * log no longer holds them all, or they pass `maxMessages` / `maxBytes`.
   */
  private plan(s1: ServerSession, from: Offset): LogEntry[] | undefined {
    const rec = s1.rec!;
    const log = this.log;
    const { maxMessages, maxBytes } = this.settings;
    // While the link was up, what it was sent is known exactly (`rec.sent`); what was logged
    // after that until the loss was not for it (or could not be sent: then `rec.missed`).
    const fromSeq = log.seqOf(from);
    const missedLive = fromSeq < rec.sent || rec.missed;
    const needFrom = missedLive ? fromSeq : rec.dropped;
    if (log.trimmed > needFrom) return undefined;
    const placeholder = linkOf(s1.conn) as AbsentLink;
    let bytes = placeholder.held;
    const out: LogEntry[] = [];
    for (const e of log.entriesAfter(fromSeq)) {
      if (!rec.missed && e.seq > rec.sent && e.seq <= rec.dropped) continue;
      if (!addressed(s1.conn, e.target)) continue;
      bytes += e.stamped.length;
      if (out.length >= maxMessages || bytes > maxBytes) return undefined;
      out.push(e);
    }
    return out;
  }

  // ── links lost ──────────────────────────────────────────────────────────────

  /** Whether a session whose link closed with `code` is kept for its client (instead of ending). */
  keeps(s: ServerSession, code: number): boolean {
    const st = s.state;
    return (
      s.rec !== undefined &&
      s.rec.token !== '' &&
      (st === 'open' || st === 'closing') &&
      (code === 1006 || code === DisconnectCode.HEARTBEAT_TIMEOUT) &&
      s.failure === undefined &&
      !this.hub.draining &&
      this.settings.maxDisconnection > 0 &&
      this.settings.maxSessions > 0
    );
  }

  /** Keeps a session whose link was lost: it is absent until its client resumes it or it expires. */
  park(s: ServerSession, code: number, reason: string): void {
    const hub = this.hub;
    const m = hub.metrics;
    const conn = s.conn;
    const rec = s.rec!;
    if (hub.open.get(conn.id) === conn) {
      hub.open.delete(conn.id);
      m.open--;
      m.transportDelta(conn.transport, -1);
    }
    if (s.inbound) s.inbound.session = null;
    s.inbound = undefined;
    const placeholder = new AbsentLink(linkOf(conn), this, this.settings.maxMessages);
    this.owners.set(placeholder, s);
    attachLink(conn, placeholder);
    markAbsent(conn);
    rec.dropped = this.log.last;
    rec.lostCode = code;
    rec.lostReason = reason;
    rec.expiresAt = now() + this.settings.maxDisconnection;
    s.pingSent = false;
    this.absent.add(s);
    if (this.shared && !this.store(s)) {
      // Its record is larger than the store keeps: it cannot be resumed anywhere.
      this.expired++;
      this.end(s, code, reason);
      return;
    }
    if (this.absent.size > this.settings.maxSessions) {
      for (const old of this.absent) {
        if (old.rec?.claimed) continue;
        this.expired++;
        this.end(old, old.rec!.lostCode, old.rec!.lostReason);
        break;
      }
    }
  }

  /** A live session is resumed on a new link before its old link was seen to go. */
  private takeOver(s: ServerSession): void {
    const old = linkOf(s.conn);
    this.park(s, 1006, 'resumed on a new link');
    old.terminate();
  }

  private leaveAbsence(s: ServerSession, placeholder: AbsentLink): void {
    this.absent.delete(s);
    this.owners.delete(placeholder);
    this.held -= placeholder.held;
  }

  /** Whether the session is kept for its client (its link was lost and it has not ended). */
  isAbsent(s: ServerSession): boolean {
    return this.absent.has(s);
  }

  /** A session ended (any reason): it forgets its token and whatever it held. */
  ended(s: ServerSession): void {
    if (s.resuming) this.unclaim(s.resuming);
    s.resuming = undefined;
    const rec = s.rec;
    if (rec === undefined) return;
    if (rec.token !== '' && this.tokens.get(rec.token) === s) {
      this.dropToken(rec.token);
      if (--this.log.sessions === 0) {
        this.log.clear();
        this.stopTimer();
      }
    }
    const link = linkOf(s.conn);
    if (link instanceof AbsentLink && this.absent.has(s)) this.leaveAbsence(s, link);
    if (rec.stored) {
      rec.stored = false;
      void this.shared!.release(rec.token);
    }
  }

  /** Ends an absent session now (a refused or failed resume), with its own close code unless given. */
  discard(s: ServerSession, code?: number, reason?: string): void {
    const rec = s.rec;
    if (rec === undefined || s.state !== 'absent') return;
    this.expired++;
    this.end(s, code ?? rec.lostCode, reason ?? rec.lostReason);
  }

  /** Ends every absent session (drain, dispose). */
  endAll(code: number, reason: string): void {
    for (const s of [...this.absent]) this.end(s, code, reason);
  }

  dispose(): void {
    this.stopTimer();
    this.log.clear();
  }

  // ── what absent sessions' placeholder links ask ─────────────────────────────

  /** What an absent session holds goes before the oldest log entries in the process budget. */
  hold(bytes: number, link: AbsentLink): boolean {
    const { maxBytes, maxLogBytes } = this.settings;
    if (link.held + bytes > maxBytes) return false;
    if (this.held + this.log.bytes + bytes > maxLogBytes) this.log.trim(now(), maxLogBytes - this.held - bytes);
    if (this.held + this.log.bytes + bytes > maxLogBytes) return false;
    this.held += bytes;
    return true;
  }

  overflow(link: AbsentLink): void {
    this.later(link, (s) => [s.rec!.lostCode, s.rec!.lostReason]);
  }

  close(code: number, reason: string, link: AbsentLink): void {
    this.later(link, () => [code, reason]);
  }

  /** Ends the session of a placeholder link, after the current call (as a transport's close would). */
  private later(link: AbsentLink, why: (s: ServerSession) => [number, string]): void {
    queueMicrotask(() => {
      const s = this.owners.get(link);
      // Still on this placeholder (`conn.disconnect` made it `closing` first).
      if (s === undefined || linkOf(s.conn) !== link || s.state === 'closed') return;
      this.expired++;
      const [code, reason] = why(s);
      this.end(s, code, reason);
    });
  }

  // ── sending ─────────────────────────────────────────────────────────────────

  /** A direct `conn.emit` of a session with recovery: logged as a broadcast to its id. */
  emitLogged(conn: AnyConnection, frame: Uint8Array): boolean {
    const target = { rooms: [conn.id], exceptRooms: NO_NAMES, exceptIds: NO_NAMES, volatile: false, local: false };
    if (this.shared) {
      // Through the shared log, in its order, to wherever the session is when it is delivered.
      this.hub.adapter.broadcast(frame, target);
      return true;
    }
    const entry = this.log.append(frame, target, now());
    if (stateOf(conn) === 'absent') return entry !== undefined;
    const st = conn.sendOut(new OutFrame(frame, entry), false);
    return st === SendStatus.OK || st === SendStatus.BUFFERED;
  }

  /**
   * An ACK_REQ of a session with recovery: true when its id was already handled (answered again
   * from the kept reply, or still running: its reply will come), so it must not run again.
   */
  repeated(s: ServerSession, frame: Frame): boolean {
    const seen = s.rec!.seen(parseAckRequest(frame.payload).id);
    if (seen === undefined) return false;
    if (seen !== 'running') s.conn.sendEncoded(seen, false);
    return true;
  }

  // ── time ────────────────────────────────────────────────────────────────────

  /**
   * An absent session whose wait is over, with a shared store: its record is deleted there, and
   * the store says whether it ends here (`onDisconnect`) or another process took it meanwhile.
   */
  private expireShared(s: ServerSession): void {
    const rec = s.rec!;
    rec.claimed = true;
    rec.stored = false;
    void this.shared!.release(rec.token).then((here) => {
      rec.claimed = false;
      if (s.state !== 'absent') return;
      if (!here) return this.letGo(s);
      this.expired++;
      this.end(s, rec.lostCode, rec.lostReason);
    });
  }

  private startTimer(): void {
    if (this.timer !== undefined) return;
    const every = Math.max(20, Math.min(1000, Math.floor(this.settings.maxDisconnection / 4)));
    this.timer = setInterval(() => this.tick(), every);
    unrefTimer(this.timer);
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Absent sessions past `maxDisconnection` end; log entries past it go. */
  private tick(): void {
    const t = now();
    // Longest-absent first: all wait the same time, so the first one still waiting stops the walk.
    for (const s of this.absent) {
      const rec = s.rec!;
      if (rec.claimed) continue;
      if (rec.expiresAt > t) break;
      if (this.shared && rec.stored) {
        this.expireShared(s);
        continue;
      }
      this.expired++;
      this.end(s, rec.lostCode, rec.lostReason);
    }
    this.log.trim(t, this.settings.maxLogBytes - this.held);
  }
}
