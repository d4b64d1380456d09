import { encodeAckError, encodeAckResult, ErrorCode } from '@stelar/codec-tcp';

/**
 * The ACK_RES answering request `id`: the handler's result, or its error body. A result JSON
 * cannot encode (a BigInt, a cycle) becomes a HANDLER_ERROR reply; `onBadResult` learns why.
 * Shared by the hub and the client engine, which both answer requests.
 */
export function encodeReply(
  id: number,
  event: string,
  outcome: { ok: true; value: unknown } | { ok: false; error: { code: string; message: string } },
  onBadResult?: (err: unknown) => void,
): Uint8Array {
  if (!outcome.ok) return encodeAckError(id, event, outcome.error.code, outcome.error.message);
  try {
    return encodeAckResult(id, event, outcome.value);
  } catch (err) {
    onBadResult?.(err);
    return encodeAckError(id, event, ErrorCode.HANDLER_ERROR, 'reply is not JSON-serialisable');
  }
}
