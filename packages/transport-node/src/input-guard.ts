import { positive } from './options';

/** Default of {@link InputGuardOptions.maxUnfinishedBytes}: 64 MiB. */
export const DEFAULT_MAX_UNFINISHED_BYTES = 64 * 1024 * 1024;
/** Default of {@link InputGuardOptions.messageTimeout}: 30 s. */
export const DEFAULT_MESSAGE_TIMEOUT = 30_000;

export interface InputGuardOptions {
  /**
   * Most bytes held, over every connection using this guard, for messages a peer has started
   * and not finished (WebSocket: frames partly read, fragments of a message being assembled, a
   * compressed frame being inflated; TCP: a frame spanning socket reads). A connection whose
   * input would take the total above it is closed with 1013 (TRY_AGAIN_LATER). Memory actually
   * retained is at most about twice this (see the codecs). Default 64 MiB.
   */
  maxUnfinishedBytes?: number;
  /**
   * Most time (ms) a message may take to arrive once its first byte came: past it, the
   * connection is closed with 1008 (POLICY_VIOLATION). Control frames (pings, pongs) do not
   * extend it. The clock stops while the application paused reading. `Infinity` turns it off.
   * Default 30 000.
   */
  messageTimeout?: number;
}

/** One connection's unfinished input, as the guard sees it. */
export class InputEntry {
  /** Bytes counted against the budget. */
  held = 0;
  /** A frame or message has started and not finished. */
  started = false;
  /** When it started (performance.now()), and the connection's completed-message count then. */
  since = 0;
  mark = 0;
  /** In the guard's deadline order. */
  timed = false;
  /** Reading is paused by the application: the deadline does not run. */
  paused = false;

  constructor(readonly onExpire: () => void) {}
}

/**
 * Bounds on input that peers have started and not finished, shared by listeners (pass one to
 * `attachWebSocket` and `listenTcp` as `guard`; by default every listener of the process shares
 * {@link InputGuard.shared}):
 *
 * - a budget for the bytes held in unfinished messages over all their connections
 *   (`maxUnfinishedBytes`, close code 1013 for the connection that would exceed it);
 * - a deadline for a started message to finish (`messageTimeout`, close code 1008).
 *
 * Cost: nothing for a connection whose messages each arrive within one socket read. Otherwise
 * O(1) per read. One interval timer per guard, running (unref'd) only while some connection
 * has an unfinished message; each sweep is O(1 + connections expired), since connections are
 * kept in the order their unfinished message started.
 */
export class InputGuard {
  private static sharedGuard: InputGuard | undefined;

  /** The guard listeners use when given none (created on first use, with the defaults). */
  static get shared(): InputGuard {
    return (InputGuard.sharedGuard ??= new InputGuard());
  }

  readonly maxUnfinishedBytes: number;
  readonly messageTimeout: number;
  private used = 0;
  private readonly timed = new Set<InputEntry>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly interval: number;
  private readonly sweep = (): void => this.expire();

  constructor(options: InputGuardOptions = {}) {
    this.maxUnfinishedBytes = positive('maxUnfinishedBytes', options.maxUnfinishedBytes, DEFAULT_MAX_UNFINISHED_BYTES);
    this.messageTimeout = positive('messageTimeout', options.messageTimeout, DEFAULT_MESSAGE_TIMEOUT);
    // A connection is cut between messageTimeout and messageTimeout + interval after its start.
    this.interval = Math.min(1000, Math.max(10, Math.floor(this.messageTimeout / 4)));
  }

  /** Bytes held in unfinished messages now. */
  get unfinishedBytes(): number {
    return this.used;
  }

  /** Connections with an unfinished message whose deadline is running. */
  get unfinishedMessages(): number {
    return this.timed.size;
  }

  /** Whether the sweep timer runs (for tests: it must stop when nothing is unfinished). */
  get sweeping(): boolean {
    return this.timer !== undefined;
  }

  /** An entry for one connection; `onExpire` fails it (then call {@link release}). */
  track(onExpire: () => void): InputEntry {
    return new InputEntry(onExpire);
  }

  /**
   * Records a connection's state after input: `held` bytes, whether something is `started`, and
   * `mark`, its count of completed messages (a change means the unfinished message is a new one:
   * its deadline restarts). Returns false when this input took the budget over its limit: the
   * caller fails the connection and calls {@link release}.
   */
  update(e: InputEntry, held: number, started: boolean, mark: number): boolean {
    const grew = held > e.held;
    this.used += held - e.held;
    e.held = held;
    if (!started) {
      e.started = false;
      if (e.timed) this.untime(e);
    } else if (!e.started || mark !== e.mark) {
      e.started = true;
      e.mark = mark;
      e.since = performance.now();
      if (!e.paused) this.time(e);
    }
    return !(grew && this.used > this.maxUnfinishedBytes);
  }

  /** Drops a connection's bytes and deadline (it failed, or closed). */
  release(e: InputEntry): void {
    this.used -= e.held;
    e.held = 0;
    e.started = false;
    if (e.timed) this.untime(e);
  }

  /** Reading is paused by the application: stop the deadline (the bytes still count). */
  pause(e: InputEntry): void {
    e.paused = true;
    if (e.timed) this.untime(e);
  }

  /** Reading resumed: an unfinished message gets a fresh deadline. */
  resume(e: InputEntry): void {
    if (!e.paused) return;
    e.paused = false;
    if (e.started) {
      e.since = performance.now();
      this.time(e);
    }
  }

  private time(e: InputEntry): void {
    if (this.messageTimeout === Infinity) return;
    // Re-inserting keeps the set in start order, so a sweep stops at the first live entry.
    if (e.timed) this.timed.delete(e);
    this.timed.add(e);
    e.timed = true;
    if (this.timer === undefined) {
      this.timer = setInterval(this.sweep, this.interval);
      this.timer.unref?.();
    }
  }

  private untime(e: InputEntry): void {
    this.timed.delete(e);
    e.timed = false;
    if (this.timed.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private expire(): void {
    const cutoff = performance.now() - this.messageTimeout;
    for (const e of this.timed) {
      if (e.since > cutoff) break;
      this.untime(e);
      try {
        e.onExpire();
      } catch {
        // A connection's failure must not stop the sweep; the transports report their own errors.
      }
    }
  }
}
