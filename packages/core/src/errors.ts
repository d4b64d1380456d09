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
