import { DisconnectCode } from '@stelar/codec-tcp';
import { HandlerRegistry } from '../registry';
import type { AnyEvents, DataArgs, EventName, EventReply, SendOptions } from '../types';
import { lifecycleLog } from './log';
import type { ClientEventHandler, ClientLifecycle, ClientOptions, ClientRequestOptions, ClientState, ConnectOptions, Dialer } from './options';
import { Reconnector } from './reconnector';
import { ClientSession } from './session';

export type { ClientEventHandler, ClientHeartbeatOptions, ClientLifecycle, ClientOptions, ClientRequestOptions, ClientState, ConnectOptions, Dialer, ReconnectOptions } from './options';

/**
 * The client side of a session: state machine, reconnection, offline queue, requests, rooms,
 * heartbeats. Transports plug in as a `Dialer`. The Node client is this engine on its dialers;
 * the browser client's smaller engine matches it.
 *
 * This class is the public API; a `Reconnector` brings links (dialing, backoff, state) and a
 * `ClientSession` keeps what outlives them (requests, queue, rooms, heartbeat).
 *
 * `In`: events the client receives; `Out`: events it sends (default: one shared map).
 */
export class ClientEngine<In extends object = AnyEvents, Out extends object = In> {
  private readonly handlers = new HandlerRegistry<ClientEventHandler<In, EventName<In>>, (event: string, data: unknown) => void>();
  private readonly lifecycle = new Map<keyof ClientLifecycle, Set<(...args: never[]) => void>>();
  private readonly session: ClientSession;
  private readonly reconnector: Reconnector;
  private readonly log: ReturnType<typeof lifecycleLog>;
  private sessionOpenedAt: number | undefined;
  private lastFailure: Error | undefined;

  constructor(dialer: Dialer, options: ClientOptions = {}) {
    this.log = lifecycleLog(options.logger);
    const notify = this.notify.bind(this);
    const session: ClientSession = (this.session = new ClientSession(this.handlers, options, {
      opened: (hello) => {
        // Rooms first (or, resumed, what the server did not get), then the offline queue in
        // order, then new sends: the state flips last.
        const { resumed, lost } = session.open(hello);
        this.sessionOpenedAt = Date.now();
        reconnector.established();
        session.startHeartbeat(hello.heartbeat);
        if (lost !== undefined) notify('recovery_failed', { id: hello.id, previousId: lost });
        notify('connected', { id: hello.id, recovered: resumed });
        reconnector.resolveWaiters();
      },
      refused: (err) => reconnector.refused(err),
      peerClosing: (info) => reconnector.peerClosing(info),
      error: (err, event) => notify('error', err, event),
      get closedForGood(): boolean {
        return reconnector.closedForGood;
      },
    }));
    const reconnector: Reconnector = (this.reconnector = new Reconnector(dialer, options, {
      linkUp: (link) => session.attach(link),
      recover: () => session.recoverField(),
      frame: (frame) => session.frame(frame),
      pong: () => session.pong(),
      linkDown: (code, reason): boolean => {
        this.sessionOpenedAt = undefined;
        return session.detach(code, reason);
      },
      stopped: (err) => session.stop(err),
      stopHeartbeat: () => session.stopHeartbeat(),
      notify,
      failed: (err) => {
        this.lastFailure = err;
      },
    }));
  }

  /** Current state. */
  get state(): ClientState {
    return this.reconnector.state;
  }

  /** Session id given by the server (a new one on every reconnection, unless the session was resumed). */
  get id(): string | undefined {
    return this.session.id;
  }

  get connected(): boolean {
    return this.reconnector.state === 'connected';
  }

  /** Messages waiting in the offline queue. */
  get queued(): number {
    return this.session.queued;
  }

  /** Rooms this client is in (or will re-join once connected). */
  get rooms(): ReadonlySet<string> {
    return this.session.rooms;
  }

  /**
   * Events, requests, replies, joins and leaves this client wrote to its connections, over its
   * whole life, each once (queued messages count when they are sent; CONNECT, heartbeats and
   * errors do not). What is sent again — after a resume, or a `retry` request in a new session —
   * is not counted again; re-joins of a new session are new JOINs and count.
   */
  get messagesSent(): number {
    return this.session.messagesSent;
  }

  /**
   * Events, requests and replies received from the server over the client's whole life, each
   * once: messages replayed after a resume are ones the client had not received and count; a
   * reply that answers no waiting request (late, or the same answer again after a resume) does not.
   */
  get messagesReceived(): number {
    return this.session.messagesReceived;
  }

  /**
   * When the current session was accepted on its link (ms since the epoch; a resume sets it
   * again); `undefined` from the moment its link is gone.
   */
  get connectedAt(): number | undefined {
    return this.sessionOpenedAt;
  }

  /**
   * The last error this client met: a failed connection attempt (as `connect_error` reported
   * it), a lost session (DISCONNECTED with its close code), or an `error` notification.
   */
  get lastError(): Error | undefined {
    return this.lastFailure;
  }

  /**
   * Connects (if not already) and resolves once the server accepted the session. Failed attempts
   * are reported with `connect_error` and retried per the reconnect policy. It rejects, and the
   * client stops, on a refusal (UNAUTHORIZED, VERSION_MISMATCH), a final dial error (an HTTP
   * 4xx, a refused certificate, NOT_STELAR), when attempts run out (`reconnect_failed`), or on
   * `close()`. It rejects with TIMEOUT after `timeout` ms (default 20 000, quoting the last
   * attempt's error) or with ABORTED when `signal` aborts: those end this wait only, the client
   * keeps trying (call `close()` to stop it).
   */
  connect(options?: ConnectOptions): Promise<void> {
    return this.reconnector.connect(options);
  }

  /** The dialer of the next connection attempts (the current connection is left as it is). */
  protected setDialer(dialer: Dialer): void {
    this.reconnector.dialer = dialer;
  }

  /** Closes for good (no reconnection). Queued messages are dropped; pending requests rejected. */
  close(code: number = DisconnectCode.NORMAL, reason = ''): void {
    this.reconnector.close(code, reason);
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
    if (name === 'error') this.lastFailure = args[0] as Error;
    this.log?.(name, args);
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

  // ── sending ─────────────────────────────────────────────────────────────────

  /**
   * Sends an event. Uint8Array/ArrayBuffer data goes as binary. While not connected the message
   * is queued (volatile ones are dropped). Returns whether it was sent or queued.
   * @throws StelarError QUEUE_FULL with the `error` queue policy
   */
  emit<K extends EventName<Out>>(event: K, ...args: DataArgs<Out, K, SendOptions>): boolean {
    const [data, options] = args as [unknown, SendOptions | undefined];
    return this.session.emit(event, data, options);
  }

  /**
   * Sends a request; resolves with the server handler's reply. Rejects with a StelarError:
   * TIMEOUT, ABORTED, DISCONNECTED (the connection dropped, unless `retry`), or the code the
   * server's handler threw.
   */
  request<K extends EventName<Out>>(event: K, ...args: DataArgs<Out, K, ClientRequestOptions>): Promise<EventReply<Out, K>> {
    const [data, options] = args as [unknown, ClientRequestOptions | undefined];
    return this.session.request(event, data, options ?? {}) as Promise<EventReply<Out, K>>;
  }

  /** Joins a room; resolves when the server accepted, rejects with its reason. Re-joined after reconnects. */
  join(room: string): Promise<void> {
    return this.session.join(room);
  }

  /** Leaves a room (and stops re-joining it). */
  leave(room: string): Promise<void> {
    return this.session.leave(room);
  }
}
