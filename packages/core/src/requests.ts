import { decodeJson, ErrorCode, parseErrorBody } from '@stelar/codec-tcp';
import { StelarError } from './errors';

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  event: string;
}

export interface PendingRequestsHooks {
  /** Called with +1 / -1 as requests start and settle (for metrics). */
  onCount?(delta: number): void;
  /** Called when a request times out. */
  onTimeout?(event: string): void;
}

/**
 * Requests awaiting a reply on one connection: u32 ids, one timer per request (cleared when it
 * settles), abort signals, and rejection of everything at once when the connection goes.
 */
export class PendingRequests {
  private readonly map = new Map<number, Pending>();
  private nextId = 1;

  constructor(private readonly hooks: PendingRequestsHooks = {}) {}

  get size(): number {
    return this.map.size;
  }

  /** Reserves an id and returns it with the promise of the reply. */
  create(event: string, timeoutMs: number | undefined, signal?: AbortSignal): { id: number; promise: Promise<unknown> } {
    if (signal?.aborted) {
      return { id: 0, promise: Promise.reject(abortError(signal)) };
    }
    let id = this.nextId;
    while (this.map.has(id)) id = id >= 0xffff_ffff ? 1 : id + 1;
    this.nextId = id >= 0xffff_ffff ? 1 : id + 1;
    let entry!: Pending;
    const promise = new Promise<unknown>((resolve, reject) => {
      entry = { resolve, reject, timer: undefined, signal, onAbort: undefined, event };
    });
    if (timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      entry.timer = setTimeout(() => {
        this.hooks.onTimeout?.(event);
        this.settle(id, false, new StelarError(ErrorCode.TIMEOUT, `request "${event}" timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    }
    if (signal) {
      entry.onAbort = () => this.settle(id, false, abortError(signal));
      signal.addEventListener('abort', entry.onAbort, { once: true });
    }
    this.map.set(id, entry);
    this.hooks.onCount?.(1);
    return { id, promise };
  }

  /** Settles a request from an ACK_RES body. Unknown ids (late replies) are ignored. */
  answer(id: number, ok: boolean, body: Uint8Array): void {
    if (!this.map.has(id)) return;
    try {
      if (ok) this.settle(id, true, decodeJson(body));
      else {
        const e = parseErrorBody(body);
        this.settle(id, false, new StelarError(e.code, e.message));
      }
    } catch (err) {
      this.settle(id, false, err);
    }
  }

  /** Rejects one request (e.g. it could not be sent). */
  fail(id: number, err: unknown): void {
    this.settle(id, false, err);
  }

  /** Rejects every pending request. */
  failAll(err: unknown): void {
    for (const id of [...this.map.keys()]) this.settle(id, false, err);
  }

  private settle(id: number, ok: boolean, value: unknown): void {
    const p = this.map.get(id);
    if (!p) return;
    this.map.delete(id);
    if (p.timer !== undefined) clearTimeout(p.timer);
    if (p.signal && p.onAbort) p.signal.removeEventListener('abort', p.onAbort);
    this.hooks.onCount?.(-1);
    if (ok) p.resolve(value);
    else p.reject(value);
  }
}

function abortError(signal: AbortSignal): StelarError {
  const reason: unknown = signal.reason;
  return new StelarError(ErrorCode.ABORTED, reason instanceof Error ? reason.message : 'request aborted', reason);
}
