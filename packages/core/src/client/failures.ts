import { DisconnectCode, ErrorCode, FRAME_TYPE_NAMES, FrameType } from '@stelar/codec-tcp';
import { StelarError } from '../errors';
import { backoffDelay } from './backoff';
import type { ReconnectOptions } from './options';

/**
 * What the client makes of failed connection attempts: which ones are final, the errors it
 * reports (`connect_error`, `NOT_STELAR`), and the delay before the next attempt.
 */

/** setTimeout's largest delay; above it Node fires at once. */
const MAX_TIMER = 2_147_483_647;

/** Frames a Stelar server may send before its CONNECT (docs/protocol.md §4): anything else means the peer is not one. */
const BEFORE_SESSION: ReadonlySet<number> = new Set([FrameType.CONNECT, FrameType.ERROR, FrameType.DISCONNECT, FrameType.PING, FrameType.PONG]);

/** Whether a frame of this type may come from a Stelar server before its CONNECT. */
export function allowedBeforeSession(type: number): boolean {
  return BEFORE_SESSION.has(type);
}

/** The NOT_STELAR error for a first frame the protocol does not allow there. */
export function unexpectedFirstFrame(type: number): StelarError {
  return notStelar(`its first frame is ${(FRAME_TYPE_NAMES as Readonly<Record<number, string>>)[type] ?? `type ${type}`}, not CONNECT or ERROR`);
}

/**
 * The NOT_STELAR error for a protocol error before the server's first frame: the bytes that
 * arrived do not decode as Stelar frames. A transport that already judged them (code
 * `NOT_STELAR`) keeps its own words.
 */
export function undecodableFirstBytes(err: { code: string; message: string }): StelarError {
  if (err.code === ErrorCode.NOT_STELAR) return new StelarError(ErrorCode.NOT_STELAR, err.message);
  return notStelar(`its first bytes are not a Stelar frame (${err.code}: ${err.message})`);
}

function notStelar(detail: string): StelarError {
  return new StelarError(ErrorCode.NOT_STELAR, `not a Stelar server: ${detail}`);
}

/**
 * Whether a failure before the session stops the client: the server's refusal
 * (`UNAUTHORIZED`, `VERSION_MISMATCH`, or their close codes 4001 and 4002), `NOT_STELAR`, or a
 * dial error marked `fatal` (HTTP 4xx, a certificate, a bad URL). Any other ERROR before the
 * session (e.g. a server failing inside its middleware) is retried.
 */
export function isFinal(err: unknown, closeCode?: number): boolean {
  if (closeCode === DisconnectCode.UNAUTHORIZED || closeCode === DisconnectCode.VERSION_MISMATCH) return true;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === ErrorCode.UNAUTHORIZED || code === ErrorCode.VERSION_MISMATCH || code === ErrorCode.NOT_STELAR) return true;
  return (err as { fatal?: unknown } | null)?.fatal === true;
}

/** Errors as the lifecycle reports them: a dialer's non-Error rejection becomes a StelarError. */
export function asError(err: unknown): Error {
  if (err instanceof Error) return err;
  return new StelarError('DIAL_FAILED', typeof err === 'string' ? err : 'connection attempt failed', err);
}

/**
 * The delay before retry `attempt` (from 1): the user's `delay(attempt, error, backoff)` when
 * given and usable, else `backoff`, the policy's full-jitter delay. `invalid` hears about a delay
 * function that threw or returned something unusable.
 */
export function retryDelay(policy: ReconnectOptions, attempt: number, error: Error, invalid: (err: StelarError) => void): number {
  const backoff = backoffDelay(attempt - 1, policy);
  const own = policy.delay;
  if (!own) return backoff;
  let value: unknown;
  try {
    value = own(attempt, error, backoff);
  } catch (err) {
    invalid(new StelarError('BAD_OPTIONS', `reconnect.delay threw: ${err instanceof Error ? err.message : String(err)}`, err));
    return backoff;
  }
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
    invalid(new StelarError('BAD_OPTIONS', `reconnect.delay returned ${typeof value === 'number' ? String(value) : typeof value}, not a finite number ≥ 0`));
    return backoff;
  }
  return Math.min(Math.floor(value), MAX_TIMER);
}
