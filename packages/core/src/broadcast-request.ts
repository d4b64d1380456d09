import { encodeAckRequestPayload, encodeEventName, ErrorCode } from '@stelar/codec-tcp';
import type { BroadcastAnswer, BroadcastRequest } from './adapter';
import type { AnyConnection } from './connection';
import { sessionOf } from './connection-access';
import { StelarError, toErrorBody } from './errors';
import { SendStatus } from './link';
import type { PendingRequest, RequestTracker } from './requests';

/** The hub's default `requestTimeout`, for an adapter attached to no hub that says otherwise. */
export const DEFAULT_REQUEST_TIMEOUT = 10_000;
/** The longest delay setTimeout honours (2^31 - 1 ms). */
const MAX_TIMER = 0x7fff_ffff;

/**
 * Sends one request to each connection and resolves with their answers, in the order of `conns`,
 * once every one has answered or failed, or when `timeoutMs` passes (the rest then fail with
 * TIMEOUT). The data is encoded once (`request.payload`); each recipient gets its own frame, as
 * request ids differ. One timer for the whole request, however many recipients: the requests
 * are tracked by each connection (so a close fails them with DISCONNECTED and the hub's pending
 * and timeout counters see them) but carry no timer of their own.
 */
export function requestMany(conns: readonly AnyConnection[], request: BroadcastRequest, timeoutMs: number, compress: boolean | undefined): Promise<BroadcastAnswer[]> {
  const { event, payload } = request;
  try {
    encodeEventName(event);
  } catch (err) {
    return Promise.reject(err);
  }
  if (conns.length === 0) return Promise.resolve([]);
  return new Promise((resolve) => {
    const answers = new Array<BroadcastAnswer | undefined>(conns.length);
    const waiting: [RequestTracker, PendingRequest, AnyConnection][] = [];
    let left = conns.length;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answer = (i: number, a: BroadcastAnswer): void => {
      if (answers[i] !== undefined) return;
      answers[i] = a;
      if (--left > 0) return;
      if (timer !== undefined) clearTimeout(timer);
      resolve(answers as BroadcastAnswer[]);
    };
    for (let i = 0; i < conns.length; i++) {
      const conn = conns[i]!;
      const id = conn.id;
      const s = sessionOf(conn);
      if (s.state !== 'open') {
        answer(i, { id, ok: false, error: { code: ErrorCode.DISCONNECTED, message: 'connection is not open' } });
        continue;
      }
      const tracker = s.tracker();
      const p: PendingRequest = {
        event,
        id: 0,
        timer: undefined,
        signal: undefined,
        onAbort: undefined,
        settled: false,
        resolve: (value) => answer(i, { id, ok: true, value }),
        reject: (err) => answer(i, { id, ok: false, error: toErrorBody(err) }),
      };
      tracker.track(p, undefined);
      let status: SendStatus;
      try {
        status = conn.sendEncoded(encodeAckRequestPayload(tracker.assign(p), event, payload), false, compress);
      } catch (err) {
        tracker.settle(p, false, err);
        continue;
      }
      if (status === SendStatus.CLOSED) tracker.settle(p, false, new StelarError(ErrorCode.DISCONNECTED, 'connection closed'));
      else if (!p.settled) waiting.push([tracker, p, conn]);
    }
    // A limit setTimeout cannot hold (Infinity, over ~24.8 days) means none: wait for every answer or close.
    if (left === 0 || !(timeoutMs > 0 && timeoutMs <= MAX_TIMER)) return;
    timer = setTimeout(() => {
      timer = undefined;
      for (const [tracker, p, conn] of waiting) {
        if (p.settled) continue;
        sessionOf(conn).host.requestTimedOut();
        tracker.settle(p, false, new StelarError(ErrorCode.TIMEOUT, `request "${event}" timed out after ${timeoutMs} ms`));
      }
    }, timeoutMs);
  });
}
