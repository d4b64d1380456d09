/* eslint-disable @typescript-eslint/no-explicit-any */
type Fn = (...args: any[]) => unknown;

interface Entry<H extends Fn> {
  readonly fn: H;
  readonly once: boolean;
}

/** The entries of one event, with their functions ready to call (no allocation per dispatch). */
interface List<H extends Fn> {
  readonly entries: readonly Entry<H>[];
  readonly fns: readonly H[];
  readonly hasOnce: boolean;
}

function list<H extends Fn>(entries: readonly Entry<H>[]): List<H> {
  return { entries, fns: entries.map((e) => e.fn), hasOnce: entries.some((e) => e.once) };
}

/**
 * Handlers by event name: many per event, `once`, `off`, plus catch-all handlers. Lists are
 * copied on write, so handlers may add or remove handlers while an event is dispatched.
 */
export class HandlerRegistry<H extends Fn, A extends Fn = Fn> {
  private readonly byEvent = new Map<string, List<H>>();
  private anyHandlers: readonly A[] = [];

  on(event: string, fn: H, once = false): void {
    const current = this.byEvent.get(event)?.entries ?? [];
    this.byEvent.set(event, list([...current, { fn, once }]));
  }

  /** Removes one handler, or every handler of the event when `fn` is omitted. */
  off(event: string, fn?: H): void {
    if (!fn) {
      this.byEvent.delete(event);
      return;
    }
    const entries = this.byEvent.get(event)?.entries;
    if (!entries) return;
    const i = entries.findIndex((e) => e.fn === fn);
    if (i < 0) return;
    const next = entries.slice(0, i).concat(entries.slice(i + 1));
    if (next.length) this.byEvent.set(event, list(next));
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
    const l = this.byEvent.get(event);
    if (!l) return undefined;
    if (l.hasOnce) {
      const keep = l.entries.filter((e) => !e.once);
      if (keep.length) this.byEvent.set(event, list(keep));
      else this.byEvent.delete(event);
    }
    return l.fns;
  }

  clear(): void {
    this.byEvent.clear();
    this.anyHandlers = [];
  }
}
