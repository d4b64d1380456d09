import { asBytes, backoffDelay, isBinary, StelarError, toErrorBody } from '@stelar/core';
import type { AnyEvents, ClientEngine, ClientEventHandler, ClientLifecycle, ClientOptions, ClientState, Dialer, EventName, Link } from '@stelar/core';
import { EMPTY, errorOf, fail, frame, json, obj, parse, T, u32, type Frame } from './wire';

/*
 * The browser's client engine: the behaviour of core's `ClientEngine` (state machine,
 * reconnection with backoff and full jitter, offline queue, requests, rooms, heartbeats) over the
 * same `Dialer`, written for size. Closures instead of fields, arrays instead of core's queue and
 * handler-registry classes. What it shares with core: `StelarError`, `toErrorBody`,
 * `backoffDelay`, `isBinary`/`asBytes`, the option and lifecycle types, and its public surface,
 * which is `ClientEngine`'s by construction (test/api.test.ts checks every member is there).
 */

type Fn = (...args: never[]) => unknown;
type Waiter = [resolve: () => void, reject: (e: unknown) => void];

/** A request of this client: in the offline queue (id 0) or on the wire. */
interface Req {
  /** Encodes the request's frame with an id. */
  readonly f: (id: number) => Uint8Array;
  readonly y: (v: unknown) => void;
  readonly n: (e: unknown) => void;
  /** Kept across a reconnection (`retry: true`). */
  readonly r: boolean | undefined;
  /** Cancels the timeout and the abort listener. */
  c: () => void;
  id: number;
  /** Size in the offline queue (the encoded frame's), like a queued frame's `length`. */
  length: number;
}

/** In the offline queue: a frame, or a request. */
type Item = Uint8Array | Req;
const isReq = (x: Item): x is Req => !(x instanceof Uint8Array);
const E = (code: string, message: string): StelarError => new StelarError(code, message);
const why = (code: number, reason: string): string => `(${code}${reason ? `: ${reason}` : ''})`;

/** The methods that return the client itself, typed with `this` (Pick would give `ClientEngine`). */
interface Chain<In extends object> {
  on<K extends EventName<In>>(event: K, handler: ClientEventHandler<In, K>): this;
  once<K extends EventName<In>>(event: K, handler: ClientEventHandler<In, K>): this;
  off<K extends EventName<In>>(event: K, handler?: ClientEventHandler<In, K>): this;
  onAny(handler: (event: string, data: unknown) => void): this;
  offAny(handler?: (event: string, data: unknown) => void): this;
}

/** Core's `ClientEngine` public surface (docs there). */
export interface Engine<In extends object = AnyEvents, Out extends object = In> extends Chain<In>, Omit<ClientEngine<In, Out>, keyof Chain<In>> {}

export class Engine<In extends object = AnyEvents, Out extends object = In> {
  constructor(dial: Dialer, o: ClientOptions = {}) {
    const bo = o.reconnect === false ? false : o.reconnect === true ? {} : (o.reconnect ?? {});
    const qo = o.queue === false ? null : (o.queue ?? {});
    const maxMessages = qo?.maxMessages ?? 1000;
    const maxBytes = qo?.maxBytes ?? 1 << 20;
    const policy = qo?.policy ?? 'drop-oldest';
    /** Handlers by event: [fn, once]; lists are replaced, never changed, so dispatch may iterate one. */
    const handlers = new Map<string, [Fn, boolean][]>();
    let anys: Fn[] = [];
    const life = new Map<string, Set<Fn>>();
    const queue: Item[] = [];
    let queued = 0; // bytes
    const inflight = new Map<number, Req>();
    /** Rooms to be in; `true` once the server accepted, else the join() callers waiting. */
    const rooms = new Map<string, true | Waiter[]>();
    let state: ClientState = 'idle';
    let link: Link | null = null;
    let id: string | undefined; // set while a session is open
    let gen = 0;
    let attempts = 0;
    let ever = false;
    let closed = false;
    let nextId = 0;
    let maxFrame = 0; // the last server's, kept across reconnections to check queued frames
    let refusal: StelarError | null = null;
    let timedOut: StelarError | null = null;
    let peer: [number, string] | null = null;
    let waiters: Waiter[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined; // retry or connect
    let beat: ReturnType<typeof setTimeout> | undefined;
    let abort: AbortController | null = null;
    let alive = (): void => undefined; // re-arms the heartbeat on every sign of life

    const notify = <K extends keyof ClientLifecycle>(name: K, ...args: Parameters<ClientLifecycle[K]>): void => {
      for (const fn of [...(life.get(name) ?? [])]) {
        try {
          (fn as (...a: typeof args) => void)(...args);
        } catch {
          /* a listener's failure must not break the engine */
        }
      }
    };
    const setState = (s: ClientState): void => {
      if (state !== s) notify('state', (state = s));
    };
    const send = (f: Uint8Array): number => link!.send(f, false);
    /** Refuses a frame above the server's announced limit (it would close the connection with 1009). */
    const checkSize = (f: Uint8Array): void => {
      if (maxFrame > 0 && f.length > maxFrame) fail('FRAME_TOO_LARGE', `frame of ${f.length} bytes exceeds the server's limit of ${maxFrame}`);
    };

    // ── the offline queue and requests ────────────────────────────────────────

    const settle = (req: Req, ok: boolean, v: unknown): void => {
      req.c();
      if (inflight.get(req.id) === req) inflight.delete(req.id);
      else {
        const i = queue.indexOf(req);
        if (i >= 0) queued -= queue.splice(i, 1)[0]!.length;
      }
      (ok ? req.y : req.n)(v);
    };
    /** Queues a frame or request: evicts (drop-oldest) or refuses (drop-newest; error throws QUEUE_FULL). */
    const enqueue = (x: Item): boolean => {
      let ok = !!qo && x.length <= maxBytes && maxMessages > 0;
      while (ok && (queue.length >= maxMessages || queued + x.length > maxBytes)) {
        if (policy !== 'drop-oldest') ok = false;
        else {
          const old = queue.shift()!;
          queued -= old.length;
          if (isReq(old)) settle(old, false, E('QUEUE_FULL', 'dropped from the full offline queue'));
        }
      }
      if (ok) {
        queue.push(x);
        queued += x.length;
      } else if (qo && policy === 'error') fail('QUEUE_FULL', 'offline queue is full');
      return ok;
    };
    /** Queues a frame or request; a request that cannot be is settled with why. */
    const put = (x: Item): void => {
      try {
        if (isReq(x)) x.length = x.f(0).length;
        if (!enqueue(x)) fail('QUEUE_FULL', 'offline queue is full');
      } catch (e) {
        if (isReq(x)) settle(x, false, e);
      }
    };
    const sendReq = (req: Req): void => {
      do nextId = nextId >= 0xffff_ffff ? 1 : nextId + 1;
      while (inflight.has(nextId));
      let f: Uint8Array;
      try {
        checkSize((f = req.f(nextId)));
      } catch (e) {
        return settle(req, false, e);
      }
      inflight.set((req.id = nextId), req);
      if (send(f) === 3 && !req.r) settle(req, false, E('DISCONNECTED', 'connection closed')); // 3: SendStatus.CLOSED
    };
    const track = (event: string, opts: { timeout?: number; signal?: AbortSignal; retry?: boolean }, f: (id: number) => Uint8Array): Promise<unknown> =>
      new Promise((y, n) => {
        const signal = opts.signal;
        if (signal?.aborted) return n(E('ABORTED', 'request aborted'));
        const ms = opts.timeout ?? o.requestTimeout ?? 10_000;
        const t = ms > 0 && ms < Infinity ? setTimeout(() => settle(req, false, E('TIMEOUT', `request "${event}" timed out after ${ms} ms`)), ms) : undefined;
        const onAbort = (): void => settle(req, false, E('ABORTED', 'request aborted'));
        const req: Req = { f, y, n, r: opts.retry, id: 0, length: 0, c: () => (clearTimeout(t), signal?.removeEventListener('abort', onAbort)) };
        signal?.addEventListener('abort', onAbort);
        if (id) sendReq(req);
        else if (closed) settle(req, false, E('DISCONNECTED', 'client is closed'));
        else put(req);
      });
    const sendJoin = (room: string): void => {
      track(room, {}, (i) => frame(T.JOIN, room, EMPTY, i)).then(
        () => {
          const w = rooms.get(room);
          if (!w) return;
          rooms.set(room, true);
          if (w !== true) for (const x of w) x[0]();
        },
        (e: StelarError) => {
          const w = rooms.get(room);
          // A join lost to a dropped connection is retried after reconnecting; a refusal is final.
          if (!w || e.code === 'DISCONNECTED') return;
          rooms.delete(room);
          if (w !== true && w.length) for (const x of w) x[1](e);
          else notify('error', e, room);
        },
      );
    };

    // ── inbound frames ────────────────────────────────────────────────────────

    /** Runs a handler; what it throws or rejects with becomes an `error` notification. */
    const guard = (fn: () => unknown, event: string): void => {
      const failed = (e: unknown): void => {
        const b = toErrorBody(e);
        notify('error', new StelarError(b.code, b.message, e), event);
      };
      try {
        const r = fn() as PromiseLike<unknown> | null;
        if (typeof r?.then === 'function') r.then(undefined, failed);
      } catch (e) {
        failed(e);
      }
    };
    const dispatch = ({ type, event, payload }: Frame): void => {
      const isRequest = type === T.ACK_REQ;
      const rid = isRequest ? u32(payload) : 0;
      const reply = (ok: boolean, v: unknown): void => {
        if (!id) return;
        try {
          send(frame(T.ACK_RES, event, json(ok ? v : toErrorBody(v)), rid, ok ? 0 : 1));
        } catch {
          send(frame(T.ACK_RES, event, json({ code: 'HANDLER_ERROR', message: 'reply is not JSON-serialisable' }), rid, 1));
        }
      };
      let data: unknown;
      try {
        data = type === T.BINARY ? payload : parse(payload.subarray(isRequest ? 4 : 0));
      } catch (e) {
        return isRequest ? reply(false, e) : notify('error', e as StelarError, event);
      }
      for (const fn of anys) guard(() => fn(event as never, data as never), event);
      const list = handlers.get(event) ?? [];
      if (list.some((h) => h[1])) handlers.set(event, list.filter((h) => !h[1]));
      const fns = list.map((h) => h[0]);
      if (!isRequest) return fns.forEach((fn) => guard(() => fn(data as never), event));
      if (!fns[0]) return reply(false, E('NO_HANDLER', `no handler for "${event}"`));
      let r: unknown;
      try {
        r = fns[0](data as never);
      } catch (e) {
        return reply(false, e);
      } finally {
        for (const fn of fns.slice(1)) guard(() => fn(data as never), event);
      }
      if (typeof (r as PromiseLike<unknown> | null)?.then === 'function') (r as PromiseLike<unknown>).then((v) => reply(true, v), (e: unknown) => reply(false, e));
      else reply(true, r);
    };
    const onFrame = (f: Frame): void => {
      alive();
      const p = f.payload;
      try {
        switch (f.type) {
          case T.CONNECT: {
            if (id) fail('PROTOCOL', 'duplicate CONNECT');
            const h = obj(p, 'id', 'string');
            if (typeof h['v'] !== 'number') fail('BAD_PAYLOAD', 'server CONNECT without "v"');
            return onSession(h['id'] as string, h['heartbeat'], h['maxFrame']);
          }
          case T.ERROR:
            if (id) notify('error', errorOf(p), f.event || undefined);
            else refusal = errorOf(p);
            return;
          case T.DISCONNECT: {
            const v = p.length ? obj(p, 'code', 'number') : null;
            peer = v && [v['code'] as number, typeof v['reason'] === 'string' ? v['reason'] : ''];
            return;
          }
          case T.PING:
            send(frame(T.PONG, '', p));
            return;
          case T.PONG:
            return;
          case T.ACK_RES: {
            const req = inflight.get(u32(p));
            if (!req) return;
            if (p[4]) return settle(req, false, errorOf(p.subarray(5)));
            let v: unknown;
            try {
              v = parse(p.subarray(5));
            } catch (e) {
              return settle(req, false, e);
            }
            return settle(req, true, v);
          }
          case T.JSON:
          case T.BINARY:
          case T.ACK_REQ:
            return dispatch(f);
        }
        fail('PROTOCOL', `unexpected frame type ${f.type} from the server`);
      } catch (e) {
        link?.close(1002, toErrorBody(e, 'PROTOCOL').message);
      }
    };

    // ── the connection's life ─────────────────────────────────────────────────

    const stopTimers = (): void => {
      clearTimeout(timer);
      clearTimeout(beat);
      alive = () => undefined;
    };
    const onSession = (sid: string, heartbeat: unknown, max: unknown): void => {
      stopTimers();
      abort = null;
      id = sid;
      maxFrame = typeof max === 'number' ? max : 0;
      attempts = 0;
      ever = true;
      // Rooms first, then the offline queue in order, then new sends: state flips last.
      for (const room of rooms.keys()) sendJoin(room);
      queued = 0;
      for (const x of queue.splice(0)) {
        if (isReq(x)) sendReq(x);
        else {
          try {
            checkSize(x);
            send(x);
          } catch (e) {
            notify('error', e as StelarError);
          }
        }
      }
      setState('connected');
      // Heartbeat: a PING after `interval` of silence; the server is gone if `timeout` more pass.
      const hb = o.heartbeat;
      if (hb !== false) {
        const interval = hb?.interval ?? ((heartbeat as number) > 0 ? (heartbeat as number) : 25_000);
        const l = link!;
        (alive = () => {
          clearTimeout(beat);
          beat = setTimeout(() => {
            l.send(frame(T.PING, ''), false);
            beat = setTimeout(() => l.terminate(), hb?.timeout ?? 10_000);
          }, interval);
        })();
      }
      notify('connected', { id: sid });
      for (const w of waiters.splice(0)) w[0]();
    };
    /** Final stop: state `disconnected`, waiters rejected, queue dropped. */
    const finish = (e: unknown, code?: number, reason = ''): void => {
      stopTimers();
      const was = state !== 'disconnected' && state !== 'idle';
      setState('disconnected');
      if (code && was) notify('disconnected', { code, reason, willReconnect: false });
      for (const w of waiters.splice(0)) w[1](e);
      queued = 0;
      for (const x of queue.splice(0)) if (isReq(x)) settle(x, false, E('DISCONNECTED', 'client disconnected'));
      for (const [room, w] of rooms) {
        if (w !== true && w.length) {
          rooms.delete(room);
          for (const x of w) x[1](e);
        }
      }
    };
    const retry = (e: unknown): void => {
      if (!bo || attempts >= (bo.maxAttempts ?? Infinity)) {
        if (bo) notify('reconnect_failed', { attempts, error: e });
        return finish(e);
      }
      const delay = backoffDelay(attempts++, bo);
      setState('reconnecting');
      notify('reconnecting', { attempt: attempts, delay });
      timer = setTimeout(attempt, delay);
    };
    const lost = (code: number, reason: string): void => {
      if (peer && (code === 1005 || code === 1006)) [code, reason] = peer;
      const had = id;
      link = null;
      id = undefined;
      stopTimers();
      gen++;
      // Requests on the wire: retried ones go back to the front of the queue, the rest fail.
      const again: Item[] = [];
      for (const req of [...inflight.values()]) {
        inflight.delete(req.id);
        req.id = 0;
        if (req.r && !closed && qo) again.push(req);
        else settle(req, false, E('DISCONNECTED', `connection closed ${why(code, reason)}`));
      }
      if (again.length) {
        queued = 0;
        for (const x of [...again, ...queue.splice(0)]) put(x);
      }
      for (const [room, w] of rooms) if (w === true) rooms.set(room, []);

      const fatal = code === 4001 || code === 4002;
      const refused = refusal ?? (fatal ? E(code === 4002 ? 'VERSION_MISMATCH' : 'UNAUTHORIZED', reason || 'refused') : null);
      if (closed) finish(E('DISCONNECTED', 'client closed'), code, reason);
      else if (refused && (fatal || !ever)) finish(refused, code, reason);
      // The link opened but no session followed (connect timeout, or the server hung up).
      else if (!had) retry(timedOut ?? E('DISCONNECTED', `connection closed before the session opened ${why(code, reason)}`));
      else {
        notify('disconnected', { code, reason, willReconnect: !!bo });
        retry(E('DISCONNECTED', `connection closed ${why(code, reason)}`));
      }
    };
    const attempt = async (): Promise<void> => {
      const g = ++gen;
      const mine = (): boolean => g === gen;
      setState(ever ? 'reconnecting' : 'connecting');
      refusal = peer = timedOut = null;
      const ac = (abort = new AbortController());
      const ms = o.connectTimeout ?? 10_000;
      timer = setTimeout(() => {
        ac.abort((timedOut = E('TIMEOUT', `connection not established within ${ms} ms`)));
        if (mine()) link?.terminate();
      }, ms);
      try {
        const auth = typeof o.auth === 'function' ? await (o.auth as () => unknown)() : o.auth;
        if (ac.signal.aborted) throw ac.signal.reason;
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
        abort = null;
        if ((e as { fatal?: unknown } | null)?.fatal === true || closed) finish(e, 1006, String((e as Error)?.message ?? e));
        else retry(e);
      }
    };

    // ── the public surface ────────────────────────────────────────────────────

    const getters: { [K in 'state' | 'id' | 'connected' | 'queued' | 'rooms']: () => Engine<In, Out>[K] } = {
      state: () => state,
      id: () => id,
      connected: () => state === 'connected',
      queued: () => queue.length,
      rooms: () => new Set(rooms.keys()),
    };
    for (const [k, get] of Object.entries(getters)) Object.defineProperty(this, k, { get });

    const self = this as Engine<In, Out>;
    const on = (event: string, fn: Fn, once = false): Engine<In, Out> => (handlers.set(event, [...(handlers.get(event) ?? []), [fn, once]]), self);
    const api: Omit<ClientEngine<In, Out>, keyof typeof getters> = {
      connect() {
        if (state === 'connected') return Promise.resolve();
        const p = new Promise<void>((resolve, reject) => waiters.push([resolve, reject]));
        if (state === 'idle' || state === 'disconnected') {
          closed = false;
          attempts = 0;
          void attempt();
        }
        return p;
      },
      close(code = 1000, reason = '') {
        closed = true;
        stopTimers();
        abort?.abort(E('DISCONNECTED', 'client closed'));
        abort = null;
        if (link) link.close(code, reason);
        else finish(E('DISCONNECTED', 'client closed'), code, reason);
      },
      on: on as never,
      once: ((event: string, fn: Fn) => on(event, fn, true)) as never,
      off: ((event: string, fn?: Fn) => {
        const list = handlers.get(event) ?? [];
        const i = list.findIndex((h) => h[0] === fn);
        if (!fn) handlers.delete(event);
        else if (i >= 0) handlers.set(event, list.filter((_, j) => j !== i));
        return self;
      }) as never,
      onAny: ((fn: Fn) => ((anys = [...anys, fn]), self)) as never,
      offAny: ((fn?: Fn) => ((anys = fn ? anys.filter((f) => f !== fn) : []), self)) as never,
      onLifecycle(name, fn) {
        let set = life.get(name);
        if (!set) life.set(name, (set = new Set()));
        set.add(fn);
        return () => set.delete(fn);
      },
      emit: ((event: string, data?: unknown, opts?: { volatile?: boolean }) => {
        const f = isBinary(data) ? frame(T.BINARY, event, asBytes(data)) : frame(T.JSON, event, json(data));
        checkSize(f);
        const volatile = opts?.volatile ?? false;
        if (id) {
          const s = link!.send(f, volatile); // SendStatus: OK 0, BUFFERED 1, DROPPED 2, CLOSED 3
          if (s < 3) return s < 2;
        }
        return !volatile && !closed && enqueue(f);
      }) as never,
      request: ((event: string, data?: unknown, opts = {}) => track(event, opts, (i) => frame(T.ACK_REQ, event, json(data), i))) as never,
      join(room) {
        const w = rooms.get(room) ?? [];
        if (w === true) return Promise.resolve();
        rooms.set(room, w);
        const p = new Promise<void>((resolve, reject) => w.push([resolve, reject]));
        if (id && w.length === 1) sendJoin(room);
        return p;
      },
      async leave(room) {
        const w = rooms.get(room);
        rooms.delete(room);
        if (w !== true) for (const x of w ?? []) x[1](E('REJECTED', `left "${room}" before it was joined`));
        if (id) await track(room, {}, (i) => frame(T.LEAVE, room, EMPTY, i));
      },
    };
    Object.assign(this, api);
  }
}
