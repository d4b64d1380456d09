import { DisconnectCode, FrameType, type Offset } from '@stelar/codec-tcp';
import { linkOf } from './connection-access';
import { SendStatus, type Link, type LinkInfo } from './link';
import { addressed, type LogEntry, type RecoveryLog, type RecoverySettings } from './recovery-log';
import type { ServerSession } from './session';

/**
 * Replies kept per session, for a request the client asks again after a resume: more than the
 * replies one cut loses on a loaded host (up to about 30 were seen in flight with a request every
 * 9 ms); the bytes bound below is what limits memory.
 */
export const REPLY_CACHE_ENTRIES = 64;
/** Bytes of replies kept per session; a bigger reply is not kept. */
export const REPLY_CACHE_BYTES = 16 * 1024;

/** Frames are counted in `rx` when they are one of these types (docs/protocol.md §8). */
export function countsForRx(type: number): boolean {
  return type === FrameType.JSON || type === FrameType.BINARY || type === FrameType.ACK_REQ || type === FrameType.JOIN || type === FrameType.LEAVE;
}

/** How far request id `id` is behind `newest` (ids wrap after 2^32 − 1): 0 for the newest, ≥ 2^31 for a newer one. */
function ageOf(newest: number, id: number): number {
  return (newest - id) >>> 0;
}

/**
 * A copy with an array of its own for a small frame (it may be carved from the encoder's shared
 * slab). Not `slice`: on a Node Buffer that is a view of the same memory.
 */
function own(frame: Uint8Array): Uint8Array {
  return frame.byteLength === frame.buffer.byteLength ? frame : new Uint8Array(frame);
}

/**
 * What connection-state recovery keeps for one session that opted in, on top of its record:
 * the secret token, the client frames counted, the offsets sent, and the replies a client may ask
 * for again. Lives as long as the session (open, then absent, then open again…).
 */
export class SessionRecovery {
  /** The secret the client presents to resume (a new one on every CONNECT answer); '' until accepted. */
  token = '';
  /** Client frames received in this session (JSON, BINARY, ACK_REQ, JOIN, LEAVE), across links. */
  rx = 0;
  /** Log seq of the last logged frame sent on a link (a small integer: written on every delivery). */
  sent = 0;
  /** The log's newest seq when the link was lost. */
  dropped = 0;
  /** The close code and reason of the lost link (reported to `onDisconnect` if it never comes back). */
  lostCode = 0;
  lostReason = '';
  /** When it stops waiting for its client (monotonic ms); set while absent. */
  expiresAt = 0;
  /** A new link is resuming it (its connection middleware runs): it does not expire meanwhile. */
  claimed = false;
  /** The session was resumed at least once (`conn.recovered`). */
  recovered = false;
  /** A logged frame could not be sent on its live link (it was closing): replay cannot skip what it was not sent. */
  missed = false;
  /** Shared log (cluster): the log's newest seq when the session opened or was resumed here. */
  base = 0;
  /**
   * Shared log: what the record of a session that came from another process says (offsets of
   * the last frame sent and of the loss), and the rooms it re-joins on resume; undefined for a
   * session parked by this process (its seqs say it).
   */
  moved: { sent: Offset; dropped: Offset; rooms: string[] } | undefined = undefined;
  /** Shared log: its record is in the shared store (deleted there when the session ends here). */
  stored = false;
  /** Request ids handed to handlers and not answered yet. */
  private running: Set<number> | undefined = undefined;
  /** Replies kept, by request id. */
  private replies: Map<number, Uint8Array> | undefined = undefined;
  private replyBytes = 0;
  /** The newest request id with a reply kept (ids increase within a session, wrapping after 2^32 − 1). */
  private newest = 0;

  /**
   * A request `id` the session has seen: `'running'` while its handler runs, its encoded reply
   * when it is still kept, `undefined` when it is new (then it is marked running).
   */
  seen(id: number): 'running' | Uint8Array | undefined {
    if (this.running?.has(id)) return 'running';
    const reply = this.replies?.get(id);
    if (reply !== undefined) return reply;
    (this.running ??= new Set()).add(id);
    return undefined;
  }

  /**
   * A reply to `id` was sent (or kept for the client): remember it, bounded. The replies of the
   * newest request ids are kept, not the latest answered: a request asked again after a resume
   * whose reply was no longer kept runs again, and its reply must not push out the replies of the
   * newer requests the client is asking again right after it (each would run again in turn).
   */
  answered(id: number, frame: Uint8Array): void {
    if (this.running === undefined || !this.running.delete(id)) return;
    if (frame.length > REPLY_CACHE_BYTES) return;
    const replies = (this.replies ??= new Map());
    const copy = own(frame);
    if (replies.size === 0 || ageOf(this.newest, id) >= 0x8000_0000) this.newest = id;
    replies.set(id, copy);
    this.replyBytes += copy.length;
    while (replies.size > REPLY_CACHE_ENTRIES || this.replyBytes > REPLY_CACHE_BYTES) {
      // The oldest id goes (at most REPLY_CACHE_ENTRIES + 1 to look at).
      let oldest = id;
      let age = -1;
      for (const k of replies.keys()) {
        const a = ageOf(this.newest, k);
        if (a > age) {
          age = a;
          oldest = k;
        }
      }
      this.replyBytes -= replies.get(oldest)!.length;
      replies.delete(oldest);
    }
  }

  /** The replies kept (a session record carries them to another process). */
  keptReplies(): [number, Uint8Array][] {
    return this.replies ? [...this.replies] : [];
  }

  /** Takes the replies of a session record (bounded as `answered` bounds them). */
  restoreReplies(list: readonly (readonly [number, Uint8Array])[]): void {
    for (const [id, frame] of list) {
      (this.running ??= new Set()).add(id);
      this.answered(id, frame);
    }
  }

  /** Bytes of replies kept. */
  get cachedBytes(): number {
    return this.replyBytes;
  }
}

/** What an absent session's placeholder link reports to. */
export interface AbsentHost {
  /** Asks to hold `bytes` more for this session (per-session and process bounds). */
  hold(bytes: number, link: AbsentLink): boolean;
  /** Holding failed: the session cannot be recovered exactly. */
  overflow(link: AbsentLink): void;
  /** The application closed the absent session (`conn.disconnect`). */
  close(code: number, reason: string, link: AbsentLink): void;
}

/**
 * The link of a session whose client is away: answers, errors and requests to the client are
 * kept (bounded) and sent when it comes back; JSON and BINARY frames are not kept here (logged
 * ones are in the log; the rest — volatile or local broadcasts — are lost); closing it ends the
 * session. It keeps the facts of the link that was lost.
 */
export class AbsentLink implements Link {
  transport!: string;
  remoteAddress!: string;
  remotePort?: number;
  upgradeRequest?: NonNullable<LinkInfo['upgradeRequest']>;
  readonly frames: Uint8Array[] = [];
  held = 0;

  constructor(
    was: LinkInfo,
    private readonly host: AbsentHost,
    private readonly maxFrames: number,
  ) {
    this.adopt(was);
  }

  get bufferedAmount(): number {
    return this.held;
  }

  /** Takes the facts of the link a resume comes by (connection middleware sees them). */
  adopt(next: LinkInfo): void {
    this.transport = next.transport;
    this.remoteAddress = next.remoteAddress;
    if (next.remotePort === undefined) delete this.remotePort;
    else this.remotePort = next.remotePort;
    if (next.upgradeRequest === undefined) delete this.upgradeRequest;
    else this.upgradeRequest = next.upgradeRequest;
  }

  send(frame: Uint8Array): SendStatus {
    const t = frame[4];
    if (t !== FrameType.ACK_RES && t !== FrameType.ACK_REQ && t !== FrameType.ERROR) return SendStatus.CLOSED;
    const copy = own(frame);
    if (this.frames.length >= this.maxFrames || !this.host.hold(copy.length, this)) {
      this.host.overflow(this);
      return SendStatus.CLOSED;
    }
    this.frames.push(copy);
    this.held += copy.length;
    return SendStatus.OK;
  }

  ping(): void {}
  close(code: number, reason: string): void {
    this.host.close(code, reason, this);
  }
  terminate(): void {
    this.host.close(1006, '', this);
  }
  pause(): void {}
  resume(): void {}
}

/**
 * The broadcasts `s1` needs after `from` (the client's offset), in order, from a log of one
 * process: those it was sent and the client did not get, then those it was addressed while
 * absent. `undefined` when the log no longer holds them all, or they pass `maxMessages` /
 * `maxBytes`. (A shared log plans by offsets: `SharedSessions.plan`.)
 */
export function planReplay(log: RecoveryLog, settings: RecoverySettings, s1: ServerSession, from: Offset): LogEntry[] | undefined {
  const rec = s1.rec!;
  const { maxMessages, maxBytes } = settings;
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

/** Whether a session whose link closed with `code` is kept for its client (the hub not draining). */
export function keptOnLoss(s: ServerSession, code: number, settings: RecoverySettings): boolean {
  const st = s.state;
  return (
    s.rec !== undefined &&
    s.rec.token !== '' &&
    (st === 'open' || st === 'closing') &&
    (code === 1006 || code === DisconnectCode.HEARTBEAT_TIMEOUT) &&
    s.failure === undefined &&
    settings.maxDisconnection > 0 &&
    settings.maxSessions > 0
  );
}
