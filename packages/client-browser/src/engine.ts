import { backoffDelay, StelarError } from '@stelar/core/client';
import type { AnyEvents, ClientEngine, ClientEventHandler, ClientLifecycle, ClientOptions, ClientState, Dialer, EventName, Link } from '@stelar/core/client';
import { toErrorBody } from '@stelar/core/internal';
import { EMPTY, errorOf, fail, frame, json, obj, parse, T, u32, type Frame } from './wire';

/*
 * The browser's client engine: the behaviour of core's `ClientEngine` (state machine,
 * reconnection with backoff and full jitter, offline queue, requests, rooms, heartbeats) over the
 * same `Dialer`, written for the size of the <script> bundle: closures instead of fields, arrays
 * and maps instead of core's queue and handler-registry classes, short messages.
 *
 * Shared with core: `StelarError`, `toErrorBody`, `backoffDelay`, the option and lifecycle
 * types, and the public surface, which is `ClientEngine`'s by construction (test/api.test.ts
 * checks that every member exists). The Chromium tests hold it to core's behaviour against the
 * real server.
 */

type Fn = (...args: never[]) => unknown;
type Waiter = [resolve: () => void, reject: (e: unknown) => void];

/** A request: in the offline queue (id 0) or on the wire. */
interface Req {
  /** Encodes the request's frame with an id. */
  readonly f: (id: number) => Uint8Array;
  /** Settles the promise (resolves when `ok`, else rejects) and clears the timeout and the abort listener. */
  readonly d: (v: unknown, ok?: unknown) => void;
  /** Kept across a reconnection (`retry: true`). */
  readonly r: boolean | undefined;
  id: number;
  /** Its size in the offline queue (the encoded frame's), like a queued frame's `length`. */
  length: number;
}

/** In the offline queue: a frame, or a request. */
type Item = Uint8Array | Req;

const isReq = (x: Item): x is Req => !(x instanceof Uint8Array);
const E = (code: string, message: string): StelarError => new StelarError(code, message);
/** Runs `fn`: [its result, 1] or [what it threw, 0]. */
const attempt = (fn: () => unknown): [unknown, 0 | 1] => {
  try {
    return [fn(), 1];
  } catch (e) {
    return [e, 0];
  }
};
const thenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as PromiseLike<unknown> | null)?.then == 'function';
/** Calls every waiter's resolve (0) or reject (1) and empties the list. */
const wake = (list: Waiter[], i: 0 | 1, v?: unknown): void => list.splice(0).forEach((w) => w[i](v as never));

/** The methods that return the client itself, typed with `this` (a Pick would say `ClientEngine`). */
interface Chain<In extends object> {
  on<K extends EventName<In>>(event: K, handler: ClientEventHandler<In, K>): this;
  once<K extends EventName<In>>(event: K, handler: ClientEventHandler<In, K>): this;
  off<K extends EventName<In>>(event: K, handler?: ClientEventHandler<In, K>): this;
  onAny(handler: (event: string, data: unknown) => void): this;
  offAny(handler?: (event: string, data: unknown) => void): this;
}

/** Core's `ClientEngine` public surface (documented there). */
export interface Engine<In extends object = AnyEvents, Out extends object = In> extends Chain<In>, Omit<ClientEngine<In, Out>, keyof Chain<In>> {}

export class Engine<In extends object = AnyEvents, Out extends object = In> {
  constructor(dial: Dialer, o: ClientOptions = {}) {
    const self = this;
    const { reconnect: rc, queue: qo = {}, heartbeat: hb } = o;
    const backoff = rc !== false && (rc === true ? {} : (rc ?? {}));
    const { maxMessages = 1000, maxBytes = 1 << 20, policy } = qo || { maxMessages: 0 };
    /** Handlers by event, [fn, once]; '' (no event has that name) holds the catch-all ones. Lists are replaced, never changed. */
    const handlers = new Map<string, [Fn, boolean | undefined][]>();
    const lifecycle = new Map<string, Set<Fn>>();
    const queue: Item[] = [];
    let queuedBytes = 0;
    const inflight = new Map<number, Req>();
    /** Rooms to be in: `true` once the server accepted, else the join() callers waiting. */
    const rooms = new Map<string, true | Waiter[]>();
    let state: ClientState = 'idle';
    let link: Link | undefined;
    /** The session id, while a session is open. */
    let sid: string | undefined;
    let gen = 0;
    let attempts = 0;
    let ever = false;
    let closed = false;
    let lastId = 0;
    /** The last server's frame limit, kept across reconnections to check queued frames. */
    let maxFrame = 0;
    let refusal: StelarError | null = null;
    let timedOut: StelarError | null = null;
    /** The DISCONNECT body the server sent, if any. */
    let peer: Record<string, unknown> | null = null;
    const waiters: Waiter[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined; // the connect or the retry timer
    let beat: ReturnType<typeof setTimeout> | undefined;
    let dialing: AbortController | undefined;
    /** Re-arms the heartbeat; called on every frame from the server. */
    let alive = (): void => undefined;

    /** Replaces an event's handler list; an empty one is dropped (no map entry per event ever seen). */
    const setList = (event: string, list: [Fn, boolean | undefined][]): unknown => (list.length ? handlers.set(event, list) : handlers.delete(event));
    const notify = <K extends keyof ClientLifecycle>(name: K, ...args: Parameters<ClientLifecycle[K]>): void => {
      for (const fn of [...(lifecycle.get(name) ?? [])]) attempt(() => (fn as (...a: typeof args) => void)(...args));
    };
    const setState = (s: ClientState): void => {
      if (state != s) notify('state', (state = s));
    };
    const send = (f: Uint8Array): number => link!.send(f, false);
    /** Refuses a frame above the server's announced limit (the server would close with 1009). */
    const checkSize = (f: Uint8Array): Uint8Array =>
      maxFrame && f.length > maxFrame ? fail('FRAME_TOO_LARGE', `frame of ${f.length} bytes exceeds the server's limit of ${maxFrame}`) : f;
    const stopTimers = (): void => {
      clearTimeout(timer);
      clearTimeout(beat);
      alive = () => undefined;
    };
    const full = (): StelarError => E('QUEUE_FULL', 'offline queue full');
    const queueFull = (): never => {
      throw full();
    };

    // ── the offline queue and requests ────────────────────────────────────────

    /** Takes a request out of the queue or the in-flight map, then settles it: rejects with `v`, or resolves with it when `ok`. */
    const settle = (req: Req, v: unknown, ok?: unknown): void => {
      const i = queue.indexOf(req);
      if (i >= 0) queuedBytes -= queue.splice(i, 1)[0]!.length;
      if (inflight.get(req.id) == req) inflight.delete(req.id);
      req.d(v, ok);
    };
    /**
     * Queues a frame or request: drop-oldest evicts (evicted requests reject with QUEUE_FULL),
     * drop-newest refuses, error refuses by throwing QUEUE_FULL.
     */
    const enqueue = (x: Item): boolean => {
      let ok = x.length <= maxBytes && maxMessages > 0;
      while (ok && (queue.length >= maxMessages || queuedBytes + x.length > maxBytes)) {
        if (policy && policy != 'drop-oldest') ok = false;
        else {
          const old = queue[0]!;
          queuedBytes -= queue.shift()!.length;
          if (isReq(old)) settle(old, full());
        }
      }
      if (ok) queuedBytes += queue.push(x) && x.length;
      else if (policy == 'error') queueFull();
      return ok;
    };
    /** Queues a frame or request; a request that cannot be queued is settled with why. */
    const put = (x: Item): void => {
      const [e, ok] = attempt(() => {
        if (isReq(x)) x.length = x.f(0).length;
        if (!enqueue(x)) queueFull();
      });
      if (!ok && isReq(x)) settle(x, e);
    };
    const sendReq = (req: Req): void => {
      do lastId = lastId >= 0xffff_ffff ? 1 : lastId + 1;
      while (inflight.has(lastId));
      const [f, ok] = attempt(() => checkSize(req.f(lastId)));
      if (!ok) return settle(req, f);
      inflight.set((req.id = lastId), req);
      // 3: SendStatus.CLOSED; a `retry` request stays for the reconnection.
      if (send(f as Uint8Array) == 3 && !req.r) settle(req, E('DISCONNECTED', 'connection closed'));
    };
    const track = (event: string, { timeout = o.requestTimeout ?? 10_000, signal, retry }: { timeout?: number; signal?: AbortSignal; retry?: boolean }, f: (id: number) => Uint8Array): Promise<unknown> =>
      new Promise((resolve, reject) => {
        const abort = (): void => settle(req, E('ABORTED', 'request aborted'));
        const t = timeout > 0 && timeout < Infinity ? setTimeout(() => settle(req, E('TIMEOUT', `request "${event}" timed out after ${timeout} ms`)), timeout) : 0;
        const req: Req = {
          f,
          r: retry,
          id: 0,
          length: 0,
          d: (v, ok) => {
            clearTimeout(t);
            signal?.removeEventListener('abort', abort);
            (ok ? resolve : reject)(v);
          },
        };
        if (signal?.aborted) return abort();
        signal?.addEventListener('abort', abort);
        if (sid) sendReq(req);
        else if (closed) settle(req, E('DISCONNECTED', 'client closed'));
        else put(req);
      });
    const sendJoin = (room: string): void => {
      track(room, {}, (id) => frame(T.JOIN, room, EMPTY, id)).then(
        () => {
          const w = rooms.get(room);
          if (w) rooms.set(room, true);
          if (w && w !== true) wake(w, 0);
        },
        (e: StelarError) => {
          const w = rooms.get(room);
          // A join lost to a dropped connection is retried after reconnecting; a refusal is final.
          if (!w || e.code == 'DISCONNECTED') return;
          rooms.delete(room);
          if (w !== true && w.length) wake(w, 1, e);
          else notify('error', e, room);
        },
      );
    };

    // ── inbound frames ────────────────────────────────────────────────────────

    /** Runs a handler; what it throws or rejects with becomes an `error` notification. */
    const guard = (event: string, fn: () => unknown): void => {
      const failed = (e: unknown): void => {
        const b = toErrorBody(e);
        notify('error', new StelarError(b.code, b.message, e), event);
      };
      const [r, ok] = attempt(fn);
      if (!ok) failed(r);
      else if (thenable(r)) r.then(undefined, failed);
    };
    const dispatch = ({ type, event, payload }: Frame): void => {
      const ask = type == T.ACK_REQ;
      const rid = ask ? u32(payload) : 0;
      /** Answers the request: an error body for `v`, or `v` when `ok`. */
      const reply = (v: unknown, ok?: unknown): unknown =>
        sid && !attempt(() => send(frame(T.ACK_RES, event, json(ok ? v : toErrorBody(v)), rid, ok ? 0 : 1)))[1] && reply(E('HANDLER_ERROR', 'reply is not JSON'));
      const [data, ok] = type == T.BINARY ? [payload, 1] : attempt(() => parse(payload.subarray(ask ? 4 : 0)));
      if (!ok) return void (ask ? reply(data) : notify('error', data as StelarError, event));
      for (const [fn] of handlers.get('') ?? []) guard(event, () => fn(event as never, data as never));
      const list = handlers.get(event) ?? [];
      if (list.some((h) => h[1])) setList(event, list.filter((h) => !h[1]));
      if (!ask) return list.forEach(([fn]) => guard(event, () => fn(data as never)));
      const [first, ...rest] = list;
      if (!first) return void reply(E('NO_HANDLER', `no handler for "${event}"`));
      const [r, done] = attempt(() => first[0](data as never));
      for (const [fn] of rest) guard(event, () => fn(data as never));
      if (done && thenable(r)) r.then((v) => reply(v, 1), reply);
      else reply(r, done);
    };
    const onFrame = (f: Frame): void => {
      alive();
      const { type, payload: p } = f;
      const [e, ok] = attempt(() => {
        if (type == T.CONNECT) {
          if (sid) fail('PROTOCOL', 'duplicate CONNECT');
          const h = obj(p, 'id', 'string');
          onSession(h['id'] as string, h['heartbeat'], h['maxFrame']);
        } else if (type == T.ERROR) {
          if (sid) notify('error', errorOf(p), f.event || undefined);
          else refusal = errorOf(p);
        } else if (type == T.PING) send(frame(T.PONG, '', p));
        else if (type == T.ACK_RES) {
          const req = inflight.get(u32(p));
          const b = p.subarray(5);
          if (req && p[4]) settle(req, errorOf(b));
          else if (req) settle(req, ...attempt(() => parse(b)));
        } else if (type == T.JSON || type == T.BINARY || type == T.ACK_REQ) dispatch(f);
        // The code and reason the server closes with, in case the socket ends without them.
        else if (type == T.DISCONNECT) peer = p.length ? obj(p, 'code', 'number') : null;
        // A PONG only shows that the server is alive (done above).
        else if (type != T.PONG) fail('PROTOCOL', `unexpected frame type ${type}`);
      });
      if (!ok) link?.close(1002, (e as Error).message);
    };

    // ── the connection's life ─────────────────────────────────────────────────

    const onSession = (id: string, heartbeat: unknown, max: unknown): void => {
      stopTimers();
      sid = id;
      maxFrame = typeof max == 'number' ? max : 0;
      attempts = 0;
      ever = true;
      // Rooms first, then the offline queue in order, then new sends: the state flips last.
      for (const room of rooms.keys()) sendJoin(room);
      queuedBytes = 0;
      for (const x of queue.splice(0)) {
        if (isReq(x)) sendReq(x);
        else {
          const [e, ok] = attempt(() => send(checkSize(x)));
          if (!ok) notify('error', e as StelarError);
        }
      }
      setState('connected');
      // Heartbeat: a PING after `interval` of silence; the server is gone `timeout` later.
      const l = link!;
      if (hb !== false) {
        (alive = () => {
          clearTimeout(beat);
          beat = setTimeout(
            () => {
              l.send(frame(T.PING, ''), false);
              beat = setTimeout(() => l.terminate(), hb?.timeout ?? 10_000);
            },
            hb?.interval ?? ((heartbeat as number) > 0 ? (heartbeat as number) : 25_000),
          );
        })();
      }
      notify('connected', { id });
      wake(waiters, 0);
    };
    /** The final stop: state `disconnected`, waiters rejected, the queue dropped. */
    const finish = (e: unknown, code?: number, reason = ''): void => {
      stopTimers();
      if (code && state != 'disconnected' && state != 'idle') {
        setState('disconnected');
        notify('disconnected', { code, reason, willReconnect: false });
      }
      setState('disconnected');
      wake(waiters, 1, e);
      for (const x of queue) if (isReq(x)) x.d(E('DISCONNECTED', 'client disconnected'));
      queue.length = queuedBytes = 0;
      rooms.forEach((w, room) => w !== true && w.length && (rooms.delete(room), wake(w, 1, e)));
    };
    const retry = (e: unknown): void => {
      if (!backoff || attempts >= (backoff.maxAttempts ?? Infinity)) {
        if (backoff) notify('reconnect_failed', { attempts, error: e });
        return finish(e);
      }
      const delay = backoffDelay(attempts++, backoff);
      setState('reconnecting');
      notify('reconnecting', { attempt: attempts, delay });
      timer = setTimeout(open, delay);
    };
    const lost = (code: number, reason: string): void => {
      if (peer && (code == 1005 || code == 1006)) {
        code = peer['code'] as number;
        reason = typeof peer['reason'] == 'string' ? peer['reason'] : '';
      }
      const had = sid;
      const why = E('DISCONNECTED', `connection closed (${code}${reason ? `: ${reason}` : ''})`);
      link = sid = undefined;
      stopTimers();
      gen++;
      // Requests on the wire: `retry` ones go back to the front of the queue, the others fail.
      const again: Item[] = [];
      inflight.forEach((req) => (req.r && !closed && qo ? again.push(req) : req.d(why)));
      inflight.clear();
      if (again.length) {
        for (const req of again) (req as Req).id = 0;
        queuedBytes = 0;
        for (const x of again.concat(queue.splice(0))) put(x);
      }
      rooms.forEach((w, room) => w === true && rooms.set(room, []));
      const fatal = code == 4001 || code == 4002;
      const refused = refusal ?? (fatal ? E(code == 4001 ? 'UNAUTHORIZED' : 'VERSION_MISMATCH', reason || 'refused') : null);
      if (closed) finish(E('DISCONNECTED', 'client closed'), code, reason);
      else if (refused && (fatal || !ever)) finish(refused, code, reason);
      // The link opened but no session followed (connect timeout, or the server hung up).
      else if (!had) retry(timedOut ?? why);
      else {
        notify('disconnected', { code, reason, willReconnect: !!backoff });
        retry(why);
      }
    };
    const open = async (): Promise<void> => {
      const g = ++gen;
      const mine = (): boolean => g == gen;
      const ms = o.connectTimeout ?? 10_000;
      const ac = (dialing = new AbortController());
      setState(ever ? 'reconnecting' : 'connecting');
      refusal = timedOut = peer = null;
      timer = setTimeout(() => {
        ac.abort((timedOut = E('TIMEOUT', `not connected within ${ms} ms`)));
        if (mine()) link?.terminate();
      }, ms);
      try {
        const auth = typeof o.auth == 'function' ? await (o.auth as () => unknown)() : o.auth;
        ac.signal.throwIfAborted();
        const l = await dial(
          {
            onFrame: (f) => mine() && onFrame(f),
            onProtocolError: (e) => mine() && link?.close(e.closeCode, e.message),
            onPong: () => mine() && alive(),
            onDrain() {},
            onClose: (code, reason) => mine() && lost(code, reason),
          },
          ac.signal,
        );
        if (!mine() || closed) return l.terminate();
        (link = l).send(frame(T.CONNECT, '', json(auth === undefined ? { v: 1 } : { v: 1, auth })), false);
      } catch (e) {
        if (!mine()) return;
        clearTimeout(timer);
        if ((e as { fatal?: unknown } | null)?.fatal === true || closed) finish(e, 1006, String((e as Error)?.message ?? e));
        else retry(e);
      }
    };

    // ── the public surface ────────────────────────────────────────────────────

    const on = (event: string, fn: Fn, once?: boolean): Engine<In, Out> => (handlers.set(event, [...(handlers.get(event) ?? []), [fn, once]]), self);
    const off = (event: string, fn?: Fn, all?: boolean): Engine<In, Out> => {
      const list = handlers.get(event) ?? [];
      const i = list.findIndex((h) => h[0] == fn);
      setList(event, fn ? list.filter((h, j) => (all ? h[0] != fn : j != i)) : []);
      return self;
    };
    Object.defineProperties(this, {
      state: { get: () => state },
      id: { get: () => sid },
      connected: { get: () => state == 'connected' },
      queued: { get: () => queue.length },
      rooms: { get: () => new Set(rooms.keys()) },
    });
    const api: Omit<ClientEngine<In, Out>, 'state' | 'id' | 'connected' | 'queued' | 'rooms'> = {
      connect: () =>
        new Promise<void>((resolve, reject) => {
          if (state == 'connected') return resolve();
          waiters.push([resolve, reject]);
          if (state == 'idle' || state == 'disconnected') {
            closed = false;
            attempts = 0;
            void open();
          }
        }),
      close(code = 1000, reason = '') {
        closed = true;
        stopTimers();
        dialing?.abort(E('DISCONNECTED', 'client closed'));
        if (link) link.close(code, reason);
        else finish(E('DISCONNECTED', 'client closed'), code, reason);
      },
      on: on as never,
      once: ((event: string, fn: Fn) => on(event, fn, true)) as never,
      off: off as never,
      onAny: ((fn: Fn) => on('', fn)) as never,
      offAny: ((fn?: Fn) => off('', fn, true)) as never,
      onLifecycle(name, fn) {
        const set = lifecycle.get(name) ?? new Set();
        lifecycle.set(name, set.add(fn));
        return () => set.delete(fn);
      },
      emit: ((event: string, data?: unknown, opts?: { volatile?: boolean }) => {
        const bin = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
        const f = checkSize(bin instanceof Uint8Array ? frame(T.BINARY, event, bin) : frame(T.JSON, event, json(data)));
        const volatile = !!opts?.volatile;
        // SendStatus: OK 0 and BUFFERED 1 are sent, DROPPED 2 is not, CLOSED 3 goes to the queue.
        const s = sid ? link!.send(f, volatile) : 3;
        return s < 3 ? s < 2 : !volatile && !closed && enqueue(f);
      }) as never,
      request: ((event: string, data?: unknown, opts = {}) => track(event, opts, (id) => frame(T.ACK_REQ, event, json(data), id))) as never,
      join(room) {
        const w = rooms.get(room) ?? [];
        if (w === true) return Promise.resolve();
        rooms.set(room, w);
        const p = new Promise<void>((resolve, reject) => w.push([resolve, reject]));
        if (sid && w.length == 1) sendJoin(room);
        return p;
      },
      async leave(room) {
        const w = rooms.get(room);
        rooms.delete(room);
        if (w !== true) wake(w ?? [], 1, E('REJECTED', `left "${room}" before it was joined`));
        if (sid) await track(room, {}, (id) => frame(T.LEAVE, room, EMPTY, id));
      },
    };
    Object.assign(this, api);
  }
}
