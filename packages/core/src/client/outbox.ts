import { ErrorCode } from '@stelar/codec-tcp';
import { StelarError } from '../errors';
import { BoundedQueue, type OfflineQueueOptions } from './queue';

/** What waits to be sent: a frame, or a request (encoded once it has an id). */
export type Queued<R> = { readonly size: number; readonly frame: Uint8Array; readonly req?: undefined } | { readonly size: number; readonly req: R; readonly frame?: undefined };

/**
 * The client's offline queue (`ClientOptions.queue`): what is sent while no session is open,
 * bounded, with its policy; a request it evicts or refuses fails with QUEUE_FULL.
 */
export class Outbox<R extends { readonly size: number }> {
  private readonly q: BoundedQueue<Queued<R>> | null;

  constructor(
    options: OfflineQueueOptions | false | undefined,
    private readonly fail: (req: R, err: StelarError) => void,
  ) {
    this.q = options === false ? null : new BoundedQueue<Queued<R>>(options ?? {});
  }

  get length(): number {
    return this.q?.length ?? 0;
  }

  /**
   * Queues an item; returns false when it was not queued (no queue, or full).
   * @throws StelarError QUEUE_FULL with the `error` policy
   */
  push(item: Queued<R>): boolean {
    if (!this.q) return false;
    const r = this.q.push(item);
    if (r === false) {
      if (this.q.policy === 'error') throw new StelarError(ErrorCode.QUEUE_FULL, 'offline queue is full');
      return false;
    }
    this.failEvicted(r);
    return true;
  }

  /** Puts requests back at the front (in order), before what was queued; false without a queue. */
  putFirst(reqs: readonly R[]): boolean {
    if (!this.q) return false;
    const rest = this.q.clear();
    for (const req of reqs) this.requeue({ size: req.size, req });
    for (const item of rest) this.requeue(item);
    return true;
  }

  /** Forgets a request (it settled while queued). */
  remove(req: R): void {
    this.q?.remove((x) => x.req === req);
  }

  /** The next item to send, oldest first. */
  shift(): Queued<R> | undefined {
    return this.q?.shift();
  }

  clear(): Queued<R>[] {
    return this.q?.clear() ?? [];
  }

  private requeue(item: Queued<R>): void {
    const r = this.q!.push(item);
    this.failEvicted(r === false ? [item] : r);
  }

  private failEvicted(items: readonly Queued<R>[]): void {
    for (const ev of items) if (ev.req) this.fail(ev.req, new StelarError(ErrorCode.QUEUE_FULL, 'dropped from the full offline queue'));
  }
}
