import { StelarError } from '@stelar/core';
import { Failure } from './broker';
import type { BrokerErrorCodes } from './options';
import { cancelSoon, soon } from './util';

/**
 * Counts the messages this node could not send, by failure, in the hub's error counts too, and
 * reports them to `onError` at most once per event-loop turn and code, with their number.
 */
export class Losses {
  droppedWhileDown = 0;
  droppedBufferFull = 0;
  publishUnconfirmed = 0;
  publishFailures = 0;
  private timer: unknown;
  private closed = false;
  private readonly toReport = new Map<string, { n: number; text: string }>();
  private readonly codes: Record<Failure, string>;
  private readonly texts: Record<Failure, string>;

  constructor(
    codes: BrokerErrorCodes & { ADAPTER_CLOSED: string },
    broker: string,
    private readonly countError: (code: string) => void,
    private readonly onError: ((err: Error) => void) | undefined,
  ) {
    this.codes = {
      [Failure.DOWN]: codes.DOWN,
      [Failure.FULL]: codes.BUFFER_FULL,
      [Failure.UNCONFIRMED]: codes.UNCONFIRMED,
      [Failure.REFUSED]: codes.PUBLISH_FAILED,
      [Failure.CLOSED]: codes.ADAPTER_CLOSED,
    };
    this.texts = {
      [Failure.DOWN]: `not sent: ${broker} unreachable`,
      [Failure.FULL]: 'not sent: pending publish buffer full',
      [Failure.UNCONFIRMED]: `unconfirmed: in flight when the ${broker} connection broke or stalled`,
      [Failure.REFUSED]: `refused by ${broker}`,
      [Failure.CLOSED]: 'not sent: adapter closed',
    };
  }

  /** The error of an operation that failed for this reason. */
  error(failure: Failure, what: string): StelarError {
    return new StelarError(this.codes[failure], `${what} ${this.texts[failure]}`);
  }

  /** A user-level message (broadcast, query, answer, server event) that did not go through. */
  lost(failure: Failure, what: string): void {
    switch (failure) {
      case Failure.DOWN:
        this.droppedWhileDown++;
        break;
      case Failure.FULL:
        this.droppedBufferFull++;
        break;
      case Failure.UNCONFIRMED:
        this.publishUnconfirmed++;
        break;
      case Failure.REFUSED:
        this.publishFailures++;
        break;
      case Failure.CLOSED:
        return;
    }
    const code = this.codes[failure];
    this.countError(code);
    this.report(code, `${what}(s) ${this.texts[failure]}`);
  }

  /** Reports to `onError`, at most once per event-loop turn and code, with the number of messages. */
  report(code: string, text: string, n = 1): void {
    if (!this.onError || this.closed) return;
    const r = this.toReport.get(code);
    if (r) r.n += n;
    else this.toReport.set(code, { n, text });
    this.timer ??= soon(() => {
      this.timer = undefined;
      for (const [c, { n: count, text: t }] of this.toReport) this.onError?.(new StelarError(c, `${count} ${t}`, { count }));
      this.toReport.clear();
    });
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) cancelSoon(this.timer);
    this.timer = undefined;
    this.toReport.clear();
  }
}
