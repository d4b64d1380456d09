import { DisconnectCode, encodeClientConnect, ErrorCode, type ClientRecover, type Frame } from '@stelar/codec-tcp';
import { StelarError } from '../errors';
import type { Link, LinkHandler } from '../link';
import { ConnectWaiters } from './connect-wait';
import { allowedBeforeSession, asError, isFinal, retryDelay, undecodableFirstBytes, unexpectedFirstFrame } from './failures';
import type { ClientLifecycle, ClientOptions, ClientState, ConnectOptions, Dialer, ReconnectOptions } from './options';

/** Close codes after which the client does not reconnect. */
const FATAL_CODES: ReadonlySet<number> = new Set([DisconnectCode.UNAUTHORIZED, DisconnectCode.VERSION_MISMATCH]);

/** What the reconnector hands on: the links it opens, their frames, and their end. */
export interface ReconnectorHost {
  /** A link is up and CONNECT is about to be sent. */
  linkUp(link: Link): void;
  /** The `recover` field of that CONNECT (connection-state recovery), if any. */
  recover?(): ClientRecover | undefined;
  frame(frame: Frame): void;
  pong(): void;
  /** The link is gone; returns whether a session was open on it. */
  linkDown(code: number, reason: string): boolean;
  /** The client stopped for good (closed, refused, or out of attempts). */
  stopped(err: unknown): void;
  stopHeartbeat(): void;
  notify<K extends keyof ClientLifecycle>(name: K, ...args: Parameters<ClientLifecycle[K]>): void;
  /** A connection attempt failed, or an open session was lost (for the client's `lastError`). */
  failed(err: Error): void;
}

/**
 * The client's connection state machine: dialing (with `auth` and the connect timeout), the
 * CONNECT it sends, backoff between attempts, refusals that stop it, and `close()`. Each
 * attempt has a generation number, so a late event from an older link is ignored.
 *
 * Every failed attempt is reported (`connect_error`) before the next one is scheduled.
 */
export class Reconnector {
  private readonly backoff: ReconnectOptions | false;
  /** The dialer of the next attempt (the Node client's `setUrl` replaces it). */
  dialer: Dialer;
  private current: ClientState = 'idle';
  private link: Link | null = null;
  private generation = 0;
  private attempts = 0;
  private everConnected = false;
  private userClosed = false;
  private refusal: StelarError | null = null;
  /** A final failure of this attempt found on its link (NOT_STELAR). */
  private attemptFailure: StelarError | null = null;
  /** The error of the last failed attempt (quoted by a `connect()` that times out). */
  private lastAttemptError: Error | null = null;
  /** Set when the connect timer fired: the reason the attempt ended. */
  private attemptTimeout: StelarError | null = null;
  private peerClose: { code: number; reason: string } | null = null;
  private readonly waiters = new ConnectWaiters(() => this.lastAttemptError);
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private dialAbort: AbortController | null = null;

  constructor(
    dialer: Dialer,
    private readonly opts: ClientOptions,
    private readonly host: ReconnectorHost,
  ) {
    this.dialer = dialer;
    this.backoff = opts.reconnect === false ? false : opts.reconnect === true || opts.reconnect === undefined ? {} : opts.reconnect;
  }

  get state(): ClientState {
    return this.current;
  }

  /** `close()` was called (until the next `connect()`). */
  get closedForGood(): boolean {
    return this.userClosed;
  }

  /** See `ClientEngine.connect`. */
  connect(options?: ConnectOptions): Promise<void> {
    if (this.current === 'connected') return Promise.resolve();
    if (options?.signal?.aborted) return this.waiters.add(options); // rejected at once, nothing started
    const p = this.waiters.add(options);
    if (this.current === 'idle' || this.current === 'disconnected') {
      this.userClosed = false;
      this.refusal = null;
      this.attempts = 0;
      this.lastAttemptError = null;
      void this.attempt();
    }
    return p;
  }

  close(code: number, reason: string): void {
    this.userClosed = true;
    this.clearTimers();
    this.dialAbort?.abort(new StelarError(ErrorCode.DISCONNECTED, 'client closed'));
    this.dialAbort = null;
    const link = this.link;
    if (link) {
      link.close(code, reason);
      return; // the link's onClose finishes the job
    }
    this.finish(new StelarError(ErrorCode.DISCONNECTED, 'client closed'), { code, reason }, false);
  }

  /** The server refused the session (its ERROR before CONNECT). */
  refused(err: StelarError): void {
    this.refusal = err;
  }

  /** The peer of this attempt is not a Stelar server: the attempt fails for good. */
  notStelar(err: StelarError): void {
    this.attemptFailure = err;
    this.link?.terminate();
  }

  /** The server's DISCONNECT: its code stands in for a socket that ends without one. */
  peerClosing(info: { code: number; reason: string } | null): void {
    this.peerClose = info;
  }

  /** The server accepted the session. */
  established(): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.dialAbort = null;
    this.attempts = 0;
    this.everConnected = true;
    this.setState('connected');
  }

  /** Resolves `connect()` callers (after the `connected` notification). */
  resolveWaiters(): void {
    this.waiters.resolveAll();
  }

  private setState(s: ClientState): void {
    if (this.current === s) return;
    this.current = s;
    this.host.notify('state', s);
  }

  private async attempt(): Promise<void> {
    const gen = ++this.generation;
    this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    this.refusal = null;
    this.attemptFailure = null;
    this.peerClose = null;
    this.attemptTimeout = null;
    const ac = new AbortController();
    this.dialAbort = ac;
    const timeout = this.opts.connectTimeout ?? 10_000;
    this.connectTimer = setTimeout(() => {
      const err = new StelarError(ErrorCode.TIMEOUT, `connection not established within ${timeout} ms`);
      this.attemptTimeout = err;
      ac.abort(err);
      if (this.link && gen === this.generation) this.link.terminate();
    }, timeout);
    let link: Link;
    try {
      const auth = typeof this.opts.auth === 'function' ? await (this.opts.auth as () => unknown)() : this.opts.auth;
      if (ac.signal.aborted) throw ac.signal.reason;
      link = await this.dialer(this.handlerFor(gen), ac.signal);
      if (gen !== this.generation || this.userClosed) {
        link.terminate();
        return;
      }
      this.link = link;
      this.host.linkUp(link);
      link.send(encodeClientConnect(auth, this.host.recover?.()), false);
    } catch (thrown) {
      if (gen !== this.generation) return;
      clearTimeout(this.connectTimer);
      this.dialAbort = null;
      const err = asError(thrown);
      if (this.userClosed) this.finish(err, { code: 1006, reason: err.message }, false);
      else if (isFinal(err)) {
        this.attemptFailed(err, false);
        if (!this.userClosed) this.finish(err, { code: 1006, reason: err.message }, false);
      } else this.scheduleRetry(err, true);
    }
  }

  private handlerFor(gen: number): LinkHandler {
    return {
      onFrame: (frame) => {
        if (gen !== this.generation) return;
        // Before its CONNECT a Stelar server sends only CONNECT, ERROR, DISCONNECT, PING, PONG.
        if (this.current !== 'connected' && !allowedBeforeSession(frame.type)) this.notStelar(unexpectedFirstFrame(frame.type));
        else this.host.frame(frame);
      },
      onProtocolError: (err) => {
        if (gen !== this.generation) return;
        // Bytes that do not decode before the session: whatever answered is not a Stelar server.
        if (this.current !== 'connected' && !this.refusal) this.notStelar(undecodableFirstBytes(err));
        else this.link?.close(err.closeCode, err.message);
      },
      onPong: () => {
        if (gen === this.generation) this.host.pong();
      },
      onDrain: () => undefined,
      onClose: (code, reason) => {
        if (gen === this.generation) this.linkLost(code, reason);
      },
    };
  }

  private linkLost(code: number, reason: string): void {
    const peer = this.peerClose;
    if (peer && (code === 1005 || code === 1006)) {
      code = peer.code;
      reason = peer.reason;
    }
    this.link = null;
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.generation++;
    const hadSession = this.host.linkDown(code, reason);
    const byCode = FATAL_CODES.has(code) ? new StelarError(code === DisconnectCode.VERSION_MISMATCH ? ErrorCode.VERSION_MISMATCH : ErrorCode.UNAUTHORIZED, reason || 'refused') : null;

    if (this.userClosed) this.finish(new StelarError(ErrorCode.DISCONNECTED, 'client closed'), { code, reason }, false);
    else if (!hadSession) {
      // The link opened but no session followed: a refusal, not a Stelar server, the connect
      // timeout, a resume the server could not complete (1013), or the server hung up. A server
      // that failed (ERROR INTERNAL_ERROR, close 1011: e.g. its connection middleware crashed)
      // is retried, even on a first connect: isFinal takes only real refusals.
      const err = this.attemptFailure ?? this.refusal ?? byCode ?? this.attemptTimeout ?? new StelarError(ErrorCode.DISCONNECTED, `connection closed before the session opened (${code}${reason ? `: ${reason}` : ''})`);
      if (isFinal(err, code)) {
        this.attemptFailed(err, false);
        if (!this.userClosed) this.finish(err, { code, reason: reason || err.message }, false);
      } else this.scheduleRetry(err, true);
    } else if (byCode) {
      this.host.failed(byCode);
      this.finish(byCode, { code, reason }, false);
    } else {
      const err = new StelarError(ErrorCode.DISCONNECTED, `connection closed (${code}${reason ? `: ${reason}` : ''})`);
      this.host.failed(err);
      this.host.notify('disconnected', { code, reason, willReconnect: this.backoff !== false });
      this.scheduleRetry(err, false);
    }
  }

  /** Reports a failed attempt (`connect_error`); `attempt` is 0 for the first try, then the retry's number. */
  private attemptFailed(err: Error, willRetry: boolean): void {
    this.lastAttemptError = err;
    this.host.failed(err);
    this.host.notify('connect_error', err, { attempt: this.attempts, willRetry });
  }

  /** Retries per the policy, or stops when it allows no more; `report`: the failure was an attempt's. */
  private scheduleRetry(err: Error, report: boolean): void {
    const b = this.backoff;
    const max = b === false ? 0 : (b.maxAttempts ?? Infinity);
    const willRetry = b !== false && this.attempts < max;
    if (report) this.attemptFailed(err, willRetry);
    if (this.userClosed) return; // a connect_error listener called close()
    if (!willRetry) {
      if (b !== false) this.host.notify('reconnect_failed', { attempts: this.attempts, error: err });
      this.finish(err, null, false);
      return;
    }
    const attempt = ++this.attempts;
    const delay = retryDelay(b, attempt, err, (bad) => this.host.notify('error', bad));
    if (this.userClosed) return; // so did the delay function
    this.setState('reconnecting');
    this.host.notify('reconnecting', { attempt, delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.attempt();
    }, delay);
  }

  /** Final stop: state `disconnected`, waiters rejected, what waits in the session dropped. */
  private finish(err: unknown, closeInfo: { code: number; reason: string } | null, willReconnect: boolean): void {
    this.clearTimers();
    const wasConnectedOrTrying = this.current !== 'disconnected' && this.current !== 'idle';
    this.setState('disconnected');
    if (closeInfo && wasConnectedOrTrying) this.host.notify('disconnected', { ...closeInfo, willReconnect });
    this.waiters.rejectAll(err);
    this.host.stopped(err);
  }

  private clearTimers(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    this.retryTimer = this.connectTimer = undefined;
    this.host.stopHeartbeat();
  }
}
