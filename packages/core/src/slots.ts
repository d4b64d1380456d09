import type { Metrics } from './metrics';
import type { ServerSession } from './session';

/**
 * The process-wide cap on request handlers (`maxHandlersInFlight`): a request over it waits for a
 * handler to finish, first come first served. One waiting request per connection at most (its
 * next frames queue behind it while its reads pause), so the line is bounded by connections.
 */
export class HandlerSlots {
  /** Sessions whose next request waits for a slot, in arrival order. */
  private readonly line = new Map<ServerSession, (granted: boolean) => void>();
  /** Slots handed to waiting sessions whose request has not been dispatched yet. */
  private granted = 0;

  constructor(
    private readonly metrics: Metrics,
    private readonly cap: number,
  ) {}

  /**
   * Whether a request must wait. One that was granted a slot goes ahead if a handler slot is
   * still free; a new one also waits behind those already in line.
   */
  mustWait(wasGranted: boolean): boolean {
    const inFlight = this.metrics.inFlightHandlers;
    return wasGranted ? inFlight >= this.cap : this.line.size > 0 || inFlight + this.granted >= this.cap;
  }

  /** Resolves `true` when a slot is granted, `false` if the session went first (or the hub was disposed). */
  wait(s: ServerSession): Promise<boolean> {
    return new Promise<boolean>((resolve) => this.line.set(s, resolve));
  }

  /** A granted slot was taken up (or given back unused): stop reserving it. */
  taken(): void {
    this.granted--;
  }

  /** Hands free slots to waiting sessions, in arrival order. */
  grant(): void {
    if (this.line.size === 0) return;
    for (const [s, resolve] of this.line) {
      if (this.metrics.inFlightHandlers + this.granted >= this.cap) return;
      this.line.delete(s);
      this.granted++;
      resolve(true);
    }
  }

  /** A session closed: it leaves the line. */
  leave(s: ServerSession): void {
    const resolve = this.line.get(s);
    if (!resolve) return;
    this.line.delete(s);
    resolve(false);
  }

  /** Everyone leaves the line (dispose). */
  clear(): void {
    for (const resolve of this.line.values()) resolve(false);
    this.line.clear();
  }
}
