import { DisconnectCode, encodeAckError, encodeAckRequest, encodeBinary, encodeJson, encodePong, ErrorCode, FrameType } from '@stelar/codec-tcp';
import { parseAckRequest, parseAckResponse, parseDisconnect, parseErrorBody, parseRecoveryAnswer, parseServerHello } from '@stelar/codec-tcp';
import type { ClientRecover, Frame, ServerHello } from '@stelar/codec-tcp';
import { dispatchEvent, eventData, noHandlerError, type DispatchHost } from '../dispatch';
import { StelarError, toErrorBody } from '../errors';
import { SendStatus, type Link } from '../link';
import type { HandlerRegistry } from '../registry';
import { encodeReply } from '../replies';
import { RequestTracker, type PendingRequest } from '../requests';
import { asBytes, isBinary, type SendOptions } from '../types';
import type { ClientOptions, ClientRequestOptions } from './options';
import { Heartbeat } from './heartbeat';
import { Outbox } from './outbox';
import { ClientResume, type ResumeOutcome } from './resume';
import { ClientRooms } from './rooms';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Fn = (...args: any[]) => unknown;

interface OutRequest extends PendingRequest {
  readonly retry: boolean;
  /** Asked again with the same id after a resume if still unanswered (`retry`, JOIN, LEAVE: answered once). */
  readonly reask: boolean;
  /** Requests, JOIN and LEAVE each encode their own frame. */
  readonly encode: (id: number) => Uint8Array;
  size: number;
  /** A link took one of its frames (counted in `messagesSent`, once). */
  counted: boolean;
}

/** What the session tells the engine about (frames that concern the connection, not the session). */
export interface ClientSessionHost {
  /** The server accepted the session (its CONNECT). */
  opened(hello: ServerHello): void;
  /** An ERROR before the session opened: the server's reason for refusing it. */
  refused(err: StelarError): void;
  /** The server's DISCONNECT (its close code, when the socket ends without one). */
  peerClosing(info: { code: number; reason: string } | null): void;
  /** For the `error` lifecycle notification. */
  error(err: StelarError, event?: string): void;
  /** `close()` was called: nothing is queued any more. */
  readonly closedForGood: boolean;
}

/**
 * The client's side of a session, across reconnections: requests (through the tracker shared
 * with the hub), the offline queue, rooms and their re-join, heartbeats, and the frames of an
 * established link. The reconnector brings links; this keeps what outlives them.
 *
 * With connection-state recovery (`resume`), a lost link keeps requests and rooms as they are
 * until the server's next answer says whether the session came back.
 */
export class ClientSession implements DispatchHost<number> {
  readonly catchAllEvent = true;
  private link: Link | null = null;
  private hello: ServerHello | null = null;
  /** The last server's frame limit, kept across reconnections to check queued frames. */
  private maxFrame = 0;
  private readonly requests: RequestTracker<OutRequest>;
  private readonly queue: Outbox<OutRequest>;
  private readonly roomList: ClientRooms;
  private readonly heartbeat: Heartbeat;
  private readonly resume: ClientResume<OutRequest> | null;
  /** Counts sessions (not links): a server request is answered only in the session it came in. */
  private epoch = 0;
  /** Why the last link went (for requests failed when a resume does not happen). */
  private lost = { code: 1006, reason: '' };
  /** Events, requests, replies, joins and leaves a link took, each once (see `send`). */
  messagesSent = 0;
  /** Events and requests from the server, and replies to a request still waiting (not late or repeated ones). */
  messagesReceived = 0;

  constructor(
    private readonly handlers: HandlerRegistry<Fn, Fn>,
    private readonly opts: ClientOptions,
    private readonly host: ClientSessionHost,
  ) {
    this.queue = new Outbox<OutRequest>(opts.queue, (req, err) => this.requests.settle(req, false, err));
    this.heartbeat = new Heartbeat(opts.heartbeat);
    const session = this;
    this.roomList = new ClientRooms({
      get live() {
        return session.live;
      },
      get resumable() {
        return session.resume?.token != null;
      },
      request: (room, encode) => this.track(room, {}, encode, true),
      error: (err, event) => host.error(err, event),
    });
    this.resume = opts.recovery === false ? null : new ClientResume<OutRequest>(opts.recovery === true || opts.recovery === undefined ? {} : opts.recovery);
    this.requests = new RequestTracker<OutRequest>({
      abortError: () => new StelarError(ErrorCode.ABORTED, 'request aborted'),
      settledOffWire: (p) => this.queue.remove(p),
    });
  }

  /** A link whose session the server accepted. */
  get live(): boolean {
    return this.link !== null && this.hello !== null;
  }

  get id(): string | undefined {
    return this.hello?.id;
  }

  get queued(): number {
    return this.queue.length;
  }

  get rooms(): ReadonlySet<string> {
    return this.roomList.names;
  }

  // ── the user's operations ───────────────────────────────────────────────────

  emit(event: string, data: unknown, options: SendOptions | undefined): boolean {
    const frame = isBinary(data) ? encodeBinary(event, asBytes(data)) : encodeJson(event, data);
    const tooBig = this.checkSize(frame);
    if (tooBig) throw tooBig;
    const volatile = options?.volatile ?? false;
    if (this.live) {
      const s = this.send(frame, volatile, undefined);
      if (s !== SendStatus.CLOSED) return s !== SendStatus.DROPPED;
    }
    if (volatile || this.host.closedForGood) return false;
    return this.queue.push({ size: frame.length, frame });
  }

  request(event: string, data: unknown, options: ClientRequestOptions): Promise<unknown> {
    return this.track(event, options, (id) => encodeAckRequest(id, event, data));
  }

  join(room: string): Promise<void> {
    return this.roomList.join(room);
  }

  leave(room: string): Promise<void> {
    return this.roomList.leave(room);
  }

  /** The `recover` field of the next CONNECT (undefined: recovery off on this client). */
  recoverField(): ClientRecover | undefined {
    return this.resume?.connectField();
  }

  // ── links coming and going ──────────────────────────────────────────────────

  /** A new link is up; the server's CONNECT has not arrived yet. */
  attach(link: Link): void {
    this.link = link;
    this.heartbeat.alive();
  }

  /**
   * The server accepted. A resumed session sends again what the server did not get, asks again
   * for the answers that may have been lost, and leaves or joins the rooms changed meanwhile; a
   * new one re-joins every room. Then the offline queue goes, in order.
   */
  open(hello: ServerHello): ResumeOutcome {
    this.hello = hello;
    this.maxFrame = hello.maxFrame;
    const answer = parseRecoveryAnswer(hello);
    const outcome = this.resume ? this.resume.answered(answer, hello.id) : { resumed: false, lost: undefined };
    if (outcome.resumed) this.resumed(answer!.rx);
    else {
      this.epoch++;
      this.release();
      this.roomList.rejoinAll();
    }
    for (let item = this.queue.shift(); item; item = this.queue.shift()) {
      if (item.req) this.sendRequest(item.req);
      else {
        const tooBig = this.checkSize(item.frame);
        if (tooBig) this.host.error(tooBig);
        else this.send(item.frame, false, undefined);
      }
    }
    return outcome;
  }

  /** After a resume: frames the server did not get, requests asked again, rooms changed while away. */
  private resumed(rx: number): void {
    const { frames, lost } = this.resume!.takeResend(rx);
    const again = new Set<OutRequest>();
    for (const f of frames) {
      if (f.req) {
        if (f.req.settled) continue;
        again.add(f.req);
      }
      this.send(f.frame, false, f.req, true);
    }
    if (lost > 0) this.host.error(new StelarError(ErrorCode.QUEUE_FULL, `${lost} message(s) sent before the link was lost were not kept to send again`));
    for (const req of [...this.requests.wire()]) if (req.reask && !again.has(req)) this.send(req.encode(req.id), false, req);
    this.roomList.catchUp();
  }

  /**
   * Sends a frame on the live link; a counted one is kept for a resume. `messagesSent` counts a
   * message once: not an event sent `again` after a resume, nor a request's frame after its first
   * (asked again after a resume, or re-sent with `retry` in a new session).
   */
  private send(frame: Uint8Array, volatile: boolean, req: OutRequest | undefined, again = false): SendStatus {
    const s = this.link!.send(frame, volatile);
    if (s === SendStatus.CLOSED || s === SendStatus.DROPPED) return s;
    this.resume?.record(frame, req);
    if (req ? !req.counted : !again) this.messagesSent++;
    if (req) req.counted = true;
    return s;
  }

  /**
   * The link is gone. If the session may be resumed, requests and rooms stay as they are until
   * the server answers; otherwise requests on the wire fail, or go back to the front of the queue
   * when `retry` was asked, and rooms wait to be re-joined. Returns whether a session was open on it.
   */
  detach(code: number, reason: string): boolean {
    const hadSession = this.hello !== null;
    this.link = null;
    this.hello = null;
    this.stopHeartbeat();
    if (hadSession) this.lost = { code, reason };
    if (this.host.closedForGood) this.resume?.reset();
    if (!this.resume?.token) this.release();
    return hadSession;
  }

  /** The session is over: requests on the wire fail (or are queued again with `retry`); rooms are to be re-joined. */
  private release(): void {
    const { code, reason } = this.lost;
    const retry: OutRequest[] = [];
    const closedForGood = this.host.closedForGood;
    for (const req of this.requests.detachAll()) {
      if (req.retry && !closedForGood) retry.push(req);
      else this.requests.settle(req, false, new StelarError(ErrorCode.DISCONNECTED, `connection closed (${code}${reason ? `: ${reason}` : ''})`));
    }
    if (retry.length && !this.queue.putFirst(retry)) for (const req of retry) this.requests.settle(req, false, new StelarError(ErrorCode.DISCONNECTED, 'connection closed'));
    this.roomList.reset();
  }

  /** The client stopped for good: queued requests and pending joins fail with `err`. */
  stop(err: unknown): void {
    this.stopHeartbeat();
    // Requests kept for a resume that will not come now.
    this.requests.failAll(new StelarError(ErrorCode.DISCONNECTED, 'client disconnected'));
    for (const item of this.queue.clear()) if (item.req) this.requests.settle(item.req, false, new StelarError(ErrorCode.DISCONNECTED, 'client disconnected'));
    this.roomList.stop(err);
  }

  // ── inbound ─────────────────────────────────────────────────────────────────

  /** Any sign of life that is not a frame. */
  pong(): void {
    this.heartbeat.alive();
  }

  /** A frame from the server; a violation closes the link with 1002. */
  frame(frame: Frame): void {
    this.heartbeat.alive();
    try {
      switch (frame.type) {
        case FrameType.CONNECT:
          if (this.hello) throw new StelarError(ErrorCode.PROTOCOL, 'duplicate CONNECT');
          this.host.opened(parseServerHello(frame.payload));
          return;
        case FrameType.ERROR: {
          const e = parseErrorBody(frame.payload);
          const err = new StelarError(e.code, e.message);
          if (!this.hello) this.host.refused(err);
          else this.host.error(err, frame.event || undefined);
          return;
        }
        case FrameType.DISCONNECT:
          this.host.peerClosing(parseDisconnect(frame.payload) ?? null);
          return;
        case FrameType.PING:
          this.link?.send(encodePong(frame.payload), false);
          return;
        case FrameType.PONG:
          return;
        case FrameType.ACK_RES: {
          const r = parseAckResponse(frame.payload);
          if (this.requests.answer(r.id, r.ok, r.body)) this.messagesReceived++;
          return;
        }
        case FrameType.JSON:
        case FrameType.BINARY:
        case FrameType.ACK_REQ:
          this.messagesReceived++;
          this.event(frame);
          return;
        default:
          throw new StelarError(ErrorCode.PROTOCOL, `unexpected frame type ${frame.type} from the server`);
      }
    } catch (err) {
      const e = toErrorBody(err, ErrorCode.PROTOCOL);
      this.link?.close(DisconnectCode.PROTOCOL_ERROR, e.message);
    }
  }

  private event(frame: Frame): void {
    const link = this.link!;
    const isRequest = frame.type === FrameType.ACK_REQ;
    let id = 0;
    let body = frame.payload;
    if (isRequest) ({ id, data: body } = parseAckRequest(frame.payload));
    // A session with recovery gets an offset before each JSON and BINARY payload.
    else if (this.resume) body = this.resume.strip(body);
    let data: unknown;
    try {
      data = eventData(frame.type, body);
    } catch (err) {
      const e = toErrorBody(err, ErrorCode.BAD_JSON);
      if (isRequest) link.send(encodeAckError(id, frame.event, e.code, e.message), false);
      else this.host.error(new StelarError(e.code, e.message), frame.event);
      return;
    }
    dispatchEvent(this.handlers, this, this.epoch, undefined, frame.event, data, id, isRequest);
  }

  // ── what the shared dispatch reports back ───────────────────────────────────

  handlerFailed(err: unknown, _epoch: number, event: string | undefined): void {
    const e = toErrorBody(err);
    this.host.error(new StelarError(e.code, e.message, err), event);
  }

  noHandler(epoch: number, id: number, event: string): void {
    this.requestDone(epoch, id, event, false, noHandlerError(event));
  }

  requestStarted(): void {}

  /**
   * Answers a server request in the session it came in (ids are per session: a resumed session
   * takes the answer on its new link; a new session never gets it).
   */
  requestDone(epoch: number, id: number, event: string, ok: boolean, value: unknown): void {
    if (epoch !== this.epoch || !this.live) return;
    if (this.link!.send(encodeReply(id, event, ok ? { ok: true, value } : { ok: false, error: toErrorBody(value) }), false) !== SendStatus.CLOSED) this.messagesSent++;
  }

  // ── requests and the queue ──────────────────────────────────────────────────

  private track(event: string, options: ClientRequestOptions, encode: (id: number) => Uint8Array, idempotent = false): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const retry = options.retry ?? false;
      const req: OutRequest = { event, retry, reask: retry || idempotent, encode, resolve, reject, id: 0, timer: undefined, signal: options.signal, onAbort: undefined, settled: false, size: 64, counted: false };
      if (!this.requests.track(req, options.timeout ?? this.opts.requestTimeout ?? 10_000)) return;
      if (this.live) this.sendRequest(req);
      else if (this.host.closedForGood) this.requests.settle(req, false, new StelarError(ErrorCode.DISCONNECTED, 'client is closed'));
      else {
        let queued: boolean;
        try {
          req.size = encode(0).length;
          queued = this.queue.push({ size: req.size, req });
        } catch (err) {
          this.requests.settle(req, false, err);
          return;
        }
        if (!queued) this.requests.settle(req, false, new StelarError(ErrorCode.QUEUE_FULL, 'offline queue is full'));
      }
    });
  }

  private sendRequest(req: OutRequest): void {
    let frame: Uint8Array;
    try {
      frame = req.encode(this.requests.assign(req));
    } catch (err) {
      this.requests.settle(req, false, err);
      return;
    }
    const tooBig = this.checkSize(frame);
    if (tooBig) {
      this.requests.settle(req, false, tooBig);
      return;
    }
    if (this.send(frame, false, req) === SendStatus.CLOSED && !req.retry) this.requests.settle(req, false, new StelarError(ErrorCode.DISCONNECTED, 'connection closed'));
  }

  /** Refuses a frame above the server's announced limit (it would close the connection with 1009). */
  private checkSize(frame: Uint8Array): StelarError | null {
    const max = this.hello?.maxFrame ?? this.maxFrame;
    if (max > 0 && frame.length > max) return new StelarError(ErrorCode.FRAME_TOO_LARGE, `frame of ${frame.length} bytes exceeds the server's limit of ${max}`);
    return null;
  }

  // ── heartbeat ───────────────────────────────────────────────────────────────

  /** Pings a silent server and drops the link when it stays silent. */
  startHeartbeat(serverInterval: number): void {
    this.heartbeat.start(() => this.link, serverInterval);
  }

  stopHeartbeat(): void {
    this.heartbeat.stop();
  }
}
