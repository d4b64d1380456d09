import { ErrorCode } from '@stelar/codec-tcp';

/**
 * An error with a stable `code` (docs/protocol.md §6). Thrown by handlers to answer a request
 * with that code; received by requesters whose request failed.
 */
export class StelarError extends Error {
  override name = 'StelarError';
  readonly code: string;
  /** Extra data (never sent over the wire). */
  readonly details: unknown;

  constructor(code: string, message: string, details?: unknown) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

/** Thrown by connection middleware to refuse a session: the client gets UNAUTHORIZED and 4001. */
export class AuthError extends StelarError {
  override name = 'AuthError';
  constructor(message = 'unauthorized') {
    super(ErrorCode.UNAUTHORIZED, message);
  }
}

/** Code and message for the wire, from anything a handler threw. */
export function toErrorBody(err: unknown, fallbackCode: string = ErrorCode.HANDLER_ERROR): { code: string; message: string } {
  if (err instanceof StelarError) return { code: err.code, message: err.message };
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { code: typeof code === 'string' && code.length > 0 ? code : fallbackCode, message: err.message };
  }
  return { code: fallbackCode, message: typeof err === 'string' ? err : 'failed' };
}

/** The message clients get for an error the application did not mean to expose. */
export const INTERNAL_MESSAGE = 'internal server error';

/** Whether the application means a client to see this error: a `StelarError` (or subclass, e.g. `AuthError`). */
export function isExposed(err: unknown): err is StelarError {
  return err instanceof StelarError;
}

/**
 * What a client is told about an error thrown by server code (docs/security.md, "Errors"): a
 * `StelarError` carries its code and message; anything else, including errors with a `code` of
 * their own (`ENOENT` and its path), becomes INTERNAL_ERROR with a generic message, or with its
 * own message when `expose` (the hub's `exposeErrors`, for development) is set.
 */
export function publicErrorBody(err: unknown, expose: boolean): { code: string; message: string } {
  if (isExposed(err)) return { code: err.code, message: err.message };
  if (!expose) return { code: ErrorCode.INTERNAL_ERROR, message: INTERNAL_MESSAGE };
  return { code: ErrorCode.INTERNAL_ERROR, message: err instanceof Error ? err.message : typeof err === 'string' ? err : INTERNAL_MESSAGE };
}
