/** Reconnection policy: exponential backoff with full jitter. */
export interface BackoffOptions {
  /** First delay ceiling (ms). Default 500. */
  baseDelay?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Ceiling of any delay (ms); jitter never exceeds it. Default 10 000. */
  maxDelay?: number;
  /** Attempts before giving up (`reconnect_failed`). Default Infinity. */
  maxAttempts?: number;
}

/**
 * Delay before reconnection attempt `attempt` (0-based): uniformly random in
 * [0, min(maxDelay, baseDelay · factor^attempt)] ("full jitter", so a crowd of clients that lost
 * the same server spreads out instead of returning in waves).
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const { baseDelay = 500, factor = 2, maxDelay = 10_000 } = options;
  const ceiling = Math.min(maxDelay, baseDelay * Math.pow(factor, Math.min(attempt, 64)));
  return Math.floor(random() * ceiling);
}
