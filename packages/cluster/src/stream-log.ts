import { compareOffsets, withOffset, ZERO_OFFSET, type Offset } from '@stelar/codec-tcp';
import { LogEntry, LogWindow, type BroadcastTarget, type RecoveryLog, type RecoverySettings, type SessionRecord, type SharedLog } from '@stelar/core/internal';
import type { BrokerLog } from './broker';
import { decodeBroadcast, Flag } from './envelope';
import { readUtf8, utf8 } from './utf8';
import { unref, within } from './util';

function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += (x < 16 ? '0' : '') + x.toString(16);
  return s;
}

function unhex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s)) throw new Error('bad hex');
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return b;
}

/** A session record as the store keeps it: JSON (replies in hex). */
export function encodeRecord(r: SessionRecord): Uint8Array {
  return utf8(JSON.stringify({ ...r, replies: r.replies.map(([id, f]) => [id, hex(f)]) }));
}

/** The record back; undefined if it is not one (a foreign or damaged value). */
export function decodeRecord(b: Uint8Array): SessionRecord | undefined {
  try {
    const v = JSON.parse(readUtf8(b, 0, b.length)) as Record<string, unknown>;
    const off = (o: unknown): Offset => {
      const x = o as { hi?: unknown; lo?: unknown } | null;
      if (!x || typeof x.hi !== 'number' || typeof x.lo !== 'number') throw new Error('bad offset');
      return { hi: x.hi >>> 0, lo: x.lo >>> 0 };
    };
    if (typeof v['id'] !== 'string' || !Array.isArray(v['rooms']) || typeof v['rx'] !== 'number' || !Array.isArray(v['replies'])) return undefined;
    return {
      id: v['id'],
      rooms: (v['rooms'] as unknown[]).filter((r): r is string => typeof r === 'string'),
      data: v['data'],
      rx: v['rx'],
      sent: off(v['sent']),
      dropped: off(v['dropped']),
      missed: v['missed'] === true,
      lostCode: typeof v['lostCode'] === 'number' ? v['lostCode'] : 1006,
      lostReason: typeof v['lostReason'] === 'string' ? v['lostReason'] : '',
      replies: (v['replies'] as [number, string][]).map(([id, f]) => [id, unhex(f)] as [number, Uint8Array]),
    };
  } catch {
    return undefined;
  }
}

/**
 * This node's window on the cluster's log (connection-state recovery across nodes): every entry
 * the broker's log delivers (all broadcasts of the cluster, in log order) is kept here with its
 * offset, trimmed by age (`maxDisconnection`) and by the process budget (`maxLogBytes`), as core's
 * in-memory log is. Entries are numbered 1, 2, 3… locally (the hub's seqs); their offsets are
 * the log's. It is also core's `SharedLog`: session records go to the broker's store, and a
 * resume that needs entries older than the window reads them from the broker's log.
 */
export class StreamLog implements RecoveryLog, SharedLog {
  sessions = 0;
  readonly shared: SharedLog = this;
  private readonly window: LogWindow;
  /** Every entry after this offset is held (or was trimmed, then `floor` moves): where reading started. */
  private floor: Offset = ZERO_OFFSET;
  private newest: Offset = ZERO_OFFSET;
  private waiters: { offset: Offset; done: (ok: boolean) => void }[] = [];
  /** Entries read from the broker's log for resumes (not held here). */
  readFromStore = 0;
  /** Entries the log delivered without an offset (not kept). */
  unkept = 0;
  onTaken: ((id: string) => void) | undefined = undefined;
  onHandover: ((token: string) => boolean) | undefined = undefined;
  /** Tokens valid here by their digest (another node asks by digest). */
  private readonly digests = new Map<string, string>();

  constructor(
    private readonly settings: RecoverySettings,
    private readonly budget: () => number,
    private readonly log: BrokerLog,
    /** How long a resume waits for this node to catch up with an offset, or for the store (ms). */
    private readonly wait: number,
    /** Tells the other nodes that this one claimed a session. */
    readonly taken: (id: string) => void,
    /** Asks the other nodes to park the session of a token digest; true if one did. */
    private readonly ask: (digest: string) => Promise<boolean>,
  ) {
    this.window = new LogWindow(settings.maxDisconnection);
  }

  opened(token: string): void {
    this.digests.set(this.log.hash(token), token);
  }

  closed(token: string): void {
    this.digests.delete(this.log.hash(token));
  }

  handover(token: string): Promise<boolean> {
    return this.ask(this.log.hash(token)).catch(() => false);
  }

  /** Another node asks for the session of a token digest. */
  handOver(digest: string): boolean {
    const token = this.digests.get(digest);
    return token !== undefined && (this.onHandover?.(token) ?? false);
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

  get lastOffset(): Offset {
    return this.newest;
  }

  /** Where reading starts: entries after `from` are all delivered to this window. */
  start(from: Offset): void {
    this.floor = this.newest = from;
  }

  /** The broker's log delivered an entry: kept here (unless it has no offset), returned for delivery. */
  add(offset: Offset, frame: Uint8Array, target: BroadcastTarget, now: number): LogEntry | undefined {
    if (offset.hi === 0 && offset.lo === 0) {
      this.unkept++;
      return undefined;
    }
    if (compareOffsets(offset, this.newest) <= 0) return undefined; // a copy (the broker re-read it)
    // Stamped first: a frame it cannot stamp throws before a seq is taken (the numbering has no gap).
    const stamped = withOffset(frame, offset);
    const entry = this.window.add((seq) => new LogEntry(seq, offset, stamped, target, now));
    this.newest = offset;
    this.trim(now, this.budget());
    if (this.waiters.length > 0) this.wake();
    return entry;
  }

  append(): undefined {
    // Broadcasts reach this log through the broker's (see `ClusterNode.broadcast`).
    return undefined;
  }

  seqOf(offset: Offset): number {
    return this.window.seqAtOrBefore(offset);
  }

  entriesAfter(from: number): Iterable<LogEntry> {
    return this.window.after(from);
  }

  trim(now: number, budget: number): void {
    const dropped = this.window.trim(now, budget);
    if (dropped) this.floor = dropped.offset;
  }

  /** Kept: other nodes' sessions may resume here whether or not this node has any (trimming bounds it). */
  clear(): void {}

  /** Frees everything (the adapter closes). */
  close(): void {
    this.window.clear();
    for (const w of this.waiters.splice(0)) w.done(false);
  }

  // ── SharedLog ───────────────────────────────────────────────────────────────

  after(from: Offset): LogEntry[] | undefined {
    if (compareOffsets(from, this.floor) < 0) return undefined;
    return this.window.afterOffset(from);
  }

  offsetOf(seq: number): Offset | undefined {
    // The newest entry before what is held: where reading started, or the last one trimmed.
    if (seq === this.window.trimmed) return this.floor;
    return this.window.entry(seq)?.offset;
  }

  reach(offset: Offset): Promise<boolean> {
    if (compareOffsets(this.newest, offset) >= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = {
        offset,
        done: (ok: boolean) => {
          clearTimeout(timer);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(false);
      }, this.wait);
      unref(timer);
      this.waiters.push(w);
    });
  }

  private wake(): void {
    const keep: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (compareOffsets(this.newest, w.offset) >= 0) w.done(true);
      else keep.push(w);
    }
    this.waiters = keep;
  }

  async read(from: Offset, limit: number): Promise<LogEntry[] | undefined> {
    const to = this.floor;
    if (compareOffsets(to, from) <= 0) return [];
    const got = await within(this.log.range(from, to, limit), this.wait, 'reading the log').catch(() => undefined);
    if (got === undefined) return undefined;
    const out: LogEntry[] = [];
    const t = Date.now();
    for (const [offset, msg] of got) {
      let env;
      let stamped;
      try {
        env = decodeBroadcast(msg);
        stamped = withOffset(env.frame, offset);
      } catch {
        continue; // not a broadcast of ours
      }
      const target = { rooms: env.rooms, exceptRooms: env.exceptRooms, exceptIds: env.exceptIds, volatile: (env.flags & Flag.VOLATILE) !== 0, local: false };
      out.push(new LogEntry(0, offset, stamped, target, t));
    }
    this.readFromStore += out.length;
    return out;
  }

  keep(token: string, record: SessionRecord, ttl: number): boolean {
    const bytes = encodeRecord(record);
    if (bytes.length > this.settings.maxBytes) return false;
    return this.log.keep(token, bytes, ttl);
  }

  async claim(token: string): Promise<SessionRecord | 'taken' | undefined> {
    // The mark that it was taken outlives any copy another node may still keep.
    const bytes = await within(this.log.take(token, 2 * this.settings.maxDisconnection + this.wait), this.wait, 'claiming a session').catch(() => undefined);
    return bytes === undefined || bytes === 'taken' ? bytes : decodeRecord(bytes);
  }

  release(token: string): Promise<boolean> {
    return within(this.log.release(token), this.wait, 'releasing a session').catch(() => true);
  }
}
