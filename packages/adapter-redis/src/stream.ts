import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { Failure, type BrokerLog, type LogOffset, type Publication } from '@stelar/cluster';
import type { Publisher } from './publisher';
import type { RedisClient } from './redis';

/** Options of the recovery mode (`createRedisAdapter({ recovery })`). */
export interface RedisStreamOptions {
  /** Entries the stream keeps, about (`XADD … MAXLEN ~`). Default 100 000. */
  maxLen?: number;
  /** Largest session record kept in Redis (bytes); a larger session cannot be resumed. Default 64 KiB. */
  maxRecordBytes?: number;
}

export type ResolvedStreamOptions = Readonly<Required<RedisStreamOptions>>;

export function resolveStream(o: RedisStreamOptions | boolean | undefined): ResolvedStreamOptions {
  const r = { maxLen: 100_000, maxRecordBytes: 64 * 1024, ...(typeof o === 'object' ? o : {}) };
  for (const [k, v] of Object.entries(r)) {
    if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw new RangeError(`recovery.${k} must be a positive number`);
  }
  return r;
}

/**
 * A stream id `ms-seq` as core's u64 offset: ms · 2^16 + seq (hi = ms >> 16, lo = (ms & 0xffff) << 16 | seq).
 * A seq of 65 536 or more (more entries in one millisecond) has no offset: zero.
 */
export function offsetOfId(id: string): LogOffset {
  const dash = id.indexOf('-');
  const ms = Number(id.slice(0, dash));
  const seq = Number(id.slice(dash + 1));
  if (!(seq >= 0 && seq < 0x10000 && ms >= 0 && ms < 2 ** 48)) return { hi: 0, lo: 0 };
  return { hi: Math.floor(ms / 0x10000), lo: (((ms % 0x10000) << 16) | seq) >>> 0 };
}

/** The stream id of an offset. */
export function idOfOffset(o: LogOffset): string {
  return `${o.hi * 0x10000 + (o.lo >>> 16)}-${o.lo & 0xffff}`;
}

/** Takes a record and leaves a mark that it was taken (KEYS: record, mark; ARGV: mark's ttl). */
const TAKE = `local v = redis.call('GET', KEYS[1])
if v then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
  return v
end
return redis.call('EXISTS', KEYS[2])`;

/** Keeps a record unless it was taken already (KEYS: record, mark; ARGV: record, ttl). */
const KEEP = `if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

/** 1: the record was there (or expired untaken): the session ends with its keeper. 0: someone took it. */
const RELEASE = `if redis.call('DEL', KEYS[1]) == 1 then return 1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
return 1`;

/**
 * Raises the stream past the last id this node read, if it is behind it (KEYS: stream; ARGV: that
 * id's ms and seq). A Redis restarted without its data starts the stream again at its clock: if
 * that clock is behind the last id read (another host's after a failover, a clock stepped back),
 * new entries would get lower ids, which a reader waiting for later ids never sees. A marker entry
 * (field `z`, no broadcast) at the next id makes every later `XADD *` id higher. Returns the
 * stream's last id before, and 1 if it raised it.
 */
const FLOOR = `local top = '0-0'
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then top = info[i + 1] end
  end
end
local ms, seq = string.match(top, '^(%d+)-(%d+)$')
ms = tonumber(ms)
seq = tonumber(seq)
local fms = tonumber(ARGV[1])
local fseq = tonumber(ARGV[2])
if ms > fms or (ms == fms and seq >= fseq) then return {top, 0} end
redis.call('XADD', KEYS[1], ARGV[1] .. '-' .. (fseq + 1), 'z', '')
return {top, 1}`;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/**
 * Connection-state recovery across nodes on Redis: the cluster's broadcasts in one stream
 * (`{prefix}#log`, XADD … MAXLEN ~ maxLen through the bounded publisher, so an outage keeps them
 * waiting there), read by every node with XREAD BLOCK on a connection of its own, and session
 * records under `{prefix}#rec#<sha-256 of the token>` (SET PX; taken with a script that leaves a
 * mark `{prefix}#took#…` for as long). One hash tag: on a Redis Cluster all of it lives on one shard.
 */
export class RedisStream implements BrokerLog {
  readonly maxRecordBytes: number;
  private closed = false;
  private readonly key: string;
  private lastId = '';
  private counters = { recordsKept: 0, recordsRefused: 0, recordsTaken: 0, recordsMissing: 0, logReadErrors: 0, logRaised: 0, logSkipped: 0, logBadEntries: 0 };
  /** The reader's connection dropped: the stream may have been lost with Redis (see FLOOR). */
  private recheck = false;
  /** Checked since the drop: the first marker read counts what was skipped (see `skipped`). */
  private afterDrop = false;
  private length = 0;
  private lagMs = 0;
  /** A hub turned recovery on (the stream is read): only then is it polled. */
  private following = false;
  /** Ends the current read's wait (its connection closed). */
  private lost: () => void = () => undefined;

  /** The reader's connection closed. */
  readerLost(): void {
    this.lost();
  }

  constructor(
    private readonly prefix: string,
    private readonly o: ResolvedStreamOptions,
    /** The publish connection (commands in order with the publisher's), and the publisher. */
    private readonly cmd: () => RedisClient | undefined,
    private readonly publisher: () => Publisher | undefined,
    /** A connection of its own for XREAD BLOCK. */
    private readonly reader: () => RedisClient,
    private readonly timeout: number,
  ) {
    this.key = `{${prefix}}#log`;
    this.maxRecordBytes = o.maxRecordBytes;
  }

  /** The stream's key (the publisher XADDs a publication on it). */
  get streamKey(): string {
    return this.key;
  }

  /** The XADD of an entry, for the publish link. */
  xadd(c: RedisClient, msg: Buffer): Promise<number> {
    return (c.xadd(this.key, 'MAXLEN', '~', String(this.o.maxLen), '*', 'e', msg) as Promise<unknown>).then(() => 1);
  }

  append(p: Publication): void {
    const pub = this.publisher();
    const q = { ...p, channel: this.key };
    if (pub) pub.send(q);
    else p.done(p, 0, undefined, this.closed ? Failure.CLOSED : Failure.DOWN, undefined);
  }

  private names(token: string): [string, string] {
    const h = this.hash(token);
    return [`{${this.prefix}}#rec#${h}`, `{${this.prefix}}#took#${h}`];
  }

  keep(token: string, record: Uint8Array, ttl: number): boolean {
    if (record.length > this.o.maxRecordBytes) {
      this.counters.recordsRefused++;
      return false;
    }
    const c = this.cmd();
    if (!c) return false;
    this.counters.recordsKept++;
    // Written again while the session is away (a reply made after the link dropped): never over
    // a claim, so a session another node took cannot be taken twice.
    const [rec, mark] = this.names(token);
    c.eval(KEEP, 2, rec, mark, Buffer.from(record.buffer, record.byteOffset, record.byteLength), String(Math.max(1, Math.ceil(ttl)))).catch(() => undefined);
    return true;
  }

  async take(token: string, markTtl: number): Promise<Uint8Array | 'taken' | undefined> {
    const c = this.cmd();
    if (!c) return undefined;
    const [rec, mark] = this.names(token);
    const v = (await c.callBuffer('EVAL', TAKE, 2, rec, mark, String(Math.max(1, Math.ceil(markTtl))))) as Buffer | number;
    if (typeof v === 'number') {
      this.counters.recordsMissing++;
      return v === 1 ? 'taken' : undefined;
    }
    this.counters.recordsTaken++;
    return v;
  }

  hash(token: string): string {
    return createHash('sha256').update(token).digest('base64url');
  }

  async release(token: string): Promise<boolean> {
    const c = this.cmd();
    if (!c) return true;
    const [rec, mark] = this.names(token);
    return Number(await c.eval(RELEASE, 2, rec, mark)) !== 0;
  }

  async range(from: LogOffset, to: LogOffset, limit: number): Promise<[LogOffset, Uint8Array][] | undefined> {
    const c = this.cmd();
    if (!c) return undefined;
    const fromId = idOfOffset(from);
    const toId = idOfOffset(to);
    // Trimmed past `from`: entries after it are gone.
    const info = (await c.call('XINFO', 'STREAM', this.key)) as unknown[];
    const i = info.indexOf('max-deleted-entry-id');
    const deleted = i >= 0 ? String(info[i + 1]) : '0-0';
    if (compareIds(deleted, fromId) > 0) return undefined;
    const rows = (await c.xrangeBuffer(this.key, `(${fromId}`, toId, 'COUNT', limit + 1)) as [Buffer, Buffer[]][];
    if (rows.length > limit) return undefined;
    const last = rows.at(-1);
    // The window's first entry must still be there (the stream was not lost meanwhile).
    if (last === undefined || last[0].toString() !== toId) return undefined;
    // (Markers, field `z`, are no broadcasts.)
    return rows.filter(([, f]) => f[0]?.length === 1 && f[0][0] === 0x65).map(([id, fields]) => [offsetOfId(id.toString()), fields[1] ?? Buffer.alloc(0)]);
  }

  /** Reads from the end of the stream, for ever (see `BrokerLog.follow`). */
  async follow(entry: (offset: LogOffset, msg: Uint8Array) => void): Promise<LogOffset> {
    this.following = true;
    for (;;) {
      if (this.closed) throw new Error('closed');
      try {
        const r = this.reader();
        const last = (await withTimeout(r.xrevrange(this.key, '+', '-', 'COUNT', 1), this.timeout)) as [string, string[]][];
        this.lastId = last[0]?.[0] ?? '0-0';
        break;
      } catch {
        await sleep(50);
      }
    }
    void this.loop(entry);
    return offsetOfId(this.lastId);
  }

  private async loop(entry: (offset: LogOffset, msg: Uint8Array) => void): Promise<void> {
    const block = 1000;
    while (!this.closed) {
      const r = this.reader();
      if (this.recheck && !(await this.raise(r))) {
        await sleep(50);
        continue;
      }
      let res: [Buffer, [Buffer, Buffer[]][]][] | null;
      try {
        // A read in flight when the connection drops is never answered: the drop ends the wait.
        const dropped = new Promise<never>((_, reject) => {
          this.lost = () => reject(new Error('connection lost'));
        });
        res = (await withTimeout(Promise.race([r.xreadBuffer('COUNT', 1000, 'BLOCK', block, 'STREAMS', this.key, this.lastId), dropped]), block + 2_000)) as typeof res;
      } catch {
        if (this.closed) return;
        this.counters.logReadErrors++;
        this.recheck = true;
        // No answer: the connection is replaced (what it had in flight is not resent).
        if (r.status === 'ready') r.disconnect(true);
        await sleep(50);
        continue;
      }
      if (res === null || this.closed) continue;
      let marker: string | undefined;
      for (const [, rows] of res) {
        for (const [id, fields] of rows) {
          const sid = id.toString();
          if (fields[0]?.length === 1 && fields[0][0] === 0x7a) marker ??= this.lastId;
          this.lastId = sid;
          this.lagMs = Math.max(0, Date.now() - Number(sid.slice(0, sid.indexOf('-'))));
          // (A marker that raised the stream, field `z`, is no broadcast.)
          const msg = fields[1];
          if (msg === undefined || fields[0]?.length !== 1 || fields[0][0] !== 0x65) continue;
          try {
            entry(offsetOfId(sid), msg);
          } catch {
            // Not one of ours (a foreign or damaged value): skipped and counted; the reader goes on.
            this.counters.logBadEntries++;
          }
        }
      }
      if (marker !== undefined) await this.skipped(r, marker);
    }
  }

  /**
   * After the reader's connection dropped, before reading on: if Redis came back without the
   * stream (restarted without persistence) and its ids are now behind the last one read here, the
   * stream is raised past it (FLOOR), so what is appended from then on is read at once instead of
   * once Redis's clock has caught up. Entries appended before that with lower ids are not delivered
   * here: counted (`logSkipped`). False if Redis could not be asked (asked again).
   */
  private async raise(r: RedisClient): Promise<boolean> {
    const last = this.lastId;
    const dash = last.indexOf('-');
    try {
      const [, raised] = await withTimeout(r.eval(FLOOR, 1, this.key, last.slice(0, dash), last.slice(dash + 1)) as Promise<[string, number]>, this.timeout);
      this.recheck = false;
      this.afterDrop = true;
      if (Number(raised) === 1) this.counters.logRaised++;
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A marker was read (this node's or another's): the stream had been lost and started again
   * behind the last id read here, so its entries up to that id were appended after the restart
   * and never read here. Counted once per connection drop (markers of other nodes follow).
   */
  private async skipped(r: RedisClient, upTo: string): Promise<void> {
    if (!this.afterDrop) return;
    this.afterDrop = false;
    const lower = (await withTimeout(r.xrange(this.key, '-', upTo, 'COUNT', 10_000), this.timeout).catch(() => [])) as [string, string[]][];
    this.counters.logSkipped += lower.filter(([, f]) => f[0] === 'e').length;
  }

  /**
   * The publish connection is back: before what waited in the buffer goes out (on the same
   * connection, so Redis runs this first), the stream is raised past the last id read here if it
   * is behind it (see FLOOR), so those appends get ids the readers wait for.
   */
  beforeFlush(c: RedisClient): void {
    if (!this.following || this.closed || this.lastId === '0-0') return;
    const dash = this.lastId.indexOf('-');
    (c.eval(FLOOR, 1, this.key, this.lastId.slice(0, dash), this.lastId.slice(dash + 1)) as Promise<[string, number]>).then(
      ([, raised]) => void (Number(raised) === 1 && this.counters.logRaised++),
      () => undefined,
    );
  }

  /** Called every heartbeat: the stream's length (a gauge). */
  poll(): void {
    const c = this.cmd();
    if (!c || this.closed || !this.following) return;
    c.xlen(this.key).then(
      (n) => void (this.length = n),
      () => undefined,
    );
  }

  stats(): Record<string, number> {
    return {
      logLength: this.length,
      // Wall-clock ms between the append of the last entry read and its reading here.
      logLagMs: this.lagMs,
      ...this.counters,
    };
  }

  close(): void {
    this.closed = true;
  }
}

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am !== bm ? am - bm : as - bs;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
