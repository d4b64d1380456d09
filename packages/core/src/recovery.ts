import { encodeServerConnect, parseAckRequest, PROTOCOL_VERSION, type Frame, type Offset, type RecoveryAnswer } from '@stelar/codec-tcp';
import { now, unrefTimer } from './clock';
import type { AnyConnection } from './connection';
import { attachLink, linkOf, markAbsent, markClosed, markOpen, setRecovery, stateOf } from './connection-access';
import type { HubContext } from './hub-context';
import { randomToken } from './ids';
import { SendStatus, type Link } from './link';
import { OutFrame, type RecoveryLog, type RecoverySettings, type RecoveryStats, type SharedLog } from './recovery-log';
import { SharedSessions } from './recovery-shared';
import { AbsentLink, keptOnLoss, planReplay, SessionRecovery, type AbsentHost } from './recovery-session';
import type { ServerSession } from './session';

const NO_NAMES: readonly string[] = [];

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
  readonly tokens = new Map<string, ServerSession>();
  /** Absent sessions, longest-absent first. */
  readonly absent = new Set<ServerSession>();
  readonly owners = new Map<AbsentLink, ServerSession>();
  /** Bytes absent sessions hold (their placeholder links' frames). */
  private held = 0;
  private timer: ReturnType<typeof setInterval> | undefined = undefined;
  private recovered = 0;
  private failed = 0;
  expired = 0;
  /** Sessions this process let go because another one claimed them (no `onDisconnect` here). */
  moved = 0;
  /** The log's side of moving sessions between processes, when the log is shared (a cluster). */
  readonly shared: SharedLog | undefined;

  constructor(
    readonly hub: HubContext<In, Out>,
    readonly settings: RecoverySettings,
    makeLog: (budget: () => number) => RecoveryLog,
    /** Ends a session for good (`Liveness.finish`). */
    readonly end: (s: ServerSession, code: number, reason: string) => void,
    /** A session record for a session that comes from another process (shared log only). */
    makeSession?: (link: Link, id: string) => ServerSession,
  ) {
    this.log = makeLog(() => this.settings.maxLogBytes - this.held);
    this.shared = this.log.shared;
    this.sharing = this.shared && makeSession ? new SharedSessions(this, this.shared, makeSession) : undefined;
  }

  /** With a shared log: how sessions move between processes (`recovery-shared.ts`). */
  private readonly sharing: SharedSessions<In, Out> | undefined;
  /** With a shared log: a CONNECT's token claimed from the shared store (see `SharedSessions.claim`). */
  claimShared(s2: ServerSession, token: string, offset: Offset): Promise<ServerSession | undefined> {
    return this.sharing!.claim(s2, token, offset);
  }

  setToken(token: string, s: ServerSession): void {
    this.tokens.set(token, s);
    this.shared?.opened(token);
  }
  private dropToken(token: string): void {
    this.tokens.delete(token);
    this.shared?.closed(token);
  }


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
    if (planReplay(this.log, this.settings, s1, offset) === undefined) {
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
    const entries = this.sharing ? this.sharing.plan(s1, s2.resumeFrom!, s2.resumeOlder) : planReplay(this.log, this.settings, s1, s2.resumeFrom!);
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

  // ── links lost ──────────────────────────────────────────────────────────────

  /** Whether a session whose link closed with `code` is kept for its client (instead of ending). */
  keeps(s: ServerSession, code: number): boolean {
    return !this.hub.draining && keptOnLoss(s, code, this.settings);
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
    if (this.sharing && !this.sharing.store(s)) {
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
  takeOver(s: ServerSession): void {
    const old = linkOf(s.conn);
    this.park(s, 1006, 'resumed on a new link');
    old.terminate();
  }

  leaveAbsence(s: ServerSession, placeholder: AbsentLink): void {
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

  /** An absent session's placeholder link holds more: before the oldest log entries in the process budget; refreshes a shared record. */
  hold(bytes: number, link: AbsentLink): boolean {
    const { maxBytes, maxLogBytes } = this.settings;
    if (link.held + bytes > maxBytes) return false;
    if (this.held + this.log.bytes + bytes > maxLogBytes) this.log.trim(now(), maxLogBytes - this.held - bytes);
    if (this.held + this.log.bytes + bytes > maxLogBytes) return false;
    this.held += bytes;
    this.sharing?.refresh(this.owners.get(link));
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
  emitLogged(conn: AnyConnection, frame: Uint8Array, compress?: boolean): boolean {
    const target = { rooms: [conn.id], exceptRooms: NO_NAMES, exceptIds: NO_NAMES, volatile: false, local: false };
    if (this.shared) {
      // Through the shared log, in its order, to wherever the session is when it is delivered.
      this.hub.adapter.broadcast(frame, target);
      return true;
    }
    const entry = this.log.append(frame, target, now());
    if (stateOf(conn) === 'absent') return entry !== undefined;
    const st = conn.sendOut(new OutFrame(frame, entry), false, compress);
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

  startTimer(): void {
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
      if (this.sharing && rec.stored) {
        this.sharing.expire(s);
        continue;
      }
      this.expired++;
      this.end(s, rec.lostCode, rec.lostReason);
    }
    this.log.trim(t, this.settings.maxLogBytes - this.held);
  }
}
