import { now } from './clock';

/** A token bucket: `rate` tokens per second refill a bucket of at most `burst` tokens. */
export interface RateLimitRule {
  /** Tokens added per second (sustained messages per second). */
  rate: number;
  /** Bucket capacity (largest burst). Defaults to `rate`. */
  burst?: number;
}

/** One token bucket, refilled lazily from a monotonic clock (no timers). */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly rate: number;
  private readonly burst: number;
  private readonly clock: () => number;

  constructor(rule: RateLimitRule, clock: () => number = now) {
    this.rate = rule.rate;
    this.burst = rule.burst ?? rule.rate;
    this.tokens = this.burst;
    this.clock = clock;
    this.last = clock();
  }

  /** Takes `cost` tokens if it can; returns whether it did. */
  take(cost = 1): boolean {
    const t = this.clock();
    const elapsed = t - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
      this.last = t;
    }
    if (this.tokens >= cost) {
      this.tokens -= cost;
      return true;
    }
    return false;
  }
}

/** Who is sending what, for a rate limiter. */
export interface RateLimitSubject {
  /** Connection id. */
  readonly id: string;
  readonly remoteAddress: string;
  readonly transport: string;
}

/**
 * The pluggable limiter interface: return (or resolve) `true` to let a message through.
 * Implement it over Redis or anything shared to limit across processes.
 */
export interface RateLimiter {
  consume(subject: RateLimitSubject, event: string, cost: number): boolean | Promise<boolean>;
  /** Called when a connection closes, to free its state. */
  release?(subject: RateLimitSubject): void;
}

/** What to do with a message over the limit. */
export type RateLimitAction = 'drop' | 'disconnect';

export interface RateLimitOptions {
  /** Limit for all events of one connection together. */
  connection?: RateLimitRule;
  /** Limits per event name, per connection. */
  events?: Record<string, RateLimitRule>;
  /** Over the limit: `drop` answers ERROR RATE_LIMITED (default); `disconnect` closes with 4005. */
  onExceeded?: RateLimitAction;
  /** Replaces the built-in token buckets with your own limiter. */
  limiter?: RateLimiter;
}

/** Per-connection buckets, created lazily. Held by each connection (freed with it). */
export class ConnectionBuckets {
  private all: TokenBucket | null | undefined;
  private perEvent: Map<string, TokenBucket> | undefined;

  constructor(
    private connectionRule: RateLimitRule | undefined,
    private readonly eventRules: Record<string, RateLimitRule> | undefined,
  ) {}

  /** Replaces this connection's overall rule (`null` removes the limit). */
  override(rule: RateLimitRule | null): void {
    this.connectionRule = rule ?? undefined;
    this.all = undefined;
  }

  take(event: string, cost: number): boolean {
    if (this.all === undefined) this.all = this.connectionRule ? new TokenBucket(this.connectionRule) : null;
    if (this.all && !this.all.take(cost)) return false;
    // Own keys only: an event named "constructor" or "__proto__" is not a rule.
    const rules = this.eventRules;
    if (!rules || !Object.hasOwn(rules, event)) return true;
    const rule = rules[event];
    if (!rule) return true;
    this.perEvent ??= new Map();
    let b = this.perEvent.get(event);
    if (!b) this.perEvent.set(event, (b = new TokenBucket(rule)));
    return b.take(cost);
  }
}
