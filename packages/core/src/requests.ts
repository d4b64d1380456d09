import { decodeJson, ErrorCode, parseErrorBody } from '@stelar/codec-tcp';
import { StelarError } from './errors';

/**
 * One request awaiting its reply. The tracker owns its timer and abort listener; `id` is 0 while
 * the request is not on the wire (a client queues requests while offline).
 */
export interface PendingRequest {
  readonly event: string;
  id: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Set once it resolved or rejected. */
  settled: boolean;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export interface RequestTrackerHooks<P extends PendingRequest> {
  /** Called with +1 / -1 as requests start and settle (for metrics). */
  onCount?(delta: number): void;
  /** Called when a request times out, before it is rejected. */
  onTimeout?(event: string): void;
  /** The error a request gets when its signal aborts. Default: ABORTED with the reason's message. */
  abortError?(signal: AbortSignal): unknown;
  /** A request that was not on the wire settled (a client removes it from its offline queue). */
  settledOffWire?(p: P): void;
}

/**
 * The requests one side of a session has sent and not yet seen answered: u32 ids unique among
 * them, one timer per request (cleared when it settles), abort signals, and rejection of
 * everything at once when the connection goes. Used by the hub for server → client requests and
 * by the client engine for client → server requests, JOIN and LEAVE.
 */
export class RequestTracker<P extends PendingRequest = PendingRequest> {
  private readonly onWire = new Map<number, P>();
  private nextId = 1;
  private count = 0;

  constructor(private readonly hooks: RequestTrackerHooks<P> = {}) {}

  /** Requests tracked and not settled (on the wire or not). */
  get size(): number {
    return this.count;
  }

  /**
   * Starts tracking `p`: its timeout (none when not a positive finite number) and its abort
   * signal. Returns false, with `p` already rejected, when the signal was aborted before.
   */
  track(p: P, timeoutMs: number | undefined): boolean {
    const signal = p.signal;
    if (signal?.aborted) {
      p.settled = true;
      p.reject(this.abortError(signal));
      return false;
    }
    if (timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      p.timer = setTimeout(() => {
        this.hooks.onTimeout?.(p.event);
        this.settle(p, false, new StelarError(ErrorCode.TIMEOUT, `request "${p.event}" timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    }
    if (signal) {
      p.onAbort = () => this.settle(p, false, this.abortError(signal));
      signal.addEventListener('abort', p.onAbort, { once: true });
    }
    this.count++;
    this.hooks.onCount?.(1);
    return true;
  }

  /** Puts a tracked request on the wire under a fresh id (unique among those on the wire) and returns it. */
  assign(p: P): number {
    let id = this.nextId;
    while (this.onWire.has(id)) id = id >= 0xffff_ffff ? 1 : id + 1;
    this.nextId = id >= 0xffff_ffff ? 1 : id + 1;
    p.id = id;
    this.onWire.set(id, p);
    return id;
  }

  /**
   * Settles the request `id` from an ACK_RES body. Unknown ids (late replies) are ignored; a body
   * that does not decode rejects the request with the decoding error (BAD_JSON, BAD_PAYLOAD).
   * Returns whether a request was waiting for this reply.
   */
  answer(id: number, ok: boolean, body: Uint8Array): boolean {
    const p = this.onWire.get(id);
    if (!p) return false;
    let value: unknown;
    try {
      if (ok) value = decodeJson(body);
      else {
        const e = parseErrorBody(body);
        value = new StelarError(e.code, e.message);
      }
    } catch (err) {
      this.settle(p, false, err);
      return true;
    }
    this.settle(p, ok, value);
    return true;
  }

  /** Rejects the request on the wire under `id` (e.g. it could not be sent). */
  fail(id: number, err: unknown): void {
    const p = this.onWire.get(id);
    if (p) this.settle(p, false, err);
  }

  /** Rejects every request on the wire. */
  failAll(err: unknown): void {
    for (const p of [...this.onWire.values()]) this.settle(p, false, err);
  }

  /** The requests on the wire, in the order they were sent. */
  wire(): IterableIterator<P> {
    return this.onWire.values();
  }

  /** Takes every request off the wire (their ids back to 0), in the order they were sent; they stay tracked. */
  detachAll(): P[] {
    const all = [...this.onWire.values()];
    this.onWire.clear();
    for (const p of all) p.id = 0;
    return all;
  }

  /** Resolves or rejects a request and forgets it: timer cleared, abort listener removed. Idempotent. */
  settle(p: P, ok: boolean, value: unknown): void {
    if (p.settled) return;
    p.settled = true;
    if (p.id !== 0 && this.onWire.get(p.id) === p) this.onWire.delete(p.id);
    else this.hooks.settledOffWire?.(p);
    if (p.timer !== undefined) clearTimeout(p.timer);
    p.timer = undefined;
    if (p.signal && p.onAbort) p.signal.removeEventListener('abort', p.onAbort);
    p.onAbort = undefined;
    this.count--;
    this.hooks.onCount?.(-1);
    if (ok) p.resolve(value);
    else p.reject(value);
  }

  private abortError(signal: AbortSignal): unknown {
    if (this.hooks.abortError) return this.hooks.abortError(signal);
    const reason: unknown = signal.reason;
    return new StelarError(ErrorCode.ABORTED, reason instanceof Error ? reason.message : 'request aborted', reason);
  }
}
