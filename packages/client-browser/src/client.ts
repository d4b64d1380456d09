import { backoffDelay, StelarError } from '@stelar/core/client';
import type { AnyEvents, BackoffOptions, ClientEngine, ClientLifecycle, ClientRequestOptions, ClientState } from '@stelar/core/client';
import { failure, wake, type Chain, type Fn, type Msg, type Waiter } from './helpers';
import { DialError, resolveUrl, type BrowserClientOptions } from './options';
import { attempt, decode, E, encoder, errorOf, fail, frame, json, obj, parse, T, tooLarge, u32, u32be, type Frame } from './wire';

/*
 * The browser client: the behaviour of core's `ClientEngine` (state machine, reconnection with
 * backoff and full jitter, offline queue, requests, rooms, heartbeats) over the page's
 * `WebSocket`, written for the size of the <script> bundle: closures instead of fields, the
 * socket driven directly (no `Link`/`Dialer` layer between them), arrays and maps instead of
 * core's queue and handler-registry classes, short messages.
 *
 * Shared with core: `StelarError`, `backoffDelay` (`failure` below reads errors as core's
 * `toErrorBody` does), the option and lifecycle types, and the public surface, which is
 * `ClientEngine`'s by construction (test/api.test.ts checks that every member exists). The
 * Chromium tests in test/parity.test.ts hold it to core's behaviour against the real server.
 */

/**
 * A Stelar client in the browser, over the native `WebSocket`: events, requests, rooms,
 * reconnection, the offline queue and heartbeats, with the API and behaviour of core's
 * `ClientEngine` (the same as `@stelar/client-node`'s; documented there).
 */
export interface StelarClient<In extends object = AnyEvents, Out extends object = In> extends Chain<In>, Omit<ClientEngine<In, Out>, keyof Chain<In> | NotPortedYet | 'connect'> {
  /** Resolves once the server accepted the session; rejects on a refusal, when attempts run out, or on `close()`. */
  connect(): Promise<void>;
}

/**
 * Members of core's `ClientEngine` this client does not have yet (issue 15: client counters, and
 * `connect({ timeout, signal })` above); remove a name here once it is implemented.
 */
type NotPortedYet = 'messagesSent' | 'messagesReceived' | 'connectedAt' | 'lastError';

export class StelarClient<In extends object = AnyEvents, Out extends object = In> {
  /** The WebSocket URL (`resolveUrl` of the one given). */
  declare readonly url: string;

  constructor(url?: string | URL, o: BrowserClientOptions = {}) {
    const href = (this.url = resolveUrl(url));
    const { reconnect: rc, queue: qo = {}, heartbeat: hb } = o;
    const backoff = rc !== false && { ...(rc as BackoffOptions) }; // true and undefined give {}
    const { maxMessages = 1000, maxBytes = 1 << 20, policy } = qo || { maxMessages: 0 };
    /** Handlers by event, [fn, once]; '' (no event has that name) holds the catch-all ones. Lists are replaced, never changed. */
    const handlers = new Map<string, [Fn, boolean | undefined][]>();
    const lifecycle = new Map<string, Set<Fn>>();
    /** The offline queue: frames, requests among them. */
    const queue: Msg[] = [];
    let bytes = 0;
    const pending = new Map<number, Msg>();
    /** Rooms to be in: 0 once the server accepted, else the join() callers waiting. */
    const rooms = new Map<string, Waiter[] | 0>();
    let state: ClientState = 'idle';
    /** The socket of the current attempt or session. */
    let ws: WebSocket | undefined;
    /** The session id, while a session is open. */
    let sid: string | undefined;
    /** Bumped when an attempt ends: an `auth` function that resolves later finds it changed. */
    let gen = 0;
    let attempts = 0;
    let ever = false;
    let closed = false;
    let lastId = 0;
    /** The last server's frame limit, kept across reconnections to check queued frames. */
    let maxFrame = 0;
    /** The session's heartbeat interval (0: none). */
    let every = 0;
    /** An ERROR frame before the session: why the server refused it. */
    let refusal: StelarError | undefined;
    /** The DISCONNECT body the server sent, if any. */
    let peer: Record<string, unknown> | undefined;
    const waiters: Waiter[] = [];
    /** The one timer running: the connect timer of an attempt, the heartbeat of a session, or the retry delay. */
    let timer: ReturnType<typeof setTimeout> | undefined;

    /** Replaces an event's handler list; an empty one is dropped (no map entry per event ever seen). */
    const setList = (event: string, list: [Fn, boolean | undefined][]): unknown => (list.length ? handlers.set(event, list) : handlers.delete(event));
    const notify = <K extends keyof ClientLifecycle>(name: K, ...args: Parameters<ClientLifecycle[K]>): void => {
      for (const fn of [...(lifecycle.get(name) ?? [])]) attempt(() => (fn as (...a: typeof args) => void)(...args));
    };
    const setState = (s: ClientState): void => {
      if (state != s) notify('state', (state = s));
    };
    /** Puts a frame on the socket (WebSocket messages carry no totalLen). */
    const raw = (f: Uint8Array): void => ws!.send(f.subarray(4));
    /**
     * Sends in the session; says as core's SendStatus: sent 0 (OK or BUFFERED: the caller does
     * not tell them apart), DROPPED 2 (volatile, over highWaterMark), CLOSED 3 (no session).
     */
    const send = (f: Uint8Array, volatile?: unknown): number =>
      !sid || ws!.readyState != 1 ? 3
      : volatile && ws!.bufferedAmount > (o.highWaterMark ?? 1 << 20) ? 2
      : (raw(f), 0);
    /** Refuses a frame above the server's announced limit (the server would close with 1009). */
    const big = (f: Uint8Array): Uint8Array => (maxFrame && f.length > maxFrame ? tooLarge(f.length, maxFrame, "the server's") : f);
    const stopTimers = (): void => {
      clearTimeout(timer);
      every = 0;
    };
    const full = (): StelarError => E('QUEUE_FULL', 'offline queue full');

    // ── the offline queue and requests ────────────────────────────────────────

    /** Queues a frame: drop-oldest evicts (an evicted request rejects with QUEUE_FULL), the others refuse (false). */
    const enqueue = (f: Msg): boolean => {
      if (f.length > maxBytes || !maxMessages) return false;
      while (queue.length >= maxMessages || bytes + f.length > maxBytes) {
        if (policy && policy != 'drop-oldest') return false;
        const old = queue.shift()!;
        bytes -= old.length;
        old.d?.(full());
      }
      bytes += f.length;
      return !!queue.push(f);
    };
    /**
     * Sends a queued frame or a request's: one too big is refused (as an `error` notification,
     * or the request rejects). A request sent while the socket is closing is on the wire for
     * lost(): it fails there (DISCONNECTED), or waits for the next session with `retry`.
     */
    const flush = (f: Msg): void => {
      const [e, ok] = attempt(() => send(big(f)));
      if (!ok) f.d ? f.d(e) : notify('error', e as StelarError);
    };
    const track = (event: string, { timeout = o.requestTimeout ?? 10_000, signal, retry }: ClientRequestOptions, make: (id: number[]) => Uint8Array): Promise<unknown> =>
      new Promise((resolve, reject) => {
        do lastId = (lastId + 1) >>> 0; // a u32, wrapping to 0
        while (pending.has(lastId));
        const id = lastId;
        const f: Msg = make(u32be(id)); // a bad event name rejects here
        const settle = (f.d = (v: unknown, ok?: unknown) => {
          clearTimeout(t as never); // false: no timer
          signal?.removeEventListener('abort', abort);
          pending.delete(id);
          if (queue.includes(f)) (bytes -= f.length), queue.splice(queue.indexOf(f), 1);
          (ok ? resolve : reject)(v);
        });
        const abort = (): void => settle(E('ABORTED', 'aborted'));
        const t = timeout > 0 && timeout < Infinity && setTimeout(() => settle(E('TIMEOUT', `request "${event}" timed out after ${timeout} ms`)), timeout);
        f.r = retry;
        pending.set(id, f);
        if (signal?.aborted) return abort();
        signal?.addEventListener('abort', abort);
        if (sid) flush(f);
        else if (closed) settle(E('DISCONNECTED', 'client closed'));
        else if (!enqueue(f)) settle(full());
      });
    const sendJoin = (room: string): void => {
      track(room, {}, (id) => frame(T.JOIN, room, id)).then(
        () => {
          const w = rooms.get(room);
          if (w) rooms.set(room, 0), wake(w, 0);
        },
        (e: StelarError) => {
          const w = rooms.get(room);
          // A join lost to a dropped connection is retried after reconnecting; a refusal is final.
          if (!w || e.code == 'DISCONNECTED') return;
          rooms.delete(room);
          if (w.length) wake(w, 1, e);
          else notify('error', e, room);
        },
      );
    };

    // ── inbound frames ────────────────────────────────────────────────────────

    /**
     * Runs a handler at once, as a promise of its result (what it throws rejects it; a promise it
     * returns is followed).
     */
    const run = (fn: () => unknown): Promise<unknown> => new Promise((r) => r(fn()));
    /** Runs a handler; what it throws or rejects with becomes an `error` notification (a microtask later). */
    const guard = (event: string, fn: () => unknown): unknown =>
      run(fn).catch((e) => notify('error', failure(e), event));
    /** One frame from the server; what it throws is a protocol error (the socket closes with 1002). */
    const onFrame = ([type, event, p]: Frame): void => {
      const ask = type == T.ACK_REQ;
      if (type == T.CONNECT) {
        if (sid) fail('PROTOCOL', 'duplicate CONNECT');
        // The session: { v, id, heartbeat, maxFrame }.
        const { id, heartbeat, maxFrame: max } = obj(p, 'id', 'string') as { id: string; heartbeat: unknown; maxFrame: unknown };
        stopTimers();
        sid = id;
        maxFrame = typeof max == 'number' ? max : 0;
        attempts = 0;
        ever = true;
        // Rooms first, then the offline queue in order, then new sends: the state flips last.
        for (const room of rooms.keys()) sendJoin(room);
        bytes = 0;
        queue.splice(0).forEach(flush);
        setState('connected');
        if (hb !== false) every = hb?.interval ?? ((heartbeat as number) > 0 ? (heartbeat as number) : 25_000);
        alive();
        notify('connected', { id });
        wake(waiters, 0);
      } else if (type == T.ERROR) {
        if (sid) notify('error', errorOf(p), event || undefined);
        else refusal = errorOf(p);
      } else if (type == T.PING) raw(frame(T.PONG, '', p));
      else if (type == T.ACK_RES) {
        const b = p.subarray(5);
        // Status 1: an error body (a malformed one is a protocol error); 0: the result.
        pending.get(u32(p))?.d!(...((p[4] ? [errorOf(b)] : attempt(() => parse(b))) as [unknown, unknown?]));
      } else if (type < 3 || ask) {
        /**
         * Answers the request (its id is the payload's first 4 bytes): `v` when `ok`, else the
         * `{code, message}` of what the handler threw.
         */
        const reply = (v: unknown, ok?: unknown): unknown =>
          attempt(() => send(frame(T.ACK_RES, event, json(ok ? v : { code: (v = failure(v)).code, message: (v as Error).message }), [...p.subarray(0, 4), ok ? 0 : 1])))[1] ||
          reply(E('HANDLER_ERROR', 'reply is not JSON'));
        // The handlers run a microtask later (before the next message), the data decoded; data that
        // is not JSON is an `error` notification, or the reply to a request.
        run(() => (type == T.BINARY ? p : parse(p.subarray(ask ? 4 : 0)))).then(
          (data) => {
            for (const [fn] of handlers.get('') ?? []) guard(event, () => fn(event as never, data as never));
            const list = handlers.get(event) ?? [];
            if (list.some((h) => h[1])) setList(event, list.filter((h) => !h[1]));
            // A request's reply is the first handler's result; the others run as for an event.
            list.forEach(([fn], i) => (ask && !i ? run(() => fn(data as never)).then((v) => reply(v, 1), reply) : guard(event, () => fn(data as never))));
            if (ask && !list.length) reply(E('NO_HANDLER', 'no handler'));
          },
          (e) => (ask ? reply(e) : notify('error', e as StelarError, event)),
        );
      }
      // The code and reason the server closes with, in case the socket ends without them.
      else if (type == T.DISCONNECT) peer = p.length ? obj(p, 'code', 'number') : undefined;
      // A PONG only shows that the server is alive (as any frame does).
      else if (type != T.PONG) fail('PROTOCOL', `unexpected frame type ${type}`);
    };

    // ── the connection's life ─────────────────────────────────────────────────

    /** Re-arms the heartbeat (on every message from the server): a PING after `every` of silence, the server gone `hbWait` later. */
    const alive = (): void => {
      if (every) {
        clearTimeout(timer);
        timer = setTimeout(() => {
          raw(frame(T.PING, ''));
          timer = setTimeout(kill, (hb || {}).timeout ?? 10_000);
        }, every);
      }
    };
    /**
     * Closes the socket; the client sees `code` and `reason` once it has closed. The browser only
     * sends 1000 and 3000–4999: other codes go as 1000, with the reason cut to the 123 bytes a
     * close frame holds.
     */
    const shut = (code: number, reason: string): void => {
      const s = ws!;
      s.onmessage = null;
      s.onclose = () => lost(code, reason);
      let r = reason.slice(0, 123);
      while (encoder.encode(r).length > 123) r = r.slice(0, -1);
      s.close(code == 1000 || (code > 2999 && code < 5000) ? code : 1000, r);
    };
    /** Drops the socket at once (1006: a dead server, a timeout); `err` says why when the attempt fails for it. */
    const kill = (err?: StelarError): void => {
      if (ws) (ws.onmessage = ws.onclose = null), ws.close();
      lost(1006, '', err);
    };
    /** The final stop: state `disconnected`, waiters rejected, the queue dropped. */
    const finish = (e: unknown, code?: number, reason = ''): void => {
      const was = state;
      stopTimers();
      setState('disconnected');
      if (code && was != 'disconnected' && was != 'idle') notify('disconnected', { code, reason, willReconnect: false });
      wake(waiters, 1, e);
      // What is pending now is queued (lost() has settled the requests on the wire).
      queue.length = bytes = 0;
      pending.forEach((f) => f.d!(E('DISCONNECTED', 'client closed')));
      rooms.forEach((w, room) => w && w[0] && (rooms.delete(room), wake(w, 1, e))); // callers waiting to join
    };
    const retry = (e: unknown): void => {
      if (!backoff || attempts >= (backoff.maxAttempts as number)) { // never when undefined
        if (backoff) notify('reconnect_failed', { attempts, error: e });
        return finish(e);
      }
      const delay = backoffDelay(attempts++, backoff);
      setState('reconnecting');
      notify('reconnecting', { attempt: attempts, delay });
      timer = setTimeout(open, delay);
    };
    /** The socket is gone (or never opened: `err` says why). */
    const lost = (code: number, reason: string, err?: unknown): void => {
      if (peer && (code == 1005 || code == 1006)) { // no status, or no close frame
        code = peer['code'] as number;
        reason = typeof peer['reason'] == 'string' ? peer['reason'] : '';
      }
      const had = sid;
      const why = E('DISCONNECTED', `${reason || 'connection closed'} (${code})`);
      ws = sid = undefined;
      stopTimers();
      gen++;
      if (had) {
        // Requests on the wire: `retry` ones go back to the front of the queue, the others fail.
        const again: Msg[] = [];
        pending.forEach((f) => (f.r && !closed && qo ? again.push(f) : f.d!(why)));
        bytes = 0;
        for (const f of again.concat(queue.splice(0))) enqueue(f) || f.d?.(full());
      }
      rooms.forEach((w, room) => w || rooms.set(room, [])); // joined rooms are to be joined again
      const fatal = code == 4001 || code == 4002;
      const refused = refusal ?? (fatal && E(code == 4001 ? 'UNAUTHORIZED' : 'VERSION_MISMATCH', reason || 'refused'));
      if (closed) finish(E('DISCONNECTED', 'client closed'), code, reason);
      else if (refused && (fatal || !ever)) finish(refused, code, reason);
      // No session: the dial failed, the connect timer fired, or the server hung up.
      else if (!had) retry(err || why);
      else {
        notify('disconnected', { code, reason, willReconnect: !!backoff });
        retry(why);
      }
    };
    const open = async (): Promise<void> => {
      const g = ++gen;
      const ms = o.connectTimeout ?? 10_000;
      setState(ever ? 'reconnecting' : 'connecting');
      refusal = peer = undefined;
      timer = setTimeout(() => kill(E('TIMEOUT', `not connected within ${ms} ms`)), ms);
      try {
        const auth = typeof o.auth == 'function' ? await (o.auth as () => unknown)() : o.auth;
        if (g != gen) return; // closed or timed out meanwhile
        const s = (ws = new (o.WebSocket ?? WebSocket)(href, o.protocols));
        s.binaryType = 'arraybuffer';
        s.onopen = () => {
          s.onopen = null; // open: closing is no longer a dial failure (below)
          raw(frame(T.CONNECT, '', json({ v: 1, auth }))); // JSON leaves `auth` out when undefined
        };
        s.onmessage = ({ data }: MessageEvent) => {
          alive();
          if (!(data instanceof ArrayBuffer)) return shut(1003, 'text message');
          try {
            onFrame(decode(new Uint8Array(data), o.maxFrameSize ?? 1 << 24));
          } catch (e) {
            const { code, message } = e as StelarError;
            shut(code == 'FRAME_TOO_LARGE' ? 1009 : 1002, message);
          }
        };
        // Browsers hide why an upgrade failed: a socket that closes before opening is a DialError.
        s.onclose = ({ code, reason }: CloseEvent) => lost(code, reason, s.onopen && new DialError('WS_DIAL_FAILED', `cannot open ${href} (${code})`));
      } catch (e) {
        if (g != gen) return;
        if ((e as { fatal?: unknown } | null)?.fatal === true) finish(e, 1006, String((e as Error).message));
        else lost(1006, '', e); // what auth() threw, or what the WebSocket constructor threw (a bad URL or subprotocol)
      }
    };

    // ── the public surface ────────────────────────────────────────────────────

    const on = (event: string, fn: Fn, once?: boolean): StelarClient<In, Out> => (handlers.set(event, [...(handlers.get(event) ?? []), [fn, once]]), this);
    const off = (event: string, fn?: Fn, all?: boolean): StelarClient<In, Out> => {
      const list = handlers.get(event) ?? [];
      const i = list.findIndex((h) => h[0] == fn);
      setList(event, fn ? list.filter((h, j) => (all ? h[0] != fn : j != i)) : []);
      return this;
    };
    Object.defineProperties(this, {
      state: { get: () => state },
      id: { get: () => sid },
      connected: { get: () => state == 'connected' },
      queued: { get: () => queue.length },
      rooms: { get: () => new Set(rooms.keys()) },
    });
    // The methods. Their public types are ClientEngine's (the interface above); `satisfies` checks that none is missing.
    Object.assign(this, {
      connect: () =>
        new Promise<void>((resolve, reject) => {
          if (state == 'connected') resolve();
          else waiters.push([resolve, reject]);
          if (state == 'idle' || state == 'disconnected') {
            closed = false;
            attempts = 0;
            void open();
          }
        }),
      close(code = 1000, reason = '') {
        closed = true;
        stopTimers();
        if (ws) shut(code, reason);
        else {
          gen++;
          finish(E('DISCONNECTED', 'client closed'), code, reason);
        }
      },
      on,
      once: (event: string, fn: Fn) => on(event, fn, true),
      off,
      onAny: (fn: Fn) => on('', fn),
      offAny: (fn?: Fn) => off('', fn, true),
      onLifecycle(name: string, fn: Fn) {
        const set = lifecycle.get(name) ?? new Set();
        lifecycle.set(name, set.add(fn));
        return () => set.delete(fn);
      },
      emit(event: string, data?: unknown, opts?: { volatile?: boolean }) {
        const bin = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
        const f = big(bin instanceof Uint8Array ? frame(T.BINARY, event, bin) : frame(T.JSON, event, json(data)));
        const volatile = opts?.volatile;
        // Sent (0) or not (DROPPED 2); CLOSED 3 goes to the queue.
        const s = send(f, volatile);
        return s < 3 ? !s : !volatile && !closed && (enqueue(f) || (policy == 'error' && fail('QUEUE_FULL', 'offline queue full')));
      },
      request: (event: string, data?: unknown, opts: ClientRequestOptions = {}) => track(event, opts, (id) => frame(T.ACK_REQ, event, json(data), id)),
      async join(room: string) {
        const w = rooms.get(room) ?? [];
        if (w) {
          rooms.set(room, w);
          const p = new Promise<void>((resolve, reject) => w.push([resolve, reject]));
          if (sid && w.length == 1) sendJoin(room);
          await p;
        }
      },
      async leave(room: string) {
        const w = rooms.get(room);
        rooms.delete(room);
        if (w) wake(w, 1, E('REJECTED', `left "${room}" before it was joined`));
        if (sid) await track(room, {}, (id) => frame(T.LEAVE, room, id));
      },
    } satisfies Record<Exclude<keyof ClientEngine, 'state' | 'id' | 'connected' | 'queued' | 'rooms' | NotPortedYet>, Fn>);
  }
}
