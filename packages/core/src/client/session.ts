import {
  DisconnectCode,
  encodeAckError,
  encodeAckRequest,
  encodeBinary,
  encodeJoin,
  encodeJson,
  encodeLeave,
  encodePong,
  ErrorCode,
  FrameType,
  parseAckRequest,
  parseAckResponse,
  parseDisconnect,
  parseErrorBody,
  parseServerHello,
  type Frame,
  type ServerHello,
} from '@stelar/codec-tcp';
import { dispatchEvent, eventData, noHandlerError, type DispatchHost } from '../dispatch';
import { StelarError, toErrorBody } from '../errors';
import { SendStatus, type Link } from '../link';
import type { HandlerRegistry } from '../registry';
import { encodeReply } from '../replies';
import { RequestTracker, type PendingRequest } from '../requests';
import { asBytes, isBinary, type SendOptions } from '../types';
import type { ClientOptions, ClientRequestOptions } from './options';
import { Heartbeat } from './heartbeat';
import { BoundedQueue } from './queue';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Fn = (...args: any[]) => unknown;

interface OutRequest extends PendingRequest {
  readonly retry: boolean;
  /** Requests, JOIN and LEAVE each encode their own frame. */
  readonly encode: (id: number) => Uint8Array;
  size: number;
}

type Queued = { readonly size: number; readonly frame: Uint8Array; readonly req?: undefined } | { readonly size: number; readonly req: OutRequest; readonly frame?: undefined };

interface RoomState {
  joined: boolean;
  waiters: { resolve: () => void; reject: (e: unknown) => void }[];
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
 * Connection-state recovery on the client (a session id and offset sent in CONNECT) belongs here.
 */
export class ClientSession implements DispatchHost<Link> {
  readonly catchAllEvent = true;
  private link: Link | null = null;
  private hello: ServerHello | null = null;
  /** The last server's frame limit, kept across reconnections to check queued frames. */
  private maxFrame = 0;
  private readonly requests: RequestTracker<OutRequest>;
  private readonly queue: BoundedQueue<Queued> | null;
  private readonly roomStates = new Map<string, RoomState>();
  private readonly heartbeat: Heartbeat;
  /** Events, requests, replies, joins and leaves the links took (non-volatile sends are never DROPPED). */
  messagesSent = 0;

  constructor(
    private readonly handlers: HandlerRegistry<Fn, Fn>,
    private readonly opts: ClientOptions,
    private readonly host: ClientSessionHost,
  ) {
    this.queue = opts.queue === false ? null : new BoundedQueue<Queued>(opts.queue ?? {});
    this.heartbeat = new Heartbeat(opts.heartbeat);
    this.requests = new RequestTracker<OutRequest>({
      abortError: () => new StelarError(ErrorCode.ABORTED, 'request aborted'),
      settledOffWire: (p) => this.queue?.remove((q) => q.req === p),
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
    return this.queue?.length ?? 0;
  }

  get rooms(): ReadonlySet<string> {
    return new Set(this.roomStates.keys());
  }

  // ── the user's operations ───────────────────────────────────────────────────

  emit(event: string, data: unknown, options: SendOptions | undefined): boolean {
    const frame = isBinary(data) ? encodeBinary(event, asBytes(data)) : encodeJson(event, data);
    const tooBig = this.checkSize(frame);
    if (tooBig) throw tooBig;
    const volatile = options?.volatile ?? false;
    if (this.live) {
      const s = this.link!.send(frame, volatile);
      if (s !== SendStatus.CLOSED) return s !== SendStatus.DROPPED && ++this.messagesSent > 0;
    }
    if (volatile || this.host.closedForGood) return false;
    return this.enqueue({ size: frame.length, frame });
  }

  request(event: string, data: unknown, options: ClientRequestOptions): Promise<unknown> {
    return this.track(event, options, (id) => encodeAckRequest(id, event, data));
  }

  join(room: string): Promise<void> {
    let st = this.roomStates.get(room);
    if (st?.joined) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => {
      if (!st) this.roomStates.set(room, (st = { joined: false, waiters: [] }));
      st.waiters.push({ resolve, reject });
    });
    if (this.live && st!.waiters.length === 1) this.sendJoin(room);
    return p;
  }

  async leave(room: string): Promise<void> {
    const st = this.roomStates.get(room);
    this.roomStates.delete(room);
    if (st) for (const w of st.waiters) w.reject(new StelarError(ErrorCode.REJECTED, `left "${room}" before it was joined`));
    if (!this.live) return;
    await this.track(room, {}, (id) => encodeLeave(room, id));
  }

  // ── links coming and going ──────────────────────────────────────────────────

  /** A new link is up; the server's CONNECT has not arrived yet. */
  attach(link: Link): void {
    this.link = link;
    this.heartbeat.alive();
  }

  /** The server accepted: re-join rooms, then send the offline queue in order. */
  open(hello: ServerHello): void {
    this.hello = hello;
    this.maxFrame = hello.maxFrame;
    for (const room of this.roomStates.keys()) this.sendJoin(room);
    const q = this.queue;
    if (q) {
      for (let item = q.shift(); item; item = q.shift()) {
        if (item.req) this.sendRequest(item.req);
        else {
          const tooBig = this.checkSize(item.frame);
          if (tooBig) this.host.error(tooBig);
          else if (this.link!.send(item.frame, false) !== SendStatus.CLOSED) this.messagesSent++;
        }
      }
    }
  }

  /**
   * The link is gone: requests on the wire fail, or go back to the front of the queue when
   * `retry` was asked; rooms wait to be re-joined. Returns whether a session was open on it.
   */
  detach(code: number, reason: string): boolean {
    const hadSession = this.hello !== null;
    this.link = null;
    this.hello = null;
    this.stopHeartbeat();
    const retry: OutRequest[] = [];
    const closedForGood = this.host.closedForGood;
    for (const req of this.requests.detachAll()) {
      if (req.retry && !closedForGood) retry.push(req);
      else this.requests.settle(req, false, new StelarError(ErrorCode.DISCONNECTED, `connection closed (${code}${reason ? `: ${reason}` : ''})`));
    }
    if (retry.length && this.queue) {
      const rest = this.queue.clear();
      for (const req of retry) this.requeue({ size: req.size, req });
      for (const item of rest) this.requeue(item);
    } else for (const req of retry) this.requests.settle(req, false, new StelarError(ErrorCode.DISCONNECTED, 'connection closed'));
    for (const st of this.roomStates.values()) st.joined = false;
    return hadSession;
  }

  /** The client stopped for good: queued requests and pending joins fail with `err`. */
  stop(err: unknown): void {
    this.stopHeartbeat();
    if (this.queue) for (const item of this.queue.clear()) if (item.req) this.requests.settle(item.req, false, new StelarError(ErrorCode.DISCONNECTED, 'client disconnected'));
    for (const [room, st] of this.roomStates) {
      if (st.waiters.length) {
        for (const w of st.waiters) w.reject(err);
        this.roomStates.delete(room);
      }
    }
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
          this.requests.answer(r.id, r.ok, r.body);
          return;
        }
        case FrameType.JSON:
        case FrameType.BINARY:
        case FrameType.ACK_REQ:
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
    let data: unknown;
    try {
      data = eventData(frame.type, body);
    } catch (err) {
      const e = toErrorBody(err, ErrorCode.BAD_JSON);
      if (isRequest) link.send(encodeAckError(id, frame.event, e.code, e.message), false);
      else this.host.error(new StelarError(e.code, e.message), frame.event);
      return;
    }
    dispatchEvent(this.handlers, this, link, undefined, frame.event, data, id, isRequest);
  }

  // ── what the shared dispatch reports back ───────────────────────────────────

  handlerFailed(err: unknown, _link: Link, event: string | undefined): void {
    const e = toErrorBody(err);
    this.host.error(new StelarError(e.code, e.message, err), event);
  }

  noHandler(link: Link, id: number, event: string): void {
    this.requestDone(link, id, event, false, noHandlerError(event));
  }

  requestStarted(): void {}

  /** Answers a server request on the link it came by (never on a later one: ids are per link). */
  requestDone(link: Link, id: number, event: string, ok: boolean, value: unknown): void {
    if (link !== this.link || !this.live) return;
    if (link.send(encodeReply(id, event, ok ? { ok: true, value } : { ok: false, error: toErrorBody(value) }), false) !== SendStatus.CLOSED) this.messagesSent++;
  }

  // ── requests and the queue ──────────────────────────────────────────────────

  private track(event: string, options: ClientRequestOptions, encode: (id: number) => Uint8Array): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const req: OutRequest = { event, retry: options.retry ?? false, encode, resolve, reject, id: 0, timer: undefined, signal: options.signal, onAbort: undefined, settled: false, size: 64 };
      if (!this.requests.track(req, options.timeout ?? this.opts.requestTimeout ?? 10_000)) return;
      if (this.live) this.sendRequest(req);
      else if (this.host.closedForGood) this.requests.settle(req, false, new StelarError(ErrorCode.DISCONNECTED, 'client is closed'));
      else {
        let queued: boolean;
        try {
          req.size = encode(0).length;
          queued = this.enqueue({ size: req.size, req });
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
    if (this.link!.send(frame, false) !== SendStatus.CLOSED) this.messagesSent++;
    else if (!req.retry) this.requests.settle(req, false, new StelarError(ErrorCode.DISCONNECTED, 'connection closed'));
  }

  /** Refuses a frame above the server's announced limit (it would close the connection with 1009). */
  private checkSize(frame: Uint8Array): StelarError | null {
    const max = this.hello?.maxFrame ?? this.maxFrame;
    if (max > 0 && frame.length > max) return new StelarError(ErrorCode.FRAME_TOO_LARGE, `frame of ${frame.length} bytes exceeds the server's limit of ${max}`);
    return null;
  }

  private enqueue(item: Queued): boolean {
    if (!this.queue) return false;
    const r = this.queue.push(item);
    if (r === false) {
      if (this.queue.policy === 'error') throw new StelarError(ErrorCode.QUEUE_FULL, 'offline queue is full');
      return false;
    }
    for (const ev of r) if (ev.req) this.requests.settle(ev.req, false, new StelarError(ErrorCode.QUEUE_FULL, 'dropped from the full offline queue'));
    return true;
  }

  /** Puts an item back in the queue; a request it evicts or refuses fails with QUEUE_FULL. */
  private requeue(item: Queued): void {
    const r = this.queue!.push(item);
    const dropped = r === false ? [item] : r;
    for (const ev of dropped) if (ev.req) this.requests.settle(ev.req, false, new StelarError(ErrorCode.QUEUE_FULL, 'dropped from the full offline queue'));
  }

  private sendJoin(room: string): void {
    void this.track(room, {}, (id) => encodeJoin(room, id)).then(
      () => {
        const st = this.roomStates.get(room);
        if (!st) return;
        st.joined = true;
        const ws = st.waiters;
        st.waiters = [];
        for (const w of ws) w.resolve();
      },
      (err: unknown) => {
        const st = this.roomStates.get(room);
        if (!st) return;
        // A join lost to a dropped connection is retried after reconnecting; a refusal is final.
        if (err instanceof StelarError && err.code === ErrorCode.DISCONNECTED) return;
        this.roomStates.delete(room);
        for (const w of st.waiters) w.reject(err);
        if (st.waiters.length === 0) this.host.error(err instanceof StelarError ? err : new StelarError(ErrorCode.REJECTED, String(err)), room);
      },
    );
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
