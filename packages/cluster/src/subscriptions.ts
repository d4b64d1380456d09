import { StelarError } from '@stelar/core';
import type { Broker } from './broker';
import type { Channels } from './channels';
import { asError, within } from './util';

/** What the subscriptions need of the node. */
export interface SubscriptionContext {
  readonly broker: Broker;
  /** The code of a refused subscription. */
  readonly code: string;
  /** How long a command may take. */
  readonly timeout: number;
  channels(): Channels;
  /** Rooms with local members (each has its channel on a sharded broker). */
  rooms(): Iterable<string>;
  closed(): boolean;
  countError(code: string): void;
  onError: ((err: Error) => void) | undefined;
  /** Every channel this node needs is subscribed (`first`: for the first time). */
  subscribed(first: boolean): void;
  /** The first subscriptions failed: `error` says why. */
  failed(): void;
}

/**
 * What this node subscribes to: the control channels and the global one, and on a sharded broker
 * the channel of each room with local members. Every command is tracked (for `sync()`), and a
 * failure is counted and reported.
 */
export class Subscriptions {
  /** Subscriptions refused by the broker or not completed in time. */
  failures = 0;
  /** The control channels were subscribed once. */
  done = false;
  /** Why the first subscriptions failed. */
  error: StelarError | undefined;
  /** Commands not answered yet. */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly ctx: SubscriptionContext) {}

  /** Runs a command, tracked for `sync()`; a failure is counted and reported, and rejects. */
  private run(what: string, command: () => Promise<void>): Promise<void> {
    const ctx = this.ctx;
    if (!ctx.broker.subscriberUp || ctx.closed()) return Promise.resolve();
    const p = within(command(), ctx.timeout, what).then(
      () => undefined,
      (err: unknown) => {
        if (ctx.closed()) return;
        this.failures++;
        ctx.countError(ctx.code);
        ctx.onError?.(new StelarError(ctx.code, `${what} failed: ${asError(err).message}`));
        throw err;
      },
    );
    this.pending.add(p);
    const forget = (): void => void this.pending.delete(p);
    p.then(forget, forget);
    return p;
  }

  subscribe(channels: string[]): Promise<void> {
    return this.run(`subscribe ${channels.join(' ')}`, () => this.ctx.broker.subscribe(channels));
  }

  unsubscribe(channel: string): Promise<void> {
    return this.run(`unsubscribe ${channel}`, () => this.ctx.broker.unsubscribe([channel]));
  }

  /** The subscriber is (again) up: subscribe what this node needs now. */
  restore(): void {
    const { ctx } = this;
    const first = !this.done;
    if (!first && ctx.broker.keepsSubscriptions) return;
    const ch = ctx.channels();
    const control = [ch.global, ch.req, ch.res];
    const all = [this.subscribe(control)];
    if (ctx.broker.sharded) for (const room of ctx.rooms()) all.push(this.subscribe([ch.room(room)]));
    Promise.all(all).then(
      () => {
        this.done = true;
        ctx.subscribed(first);
      },
      (err: unknown) => {
        if (!first || this.done) return;
        this.error = new StelarError(ctx.code, `subscribing to ${control.join(', ')} failed: ${asError(err).message}`);
        ctx.failed();
      },
    );
  }

  /** Resolves once every command asked so far has been answered (or failed). */
  async sync(): Promise<void> {
    if (this.pending.size === 0) return;
    await Promise.allSettled([...this.pending]);
  }
}
