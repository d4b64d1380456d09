import { DisconnectCode, encodeClientConnect, ErrorCode, type ClientRecover, type Frame } from '@stelar/codec-tcp';
import { StelarError } from '../errors';
import type { Link, LinkHandler } from '../link';
import { backoffDelay, type BackoffOptions } from './backoff';
import type { ClientLifecycle, ClientOptions, ClientState, Dialer } from './options';

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
}

/**
 * The client's connection state machine: dialing (with `auth` and the connect timeout), the
 * CONNECT it sends, backoff between attempts, refusals that stop it, and `close()`. Each
 * attempt has a generation number, so a late event from an older link is ignored.
 *
 * Connect errors reported to the application (`connect_error`) belong here.
 */
export class Reconnector {
  private readonly backoff: BackoffOptions | false;
  private current: ClientState = 'idle';
  private link: Link | null = null;
  private generation = 0;
  private attempts = 0;
  private everConnected = false;
  private userClosed = false;
  private refusal: StelarError | null = null;
  /** Set when the connect timer fired: the reason the attempt ended. */
  private attemptTimeout: StelarError | null = null;
  private peerClose: { code: number; reason: string } | null = null;
  private connectWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private dialAbort: AbortController | null = null;

  constructor(
    private readonly dialer: Dialer,
    private readonly opts: ClientOptions,
    private readonly host: ReconnectorHost,
  ) {
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
  connect(): Promise<void> {
    if (this.current === 'connected') return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (this.current === 'idle' || this.current === 'disconnected') {
      this.userClosed = false;
      this.refusal = null;
      this.attempts = 0;
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
    const ws = this.connectWaiters;
    this.connectWaiters = [];
    for (const w of ws) w.resolve();
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
    } catch (err) {
      if (gen !== this.generation) return;
      clearTimeout(this.connectTimer);
      this.dialAbort = null;
      const fatal = (err as { fatal?: unknown } | null)?.fatal === true;
      if (fatal || this.userClosed) this.finish(err, { code: 1006, reason: String((err as Error)?.message ?? err) }, false);
      else this.scheduleRetry(err);
    }
  }

  private handlerFor(gen: number): LinkHandler {
    return {
      onFrame: (frame) => {
        if (gen === this.generation) this.host.frame(frame);
      },
      onProtocolError: (err) => {
        if (gen === this.generation) this.link?.close(err.closeCode, err.message);
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

    const refusal = this.refusal ?? (FATAL_CODES.has(code) ? new StelarError(code === DisconnectCode.VERSION_MISMATCH ? ErrorCode.VERSION_MISMATCH : ErrorCode.UNAUTHORIZED, reason || 'refused') : null);
    if (this.userClosed) this.finish(new StelarError(ErrorCode.DISCONNECTED, 'client closed'), { code, reason }, false);
    // A server that failed (1011, e.g. its connection middleware crashed) is retried, even on a first connect.
    else if (refusal && (FATAL_CODES.has(code) || (!this.everConnected && code !== DisconnectCode.INTERNAL_ERROR))) this.finish(refusal, { code, reason }, false);
    else if (!hadSession) {
      // The link opened but no session followed (connect timeout, or the server hung up).
      this.scheduleRetry(this.attemptTimeout ?? refusal ?? new StelarError(ErrorCode.DISCONNECTED, `connection closed before the session opened (${code}${reason ? `: ${reason}` : ''})`));
    } else {
      const err = new StelarError(ErrorCode.DISCONNECTED, `connection closed (${code}${reason ? `: ${reason}` : ''})`);
      this.host.notify('disconnected', { code, reason, willReconnect: this.backoff !== false });
      this.scheduleRetry(err);
    }
  }

  private scheduleRetry(err: unknown): void {
    const b = this.backoff;
    const max = b === false ? 0 : (b.maxAttempts ?? Infinity);
    if (b === false || this.attempts >= max) {
      if (b !== false) this.host.notify('reconnect_failed', { attempts: this.attempts, error: err });
      this.finish(err, null, false);
      return;
    }
    const delay = backoffDelay(this.attempts++, b);
    this.setState('reconnecting');
    this.host.notify('reconnecting', { attempt: this.attempts, delay });
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
    const ws = this.connectWaiters;
    this.connectWaiters = [];
    for (const w of ws) w.reject(err);
    this.host.stopped(err);
  }

  private clearTimers(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    this.retryTimer = this.connectTimer = undefined;
    this.host.stopHeartbeat();
  }
}
