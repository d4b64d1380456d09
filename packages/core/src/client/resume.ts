import { isZeroOffset, OFFSET_SIZE, readOffset, ZERO_OFFSET, type ClientRecover, type Offset, type RecoveryAnswer } from '@stelar/codec-tcp';
import { BoundedQueue } from './queue';

/** Connection-state recovery options of a client (`ClientOptions.recovery`). */
export interface ClientRecoveryOptions {
  /** Most recent sent messages kept to send again after a resume. Default 1000. */
  maxMessages?: number;
  /** Most bytes of them. Default 1 MiB. */
  maxBytes?: number;
}

/** A sent frame kept for a resume; `req` when it is a request's (or a JOIN's, a LEAVE's). */
export interface Sent<R> {
  readonly size: number;
  readonly seq: number;
  readonly frame: Uint8Array;
  readonly req: R | undefined;
}

/** What a CONNECT answer meant for the session. */
export interface ResumeOutcome {
  /** The server resumed the session asked for. */
  resumed: boolean;
  /** The id of the session asked for, when it could not be resumed. */
  lost: string | undefined;
}

/** A copy with an array of its own for a small frame (it may be carved from the encoder's shared slab). */
function own(frame: Uint8Array): Uint8Array {
  return frame.byteLength === frame.buffer.byteLength ? frame : frame.slice();
}

/**
 * The client's side of connection-state recovery (docs/protocol.md §8): the token and last
 * offset to present in CONNECT, the offsets stripped from what arrives, and the count and ring of
 * what was sent, to send again what the server did not get. Active only while the server's
 * answer carried `recovery`.
 */
export class ClientResume<R> {
  /** The server offered recovery for the current session. */
  active = false;
  /** The secret to present (null: nothing to resume). */
  token: string | null = null;
  /** The session the token is for. */
  private sessionId: string | undefined = undefined;
  private offset: Offset = ZERO_OFFSET;
  /** Frames counted (JSON, BINARY, ACK_REQ, JOIN, LEAVE) since the session opened. */
  private sent = 0;
  private readonly ring: BoundedQueue<Sent<R>>;

  constructor(options: ClientRecoveryOptions) {
    this.ring = new BoundedQueue<Sent<R>>({ maxMessages: options.maxMessages ?? 1000, maxBytes: options.maxBytes ?? 1024 * 1024, policy: 'drop-oldest' });
  }

  /** The `recover` field of the next CONNECT: opt in, or resume the session of the token. */
  connectField(): ClientRecover {
    return this.token === null ? {} : { token: this.token, offset: this.offset };
  }

  /** A counted frame went out on the link (its copy is kept, bounded). */
  record(frame: Uint8Array, req: R | undefined): void {
    if (!this.active) return;
    const seq = ++this.sent;
    this.ring.push({ size: frame.length, seq, frame: own(frame), req });
  }

  /** A JSON or BINARY payload of an active session: its offset is noted, the rest returned. */
  strip(payload: Uint8Array): Uint8Array {
    if (!this.active) return payload;
    const o = readOffset(payload);
    if (!isZeroOffset(o)) this.offset = o;
    return payload.subarray(OFFSET_SIZE);
  }

  /** The server's CONNECT answer (`answer`: its `recovery` field, if any) for session `id`. */
  answered(answer: RecoveryAnswer | undefined, id: string): ResumeOutcome {
    const tried = this.token !== null ? this.sessionId : undefined;
    const resumed = tried !== undefined && answer !== undefined && answer.recovered && id === tried;
    this.active = answer !== undefined;
    this.token = answer?.token ?? null;
    if (!resumed) {
      this.sessionId = id;
      this.offset = ZERO_OFFSET;
      this.sent = 0;
      this.ring.clear();
    }
    return { resumed, lost: resumed ? undefined : tried };
  }

  /**
   * After a resume: the kept frames the server did not get (those after its count `rx`), in
   * order, and how many it did not get that are no longer kept. The count restarts at `rx`
   * (the frames sent again are counted again).
   */
  takeResend(rx: number): { frames: Sent<R>[]; lost: number } {
    const missing = Math.max(0, this.sent - rx);
    const frames = this.ring.clear().filter((s) => s.seq > rx);
    this.sent = rx;
    return { frames, lost: missing - frames.length };
  }

  /** Forgets the session (the client closed for good). */
  reset(): void {
    this.active = false;
    this.token = null;
    this.sessionId = undefined;
    this.offset = ZERO_OFFSET;
    this.sent = 0;
    this.ring.clear();
  }
}
