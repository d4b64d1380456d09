/* eslint-disable @typescript-eslint/no-explicit-any */
type Fn = (...args: any[]) => unknown;

interface Entry<H extends Fn> {
  readonly fn: H;
  readonly once: boolean;
}

/**
 * Handlers by event name: many per event, `once`, `off`, plus catch-all handlers. Lists are
 * copied on write, so handlers may add or remove handlers while an event is dispatched.
 */
export class HandlerRegistry<H extends Fn, A extends Fn = Fn> {
  private readonly byEvent = new Map<string, readonly Entry<H>[]>();
  private anyHandlers: readonly A[] = [];

  on(event: string, fn: H, once = false): void {
    const list = this.byEvent.get(event) ?? [];
    this.byEvent.set(event, [...list, { fn, once }]);
  }

  /** Removes one handler, or every handler of the event when `fn` is omitted. */
  off(event: string, fn?: H): void {
    if (!fn) {
      this.byEvent.delete(event);
      return;
    }
    const list = this.byEvent.get(event);
    if (!list) return;
    const i = list.findIndex((e) => e.fn === fn);
    if (i < 0) return;
    const next = list.slice(0, i).concat(list.slice(i + 1));
    if (next.length) this.byEvent.set(event, next);
    else this.byEvent.delete(event);
  }

  onAny(fn: A): void {
    this.anyHandlers = [...this.anyHandlers, fn];
  }

  offAny(fn?: A): void {
    this.anyHandlers = fn ? this.anyHandlers.filter((f) => f !== fn) : [];
  }

  has(event: string): boolean {
    return this.byEvent.has(event);
  }

  get anyCount(): number {
    return this.anyHandlers.length;
  }

  /** Catch-all handlers, called before the event's own handlers. */
  get any(): readonly A[] {
    return this.anyHandlers;
  }

  /** The handlers to call for one dispatch (removing `once` entries). */
  take(event: string): readonly H[] | undefined {
    const list = this.byEvent.get(event);
    if (!list) return undefined;
    if (list.length === 1 && !list[0]!.once) return [list[0]!.fn];
    const fns = list.map((e) => e.fn);
    if (list.some((e) => e.once)) {
      const keep = list.filter((e) => !e.once);
      if (keep.length) this.byEvent.set(event, keep);
      else this.byEvent.delete(event);
    }
    return fns;
  }

  clear(): void {
    this.byEvent.clear();
    this.anyHandlers = [];
  }
}
