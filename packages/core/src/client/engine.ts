import {
  DisconnectCode,
  decodeJson,
  encodeAckError,
  encodeAckRequest,
  encodeBinary,
  encodeClientConnect,
  encodeJoin,
  encodeJson,
  encodeLeave,
  encodePing,
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
import { now } from '../clock';
import { StelarError, toErrorBody } from '../errors';
import { SendStatus, type Link, type LinkHandler } from '../link';
import { HandlerRegistry } from '../registry';
import { encodeReply } from '../replies';
import { asBytes, isBinary, isThenable, type AnyEvents, type EventData, type EventName, type EventReply, type HandlerResult, type SendOptions } from '../types';
import { backoffDelay, type BackoffOptions } from './backoff';
import { BoundedQueue, type OfflineQueueOptions } from './queue';

/** Where a client is in its life. */
export type ClientState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

/**
 * Opens one transport connection for the engine. It resolves once the link can carry frames
 * (TCP connected, WebSocket upgraded) and reports everything after that through `handler`.
 * It rejects with an error; `fatal: true` on the error (e.g. HTTP 403, a certificate refusal)
 * stops reconnection.
 */
export type Dialer = (handler: LinkHandler, signal: AbortSignal) => Promise<Link>;

export interface ClientHeartbeatOptions {
  /** Send a PING after this long without hearing from the server (ms). Default: the server's heartbeat, else 25 000. */
  interval?: number;
  /** Treat the server as gone this long after the PING went unanswered (ms). Default 10 000. */
  timeout?: number;
}

export interface ClientOptions {
  /** Credentials for CONNECT; a function is called before every (re)connection. */
  auth?: unknown;
  /** Reconnection with exponential backoff and full jitter; `false` disables it. Default on. */
  reconnect?: boolean | BackoffOptions;
  /** Messages sent while not connected are queued (bounded); `false` drops them instead. */
  queue?: OfflineQueueOptions | false;
  /** Default request timeout (ms). Default 10 000. */
  requestTimeout?: number;
  /** Time allowed for the transport to open and the server to accept the session (ms). Default 10 000. */
  connectTimeout?: number;
  /** Dead-server detection; `false` disables it. */
  heartbeat?: ClientHeartbeatOptions | false;
}

export interface ClientRequestOptions extends SendOptions {
  timeout?: number;
  signal?: AbortSignal;
  /**
   * Keep the request across a reconnection (it is sent again once connected) instead of
   * rejecting it with DISCONNECTED when the connection drops. Use for idempotent requests.
   */
  retry?: boolean;
}

/** Lifecycle notifications (never triggered by event names from the wire). */
export interface ClientLifecycle {
  state: (state: ClientState) => void;
  connected: (info: { id: string }) => void;
  disconnected: (info: { code: number; reason: string; willReconnect: boolean }) => void;
  reconnecting: (info: { attempt: number; delay: number }) => void;
  reconnect_failed: (info: { attempts: number; error: unknown }) => void;
  /** ERROR frames from the server, failed re-joins, handler failures. */
  error: (error: StelarError, event?: string) => void;
}

interface OutRequest {
  readonly event: string;
  readonly data: unknown;
  readonly retry: boolean;
  /** Internal requests (JOIN/LEAVE) send their own frame. */
  readonly encode: (id: number) => Uint8Array;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
  id: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  size: number;
}

type Queued = { readonly size: number; readonly frame: Uint8Array; readonly req?: undefined } | { readonly size: number; readonly req: OutRequest; readonly frame?: undefined };

interface RoomState {
  joined: boolean;
  waiters: { resolve: () => void; reject: (e: unknown) => void }[];
}

/** Reply-less handlers are fine; for requests the first handler's return value is the reply. */
export type ClientEventHandler<In extends object, K extends EventName<In>> = (data: EventData<In, K>) => HandlerResult<EventReply<In, K>>;

const FATAL_CODES: ReadonlySet<number> = new Set([DisconnectCode.UNAUTHORIZED, DisconnectCode.VERSION_MISMATCH]);

/**
 * The client side of a session, shared by the Node and browser clients: state machine,
 * reconnection, offline queue, requests, rooms, heartbeats. Transports plug in as a `Dialer`.
 *
 * `In`: events the client receives; `Out`: events it sends (default: one shared map).
 */
export class ClientEngine<In extends object = AnyEvents, Out extends object = In> {
  private readonly dialer: Dialer;
  private readonly opts: ClientOptions;
  private readonly backoff: BackoffOptions | false;
  private readonly handlers = new HandlerRegistry<ClientEventHandler<In, EventName<In>>, (event: string, data: unknown) => void>();
  private readonly lifecycle = new Map<keyof ClientLifecycle, Set<(...args: never[]) => void>>();
  private readonly queue: BoundedQueue<Queued> | null;
  private readonly inflight = new Map<number, OutRequest>();
  private readonly roomStates = new Map<string, RoomState>();
  private link: Link | null = null;
  private session: ServerHello | null = null;
  private generation = 0;
  private attempts = 0;
  private everConnected = false;
  private userClosed = false;
  private nextId = 1;
  /** The last server's frame limit, kept across reconnections to check queued frames. */
  private maxFrame = 0;
  private lastError: unknown;
  private refusal: StelarError | null = null;
  /** Set when the connect timer fired: the reason the attempt ended. */
  private attemptTimeout: StelarError | null = null;
  private peerClose: { code: number; reason: string } | null = null;
  private connectWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private dialAbort: AbortController | null = null;
  private lastInbound = 0;
  private pingOutstanding = false;
  private currentState: ClientState = 'idle';

  constructor(dialer: Dialer, options: ClientOptions = {}) {
    this.dialer = dialer;
    this.opts = options;
    this.backoff = options.reconnect === false ? false : options.reconnect === true || options.reconnect === undefined ? {} : options.reconnect;
    this.queue = options.queue === false ? null : new BoundedQueue<Queued>(options.queue ?? {});
  }

  /** Current state. */
  get state(): ClientState {
    return this.currentState;
  }

  /** Session id given by the server (changes on every reconnection). */
  get id(): string | undefined {
    return this.session?.id;
  }

  get connected(): boolean {
    return this.currentState === 'connected';
  }

  /** Messages waiting in the offline queue. */
  get queued(): number {
    return this.queue?.length ?? 0;
  }

  /** Rooms this client is in (or will re-join once connected). */
  get rooms(): ReadonlySet<string> {
    return new Set(this.roomStates.keys());
  }

  /**
   * Connects (if not already) and resolves once the server accepted the session. Transient
   * failures are retried per the reconnect policy; it rejects on a refusal (UNAUTHORIZED,
   * VERSION_MISMATCH, an HTTP error from the WebSocket handshake…), when attempts run out, or on
   * `close()`.
   */
  connect(): Promise<void> {
    if (this.currentState === 'connected') return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (this.currentState === 'idle' || this.currentState === 'disconnected') {
      this.userClosed = false;
      this.refusal = null;
      this.attempts = 0;
      void this.attempt();
    }
    return p;
  }

  /** Closes for good (no reconnection). Queued messages are dropped; pending requests rejected. */
  close(code: number = DisconnectCode.NORMAL, reason = ''): void {
    this.userClosed = true;
    this.clearTimers();
    this.dialAbort?.abort(new StelarError(ErrorCode.DISCONNECTED, 'client closed'));
    this.dialAbort = null;
    const link = this.link;
    if (link) {
      link.close(code, reason);
      return; // onClose finishes the job
    }
    this.finish(new StelarError(ErrorCode.DISCONNECTED, 'client closed'), { code, reason }, false);
  }

  // ── events ──────────────────────────────────────────────────────────────────

  /** Adds a handler; for a server request, the first handler's return value is the reply. */
  on<K extends EventName<In>>(event: K, handler: ClientEventHandler<In, K>): this {
    this.handlers.on(event, handler as ClientEventHandler<In, EventName<In>>);
    return this;
  }

  once<K extends EventName<In>>(event: K, handler: ClientEventHandler<In, K>): this {
    this.handlers.on(event, handler as ClientEventHandler<In, EventName<In>>, true);
    return this;
  }

  off<K extends EventName<In>>(event: K, handler?: ClientEventHandler<In, K>): this {
    this.handlers.off(event, handler as ClientEventHandler<In, EventName<In>> | undefined);
    return this;
  }

  onAny(handler: (event: string, data: unknown) => void): this {
    this.handlers.onAny(handler);
    return this;
  }

  offAny(handler?: (event: string, data: unknown) => void): this {
    this.handlers.offAny(handler);
    return this;
  }

  /** Subscribes to a lifecycle notification; returns the unsubscribe function. */
  onLifecycle<K extends keyof ClientLifecycle>(name: K, fn: ClientLifecycle[K]): () => void {
    let set = this.lifecycle.get(name);
    if (!set) this.lifecycle.set(name, (set = new Set()));
    set.add(fn as (...args: never[]) => void);
    return () => set.delete(fn as (...args: never[]) => void);
  }

  private notify<K extends keyof ClientLifecycle>(name: K, ...args: Parameters<ClientLifecycle[K]>): void {
    const set = this.lifecycle.get(name);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        (fn as unknown as (...a: Parameters<ClientLifecycle[K]>) => void)(...args);
      } catch {
        /* a listener's failure must not break the engine */
      }
    }
  }

  /**
   * Sends an event. Uint8Array/ArrayBuffer data goes as binary. While not connected the message
   * is queued (volatile ones are dropped). Returns whether it was sent or queued.
   * @throws StelarError QUEUE_FULL with the `error` queue policy
   */
  emit<K extends EventName<Out>>(event: K, ...args: undefined extends EventData<Out, K> ? [data?: EventData<Out, K>, options?: SendOptions] : [data: EventData<Out, K>, options?: SendOptions]): boolean {
    const [data, options] = args as [unknown, SendOptions | undefined];
    const frame = isBinary(data) ? encodeBinary(event, asBytes(data)) : encodeJson(event, data);
    const tooBig = this.checkSize(frame);
    if (tooBig) throw tooBig;
    const volatile = options?.volatile ?? false;
    if (this.live) {
      const s = this.link!.send(frame, volatile);
      if (s !== SendStatus.CLOSED) return s !== SendStatus.DROPPED;
    }
    if (volatile || this.userClosed) return false;
    return this.enqueue({ size: frame.length, frame });
  }

  /**
   * Sends a request; resolves with the server handler's reply. Rejects with a StelarError:
   * TIMEOUT, ABORTED, DISCONNECTED (the connection dropped, unless `retry`), or the code the
   * server's handler threw.
   */
  request<K extends EventName<Out>>(event: K, data?: EventData<Out, K>, options: ClientRequestOptions = {}): Promise<EventReply<Out, K>> {
    return this.track(event, data, options, (id) => encodeAckRequest(id, event, data)) as Promise<EventReply<Out, K>>;
  }

  /** Joins a room; resolves when the server accepted, rejects with its reason. Re-joined after reconnects. */
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

  /** Leaves a room (and stops re-joining it). */
  async leave(room: string): Promise<void> {
    const st = this.roomStates.get(room);
    this.roomStates.delete(room);
    if (st) for (const w of st.waiters) w.reject(new StelarError(ErrorCode.REJECTED, `left "${room}" before it was joined`));
    if (!this.live) return;
    await this.track(room, undefined, {}, (id) => encodeLeave(room, id));
  }

  // ── requests ────────────────────────────────────────────────────────────────

  private track(event: string, data: unknown, options: ClientRequestOptions, encode: (id: number) => Uint8Array): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const req: OutRequest = { event, data, retry: options.retry ?? false, encode, resolve, reject, id: 0, timer: undefined, signal: options.signal, onAbort: undefined, size: 64 };
      if (options.signal?.aborted) {
        reject(new StelarError(ErrorCode.ABORTED, 'request aborted'));
        return;
      }
      const timeout = options.timeout ?? this.opts.requestTimeout ?? 10_000;
      if (timeout > 0 && Number.isFinite(timeout)) {
        req.timer = setTimeout(() => this.settle(req, false, new StelarError(ErrorCode.TIMEOUT, `request "${event}" timed out after ${timeout} ms`)), timeout);
      }
      if (options.signal) {
        req.onAbort = () => this.settle(req, false, new StelarError(ErrorCode.ABORTED, 'request aborted'));
        options.signal.addEventListener('abort', req.onAbort, { once: true });
      }
      if (this.live) this.sendRequest(req);
      else if (this.userClosed) this.settle(req, false, new StelarError(ErrorCode.DISCONNECTED, 'client is closed'));
      else {
        try {
          req.size = encode(0).length;
        } catch (err) {
          this.settle(req, false, err);
          return;
        }
        let queued: boolean;
        try {
          queued = this.enqueue({ size: req.size, req });
        } catch (err) {
          this.settle(req, false, err);
          return;
        }
        if (!queued) this.settle(req, false, new StelarError(ErrorCode.QUEUE_FULL, 'offline queue is full'));
      }
    });
  }

  /** Refuses a frame above the server's announced limit (it would close the connection with 1009). */
  private checkSize(frame: Uint8Array): StelarError | null {
    const max = this.session?.maxFrame ?? this.maxFrame;
    if (max > 0 && frame.length > max) return new StelarError(ErrorCode.FRAME_TOO_LARGE, `frame of ${frame.length} bytes exceeds the server's limit of ${max}`);
    return null;
  }

  /** A link whose session the server accepted. */
  private get live(): boolean {
    return this.link !== null && this.session !== null;
  }

  private sendRequest(req: OutRequest): void {
    let id = this.nextId;
    while (this.inflight.has(id)) id = id >= 0xffff_ffff ? 1 : id + 1;
    this.nextId = id >= 0xffff_ffff ? 1 : id + 1;
    let frame: Uint8Array;
    try {
      frame = req.encode(id);
    } catch (err) {
      this.settle(req, false, err);
      return;
    }
    const tooBig = this.checkSize(frame);
    if (tooBig) {
      this.settle(req, false, tooBig);
      return;
    }
    req.id = id;
    this.inflight.set(id, req);
    if (this.link!.send(frame, false) === SendStatus.CLOSED && !req.retry) {
      this.settle(req, false, new StelarError(ErrorCode.DISCONNECTED, 'connection closed'));
    }
  }

  private settle(req: OutRequest, ok: boolean, value: unknown): void {
    if (req.timer !== undefined) clearTimeout(req.timer);
    req.timer = undefined;
    if (req.signal && req.onAbort) req.signal.removeEventListener('abort', req.onAbort);
    req.onAbort = undefined;
    if (req.id !== 0 && this.inflight.get(req.id) === req) this.inflight.delete(req.id);
    else this.queue?.remove((q) => q.req === req);
    if (ok) req.resolve(value);
    else req.reject(value);
  }

  private enqueue(item: Queued): boolean {
    if (!this.queue) return false;
    const r = this.queue.push(item);
    if (r === false) {
      if (this.queue.policy === 'error') throw new StelarError(ErrorCode.QUEUE_FULL, 'offline queue is full');
      return false;
    }
    for (const ev of r) if (ev.req) this.settle(ev.req, false, new StelarError(ErrorCode.QUEUE_FULL, 'dropped from the full offline queue'));
    return true;
  }

  private sendJoin(room: string): void {
    void this.track(room, undefined, {}, (id) => encodeJoin(room, id)).then(
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
        if (st.waiters.length === 0) this.notify('error', err instanceof StelarError ? err : new StelarError(ErrorCode.REJECTED, String(err)), room);
      },
    );
  }

  // ── connection lifecycle ────────────────────────────────────────────────────

  private setState(s: ClientState): void {
    if (this.currentState === s) return;
    this.currentState = s;
    this.notify('state', s);
  }

  private async attempt(): Promise<void> {
    const gen = ++this.generation;
    this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    this.refusal = null;
    this.peerClose = null;
    this.attemptTimeout = null;
    const ac = new AbortController();
    this.dialAbort = ac;
    const timeout = this.opts.connectTimeout ?? 10_000;
    this.connectTimer = setTimeout(() => {
      const err = new StelarError(ErrorCode.TIMEOUT, `connection not established within ${timeout} ms`);
      this.attemptTimeout = err;
      ac.abort(err);
      if (this.link && gen === this.generation) this.link.terminate();
    }, timeout);
    let link: Link;
    try {
      const auth = typeof this.opts.auth === 'function' ? await (this.opts.auth as () => unknown)() : this.opts.auth;
      if (ac.signal.aborted) throw ac.signal.reason;
      link = await this.dialer(this.handlerFor(gen), ac.signal);
      if (gen !== this.generation || this.userClosed) {
        link.terminate();
        return;
      }
      this.link = link;
      this.lastInbound = now();
      link.send(encodeClientConnect(auth), false);
    } catch (err) {
      if (gen !== this.generation) return;
      clearTimeout(this.connectTimer);
      this.dialAbort = null;
      this.lastError = err;
      const fatal = (err as { fatal?: unknown } | null)?.fatal === true;
      if (fatal || this.userClosed) this.finish(err, { code: 1006, reason: String((err as Error)?.message ?? err) }, false);
      else this.scheduleRetry(err);
    }
  }

  private handlerFor(gen: number): LinkHandler {
    return {
      onFrame: (frame) => {
        if (gen === this.generation) this.onFrame(frame);
      },
      onProtocolError: (err) => {
        if (gen === this.generation) this.link?.close(err.closeCode, err.message);
      },
      onPong: () => {
        if (gen === this.generation) {
          this.lastInbound = now();
          this.pingOutstanding = false;
        }
      },
      onDrain: () => undefined,
      onClose: (code, reason) => {
        if (gen === this.generation) this.linkLost(code, reason);
      },
    };
  }

  private onFrame(frame: Frame): void {
    this.lastInbound = now();
    this.pingOutstanding = false;
    try {
      switch (frame.type) {
        case FrameType.CONNECT:
          if (this.session && this.currentState === 'connected') throw new StelarError(ErrorCode.PROTOCOL, 'duplicate CONNECT');
          this.onSession(parseServerHello(frame.payload));
          return;
        case FrameType.ERROR: {
          const e = parseErrorBody(frame.payload);
          const err = new StelarError(e.code, e.message);
          if (this.currentState !== 'connected') this.refusal = err;
          else this.notify('error', err, frame.event || undefined);
          return;
        }
        case FrameType.DISCONNECT:
          this.peerClose = parseDisconnect(frame.payload) ?? null;
          return;
        case FrameType.PING:
          this.link?.send(encodePong(frame.payload), false);
          return;
        case FrameType.PONG:
          return;
        case FrameType.ACK_RES: {
          const r = parseAckResponse(frame.payload);
          const req = this.inflight.get(r.id);
          if (!req) return;
          if (r.ok) {
            let v: unknown;
            try {
              v = decodeJson(r.body);
            } catch (err) {
              this.settle(req, false, err);
              return;
            }
            this.settle(req, true, v);
          } else {
            const e = parseErrorBody(r.body);
            this.settle(req, false, new StelarError(e.code, e.message));
          }
          return;
        }
        case FrameType.JSON:
        case FrameType.BINARY:
        case FrameType.ACK_REQ:
          this.dispatch(frame);
          return;
        default:
          throw new StelarError(ErrorCode.PROTOCOL, `unexpected frame type ${frame.type} from the server`);
      }
    } catch (err) {
      const e = toErrorBody(err, ErrorCode.PROTOCOL);
      this.link?.close(DisconnectCode.PROTOCOL_ERROR, e.message);
    }
  }

  private dispatch(frame: Frame): void {
    const isRequest = frame.type === FrameType.ACK_REQ;
    let id = 0;
    let body = frame.payload;
    if (isRequest) ({ id, data: body } = parseAckRequest(frame.payload));
    let data: unknown;
    try {
      data = frame.type === FrameType.BINARY ? body : decodeJson(body);
    } catch (err) {
      const e = toErrorBody(err, ErrorCode.BAD_JSON);
      if (isRequest) this.link?.send(encodeAckError(id, frame.event, e.code, e.message), false);
      else this.notify('error', new StelarError(e.code, e.message), frame.event);
      return;
    }
    for (const any of this.handlers.any) this.guard(() => any(frame.event, data), frame.event);
    const fns = this.handlers.take(frame.event);
    if (!isRequest) {
      if (fns) for (const fn of fns) this.guard(() => fn(data as never), frame.event);
      return;
    }
    const reply = (ok: boolean, value: unknown): void => {
      const link = this.link;
      if (!link || !this.live) return;
      const out = encodeReply(id, frame.event, ok ? { ok: true, value } : { ok: false, error: toErrorBody(value) });
      link.send(out, false);
    };
    if (!fns) {
      reply(false, new StelarError(ErrorCode.NO_HANDLER, `no handler for "${frame.event}"`));
      return;
    }
    let result: unknown;
    try {
      result = fns[0]!(data as never);
    } catch (err) {
      reply(false, err);
      return;
    } finally {
      for (let i = 1; i < fns.length; i++) this.guard(() => fns[i]!(data as never), frame.event);
    }
    if (isThenable(result)) result.then((v) => reply(true, v), (e: unknown) => reply(false, e));
    else reply(true, result);
  }

  private guard(fn: () => unknown, event: string): void {
    const fail = (err: unknown): void => {
      const e = toErrorBody(err);
      this.notify('error', new StelarError(e.code, e.message, err), event);
    };
    try {
      const r = fn();
      if (isThenable(r)) r.then(undefined, fail);
    } catch (err) {
      fail(err);
    }
  }

  private onSession(hello: ServerHello): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.dialAbort = null;
    this.session = hello;
    this.maxFrame = hello.maxFrame;
    this.attempts = 0;
    this.everConnected = true;
    // Rooms first, then the offline queue in order, then new sends: state flips last.
    for (const room of this.roomStates.keys()) this.sendJoin(room);
    const q = this.queue;
    if (q) {
      for (let item = q.shift(); item; item = q.shift()) {
        if (item.req) this.sendRequest(item.req);
        else if (this.checkSize(item.frame)) this.notify('error', this.checkSize(item.frame)!);
        else this.link!.send(item.frame, false);
      }
    }
    this.setState('connected');
    this.startHeartbeat(hello.heartbeat);
    this.notify('connected', { id: hello.id });
    const ws = this.connectWaiters;
    this.connectWaiters = [];
    for (const w of ws) w.resolve();
  }

  private linkLost(code: number, reason: string): void {
    const peer = this.peerClose;
    if (peer && (code === 1005 || code === 1006)) {
      code = peer.code;
      reason = peer.reason;
    }
    const hadSession = this.session !== null;
    this.link = null;
    this.session = null;
    this.stopHeartbeat();
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.generation++;
    // Requests on the wire: retried ones go back to the front of the queue, the rest fail.
    const retry: OutRequest[] = [];
    for (const req of [...this.inflight.values()]) {
      this.inflight.delete(req.id);
      req.id = 0;
      if (req.retry && !this.userClosed) retry.push(req);
      else this.settle(req, false, new StelarError(ErrorCode.DISCONNECTED, `connection closed (${code}${reason ? `: ${reason}` : ''})`));
    }
    if (retry.length && this.queue) {
      const rest = this.queue.clear();
      for (const req of retry) this.queue.push({ size: req.size, req });
      for (const item of rest) this.queue.push(item);
    } else for (const req of retry) this.settle(req, false, new StelarError(ErrorCode.DISCONNECTED, 'connection closed'));
    for (const st of this.roomStates.values()) st.joined = false;

    const refusal = this.refusal ?? (FATAL_CODES.has(code) ? new StelarError(code === DisconnectCode.VERSION_MISMATCH ? ErrorCode.VERSION_MISMATCH : ErrorCode.UNAUTHORIZED, reason || 'refused') : null);
    if (this.userClosed) this.finish(new StelarError(ErrorCode.DISCONNECTED, 'client closed'), { code, reason }, false);
    else if (refusal && (FATAL_CODES.has(code) || !this.everConnected)) this.finish(refusal, { code, reason }, false);
    else if (!hadSession) {
      // The link opened but no session followed (connect timeout, or the server hung up).
      this.lastError = this.attemptTimeout ?? new StelarError(ErrorCode.DISCONNECTED, `connection closed before the session opened (${code}${reason ? `: ${reason}` : ''})`);
      this.scheduleRetry(this.lastError);
    } else {
      this.lastError = new StelarError(ErrorCode.DISCONNECTED, `connection closed (${code}${reason ? `: ${reason}` : ''})`);
      const willReconnect = this.backoff !== false;
      this.notify('disconnected', { code, reason, willReconnect });
      this.scheduleRetry(this.lastError);
    }
  }

  private scheduleRetry(err: unknown): void {
    const b = this.backoff;
    const max = b === false ? 0 : (b.maxAttempts ?? Infinity);
    if (b === false || this.attempts >= max) {
      if (b !== false) this.notify('reconnect_failed', { attempts: this.attempts, error: err });
      this.finish(err, null, false);
      return;
    }
    const delay = backoffDelay(this.attempts++, b);
    this.setState('reconnecting');
    this.notify('reconnecting', { attempt: this.attempts, delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.attempt();
    }, delay);
  }

  /** Final stop: state `disconnected`, waiters rejected, queue dropped. */
  private finish(err: unknown, closeInfo: { code: number; reason: string } | null, willReconnect: boolean): void {
    this.clearTimers();
    const wasConnectedOrTrying = this.currentState !== 'disconnected' && this.currentState !== 'idle';
    this.setState('disconnected');
    if (closeInfo && wasConnectedOrTrying) this.notify('disconnected', { ...closeInfo, willReconnect });
    const ws = this.connectWaiters;
    this.connectWaiters = [];
    for (const w of ws) w.reject(err);
    if (this.queue) for (const item of this.queue.clear()) if (item.req) this.settle(item.req, false, new StelarError(ErrorCode.DISCONNECTED, 'client disconnected'));
    for (const [room, st] of this.roomStates) {
      if (st.waiters.length) {
        for (const w of st.waiters) w.reject(err);
        this.roomStates.delete(room);
      }
    }
  }

  private clearTimers(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    this.retryTimer = this.connectTimer = undefined;
    this.stopHeartbeat();
  }

  // ── heartbeat ───────────────────────────────────────────────────────────────

  private startHeartbeat(serverInterval: number): void {
    this.stopHeartbeat();
    const hb = this.opts.heartbeat;
    if (hb === false) return;
    const interval = hb?.interval ?? (serverInterval > 0 ? serverInterval : 25_000);
    const timeout = hb?.timeout ?? 10_000;
    this.pingOutstanding = false;
    const every = Math.max(10, Math.floor(Math.min(interval, timeout) / 4));
    this.heartbeatTimer = setInterval(() => {
      const link = this.link;
      if (!link) return;
      const idle = now() - this.lastInbound;
      if (idle >= interval + timeout) {
        link.terminate();
      } else if (idle >= interval && !this.pingOutstanding) {
        this.pingOutstanding = true;
        link.send(encodePing(), false);
      }
    }, every);
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }
}

