import { withOffset, ZERO_OFFSET, type Offset } from '@stelar/codec-tcp';
import type { BroadcastTarget, Target } from './adapter';
import type { AnyConnection } from './connection';
import { LogWindow } from './log-window';

/** Connection-state recovery (`HubOptions.recovery`): how long and how much is kept. */
export interface RecoveryOptions {
  /** How long a session whose link was lost is kept for its client to come back (ms). Default 120 000. */
  maxDisconnection?: number;
  /** Most messages replayed to one session on resume; more means a fresh session. Default 1000. */
  maxMessages?: number;
  /**
   * Most bytes replayed to one session on resume, and most bytes held for it while it is absent
   * (replies and requests waiting for it). Default 1 MiB.
   */
  maxBytes?: number;
  /** Most absent sessions kept by this process; past it the longest-absent one ends. Default 10 000. */
  maxSessions?: number;
  /**
   * Most bytes this process keeps for recovery: the log of broadcasts (each entry counted with
   * its frame and 96 bytes of bookkeeping) plus what absent sessions hold. The oldest entries go
   * first. Default 64 MiB.
   */
  maxLogBytes?: number;
}

export type RecoverySettings = Readonly<Required<RecoveryOptions>>;

export const RECOVERY_DEFAULTS: RecoverySettings = Object.freeze({
  maxDisconnection: 120_000,
  maxMessages: 1000,
  maxBytes: 1024 * 1024,
  maxSessions: 10_000,
  maxLogBytes: 64 * 1024 * 1024,
});

/** `HubOptions.recovery` with the defaults filled in (`true` = all defaults); undefined when off. */
export function recoverySettings(o: RecoveryOptions | boolean | undefined): RecoverySettings | undefined {
  if (o === undefined || o === false) return undefined;
  const s = { ...RECOVERY_DEFAULTS, ...(o === true ? {} : o) };
  for (const [k, v] of Object.entries(s)) {
    if (typeof v !== 'number' || !(v >= 0)) throw new RangeError(`recovery.${k} must be a number >= 0, got ${String(v)}`);
  }
  return Object.freeze(s);
}

/**
 * One logged broadcast: its place in the log, its offset, the frame as recovering sessions get
 * it, whom it addressed, when.
 */
export class LogEntry {
  constructor(
    /** Its place in this log: 1, 2, 3… with no gaps, in offset order (a small integer, cheap to keep per session). */
    readonly seq: number,
    /** Its offset on the wire. */
    readonly offset: Offset,
    /** The frame with the offset at the start of its payload (an array of its own). */
    readonly stamped: Uint8Array,
    readonly target: Target,
    /** Monotonic ms when it was logged. */
    readonly at: number,
  ) {}
}

/**
 * One broadcast being delivered: the frame as it is, and the variant sessions with recovery get
 * (the logged entry's, or a zero-offset copy made at most once per broadcast).
 */
export class OutFrame {
  private zero: Uint8Array | undefined = undefined;
  constructor(
    readonly frame: Uint8Array,
    readonly entry: LogEntry | undefined,
  ) {}

  stamped(): Uint8Array {
    if (this.entry !== undefined) return this.entry.stamped;
    return (this.zero ??= withOffset(this.frame, ZERO_OFFSET, true));
  }
}

/**
 * What the hub needs of an adapter for connection-state recovery (`Adapter.recovery`): the log
 * of broadcasts with their offsets. The adapter appends every broadcast it delivers that is not
 * volatile or local, and hands recipients an `OutFrame` (see `MemoryAdapter.deliverStamped`).
 *
 * Offsets are u64 values (two u32 halves), opaque to clients, increasing in the order entries
 * are delivered; zero means none. `MemoryRecoveryLog` counts 1, 2, 3…; a cluster log may use
 * its store's ids (Redis Streams: ms · 2^16 + sequence). The hub keeps positions in the log as
 * `seq` numbers (1, 2, 3… in offset order, local to the log) and maps a client's offset to one
 * with `seqOf`.
 */
export interface RecoveryLog {
  /**
   * Sessions that may recover (open or absent), kept by the hub. While it is 0 nothing is logged
   * (no one could need it) and broadcasts take the path they take without recovery.
   */
  sessions: number;
  /** Logs a broadcast and returns its entry; `undefined` when not logged (volatile, local, no sessions). */
  append(frame: Uint8Array, target: BroadcastTarget, now: number): LogEntry | undefined;
  /** The newest entry's seq (0 when none yet). */
  readonly last: number;
  /** The newest seq this log has dropped (0 when none): entries after it are all still here. */
  readonly trimmed: number;
  /** The seq of the newest entry whose offset is at most `offset` (dropped entries included; 0 for none). */
  seqOf(offset: Offset): number;
  /** Entries after seq `from`, oldest first. */
  entriesAfter(from: number): Iterable<LogEntry>;
  /** Drops entries older than `maxDisconnection` and, past `budget` bytes, the oldest ones. */
  trim(now: number, budget: number): void;
  /** Entries and bytes held (gauges). */
  readonly entries: number;
  readonly bytes: number;
  /** Frees everything. */
  clear(): void;
  /**
   * Set by a log that several processes share (a cluster's stream): sessions move between
   * processes through it, resumes claim them there, and `conn.emit` goes through the adapter's
   * `broadcast` so that it takes its place in the shared order. Absent for a log of one process.
   */
  readonly shared?: SharedLog;
}

/**
 * What a session that moves between processes carries (connection-state recovery across nodes):
 * written to the shared store when its link is lost, claimed by the process its client comes
 * back to. Offsets are the shared log's.
 */
export interface SessionRecord {
  id: string;
  rooms: string[];
  /** `conn.data` (what survives JSON). */
  data: unknown;
  rx: number;
  /** The offset of the last logged frame the session was sent (or of the newest entry when it opened). */
  sent: Offset;
  /** The newest offset its process had delivered when the link was lost. */
  dropped: Offset;
  /** A logged frame could not be sent to it while its link was up. */
  missed: boolean;
  /** The close code and reason of the lost link. */
  lostCode: number;
  lostReason: string;
  /** Kept replies by request id (encoded ACK_RES frames), oldest first. */
  replies: [number, Uint8Array][];
}

/** A shared log's side of moving sessions (see `RecoveryLog.shared`). */
export interface SharedLog {
  /**
   * Stores the record of a session whose link was lost, under its token, for `ttl` ms (it goes
   * out in the background). False when it is refused (larger than the store's bound): then the
   * session cannot be resumed.
   */
  keep(token: string, record: SessionRecord, ttl: number): boolean;
  /**
   * Takes the record of `token` for this process, atomically across processes: `'taken'` when
   * another process took it, undefined when there is none (or the store is unreachable).
   */
  claim(token: string): Promise<SessionRecord | 'taken' | undefined>;
  /**
   * There is no record of `token`: asks the other processes whether one still has it open (its
   * link lost but not yet seen so), to park it so its record can be claimed. True if one did.
   */
  handover(token: string): Promise<boolean>;
  /** Set by the hub: another process asks for the session of `token` (see `handover`); true when it was parked here. */
  onHandover: ((token: string) => boolean) | undefined;
  /** A token is valid in this process from now on / no more (the log may index them for `handover`). */
  opened(token: string): void;
  closed(token: string): void;
  /**
   * This process stops keeping the session of `token`: its record is deleted. Resolves true when
   * the session ends here (its record was still there, or expired), false when another process
   * claimed it (then that process reports its end).
   */
  release(token: string): Promise<boolean>;
  /** Resolves true once this log holds the entries up to `offset` (false if that did not happen within a bounded wait). */
  reach(offset: Offset): Promise<boolean>;
  /** The entries held after `from` (oldest first), or undefined when this log does not reach back to `from`. */
  after(from: Offset): LogEntry[] | undefined;
  /**
   * Reads from the store the entries after `from` that are older than what this log holds
   * (oldest first, at most `limit`), or undefined when the store no longer has them all.
   */
  read(from: Offset, limit: number): Promise<LogEntry[] | undefined>;
  /** The offset of the entry with this seq if it is held; undefined otherwise. */
  offsetOf(seq: number): Offset | undefined;
  /** The newest offset delivered by this process (zero when none). */
  readonly lastOffset: Offset;
  /** Tells the other processes that this one claimed the session `id` (they let their copy go). */
  taken(id: string): void;
  /** Set by the hub: another process claimed the session `id`. */
  onTaken: ((id: string) => void) | undefined;
}

/** Offset `n` of the in-memory log (n < 2^53). */
function offsetOf(n: number): Offset {
  return { hi: Math.floor(n / 0x1_0000_0000), lo: n >>> 0 };
}

/** The number an in-memory log offset stands for. */
function numberOf(o: Offset): number {
  return o.hi * 0x1_0000_0000 + o.lo;
}

/**
 * The in-memory log of `MemoryAdapter`: entries numbered 1, 2, 3… in a ring (an array with a
 * moving head), trimmed by age and by the process budget. Appending is O(1); finding where a
 * replay starts is O(1) (entries are numbered without gaps).
 */
export class MemoryRecoveryLog implements RecoveryLog {
  sessions = 0;
  private readonly window: LogWindow;
  /** The process budget left for the log (the hub passes it on each append). */
  budget: () => number;

  constructor(settings: RecoverySettings, budget?: () => number) {
    this.window = new LogWindow(settings.maxDisconnection);
    this.budget = budget ?? (() => settings.maxLogBytes);
  }

  get entries(): number {
    return this.window.entries;
  }

  get bytes(): number {
    return this.window.bytes;
  }

  get last(): number {
    return this.window.last;
  }

  get trimmed(): number {
    return this.window.trimmed;
  }

  seqOf(offset: Offset): number {
    return Math.min(numberOf(offset), this.window.last);
  }

  append(frame: Uint8Array, target: BroadcastTarget, now: number): LogEntry | undefined {
    if (this.sessions === 0 || target.volatile || target.local) return undefined;
    const entry = this.window.add((seq) => {
      const offset = offsetOf(seq);
      return new LogEntry(seq, offset, withOffset(frame, offset), target, now);
    });
    this.window.trim(now, this.budget());
    return entry;
  }

  entriesAfter(from: number): Iterable<LogEntry> {
    return this.window.after(from);
  }

  trim(now: number, budget: number): void {
    this.window.trim(now, budget);
  }

  clear(): void {
    this.window.clear();
  }
}

/** What `getStats().recovery` reports. */
export interface RecoveryStats {
  /** Sessions whose link was lost, kept for their client to come back. */
  absentSessions: number;
  /** Broadcasts in the log, and their bytes (frames plus bookkeeping). */
  logEntries: number;
  logBytes: number;
  /** Bytes absent sessions hold (answers and requests waiting for their client). */
  heldBytes: number;
  /** Resumes that brought a session back, and those that could not (a fresh session instead). */
  recovered: number;
  failed: number;
  /** Absent sessions that ended without their client coming back (expired, evicted, closed). */
  expired: number;
  /**
   * With a log shared by several processes: absent sessions this process let go because their
   * client resumed them on another process (no `onDisconnect` here).
   */
  movedAway?: number;
}

/** Whether a broadcast `target` addresses `conn` (as `MemoryAdapter` matches it). */
export function addressed(conn: AnyConnection, target: Target): boolean {
  return addressedIn(conn.id, conn.rooms, target);
}

/** Whether a broadcast `target` addresses the session `id` in `rooms`. */
export function addressedIn(id: string, rooms: ReadonlySet<string>, target: Target): boolean {
  for (const r of target.exceptRooms) if (r === id || rooms.has(r)) return false;
  if (target.exceptIds.includes(id)) return false;
  if (target.rooms.length === 0) return true;
  for (const r of target.rooms) if (r === id || rooms.has(r)) return true;
  return false;
}
