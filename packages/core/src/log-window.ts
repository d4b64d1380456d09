import { compareOffsets, type Offset } from '@stelar/codec-tcp';
import type { LogEntry } from './recovery-log';

/** Bookkeeping counted per log entry besides its frame (the entry object and its place in the log). */
export const ENTRY_OVERHEAD = 96;

/**
 * The entries a recovery log holds: numbered 1, 2, 3… with no gap, in offset order, in an array
 * with a moving head (appending and finding a seq are O(1)), trimmed from the oldest by age and by
 * a byte budget. Core's in-memory log and the cluster's stream log are both this window; they
 * differ in where offsets come from.
 */
export class LogWindow {
  private items: (LogEntry | undefined)[] = [];
  private head = 0;
  private next = 1;
  private dropped = 0;
  private held = 0;

  constructor(
    /** Entries older than this (ms) are trimmed (`maxDisconnection`). */
    private readonly maxAge: number,
  ) {}

  /** Entries held, and their bytes (frames plus bookkeeping). */
  get entries(): number {
    return this.items.length - this.head;
  }

  get bytes(): number {
    return this.held;
  }

  /** The newest seq given (0 before any). */
  get last(): number {
    return this.next - 1;
  }

  /** The newest seq dropped (0 when none): entries after it are all still held. */
  get trimmed(): number {
    return this.dropped;
  }

  /** Appends the entry `make` builds for the next seq; if `make` throws, no seq is used up. */
  add(make: (seq: number) => LogEntry): LogEntry {
    const entry = make(this.next);
    this.next++;
    this.items.push(entry);
    this.held += entry.stamped.length + ENTRY_OVERHEAD;
    return entry;
  }

  /** The held entries after seq `from`, oldest first. */
  *after(from: number): Iterable<LogEntry> {
    const first = this.next - this.entries;
    for (let i = this.head + Math.max(0, from + 1 - first); i < this.items.length; i++) yield this.items[i]!;
  }

  /** The held entry with this seq. */
  entry(seq: number): LogEntry | undefined {
    const first = this.next - this.entries;
    return seq < first || seq >= this.next ? undefined : this.items[this.head + (seq - first)];
  }

  /** The seq of the newest held entry whose offset is at most `offset`, or the newest dropped one if none is held. */
  seqAtOrBefore(offset: Offset): number {
    const i = this.firstAfter(offset);
    return i === this.head ? this.dropped : this.items[i - 1]!.seq;
  }

  /** The held entries whose offset is after `offset`, oldest first. */
  afterOffset(offset: Offset): LogEntry[] {
    return this.items.slice(this.firstAfter(offset)) as LogEntry[];
  }

  /** Drops the oldest entries older than `maxAge` or beyond `budget` bytes; returns the newest dropped. */
  trim(now: number, budget: number): LogEntry | undefined {
    const oldest = now - this.maxAge;
    let last: LogEntry | undefined;
    while (this.head < this.items.length) {
      const e = this.items[this.head]!;
      if (e.at >= oldest && this.held <= budget) break;
      this.items[this.head++] = undefined;
      this.held -= e.stamped.length + ENTRY_OVERHEAD;
      this.dropped = e.seq;
      last = e;
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return last;
  }

  /** Drops every entry (counted as trimmed); the numbering goes on. */
  clear(): void {
    if (this.entries > 0) this.dropped = this.next - 1;
    this.items = [];
    this.head = 0;
    this.held = 0;
  }

  /** Index of the first held entry whose offset is after `offset`. */
  private firstAfter(offset: Offset): number {
    let lo = this.head;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareOffsets(this.items[mid]!.offset, offset) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
