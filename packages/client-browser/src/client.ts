import { backoffDelay, StelarError } from '@stelar/core/client';
import type { AnyEvents, ClientEngine, ClientLifecycle, ClientRequestOptions, ClientState, ConnectOptions, ReconnectOptions } from '@stelar/core/client';
import { aborted, BEFORE_SESSION, bounded, userDelay } from './attempts';
import { ATTEMPTS, COUNTERS, LOGGER, RECOVERY } from './features';
import { failure, wake, type Chain, type Fn, type Joining, type Msg, type Waiter } from './helpers';
import { DialError, resolveUrl, type BrowserClientOptions } from './options';
import { attempt, decode, E, encoder, errorOf, fail, frame, json, obj, parse, T, tooLarge, u32, u32be, type Frame } from './wire';
import { log } from './log';
import { resume, type Answer, type Resume } from './resume';

/*
 * The browser client: core's `ClientEngine`'s behaviour and surface (test/api.test.ts,
 * test/parity.test.ts) over the page's `WebSocket`, written for the size of the <script> bundle.
 * Code under `if (RECOVERY …)` and the other switches of src/features.ts is dropped from
 * stelar.min.js at build time (test/size.test.ts); README (Size) says how it fits and which parts
 * are modules of their own.
 */

/**
 * A Stelar client in the browser, over the native `WebSocket`: events, requests, rooms,
 * reconnection, the offline queue, heartbeats and connection-state recovery, with the API and
 * behaviour of core's `ClientEngine` (the same as `@stelar/client-node`'s; documented there).
 */
export interface StelarClient<In extends object = AnyEvents, Out extends object = In> extends Chain<In>, Omit<ClientEngine<In, Out>, keyof Chain<In>> {}

export class StelarClient<In extends object = AnyEvents, Out extends object = In> {
  /** The WebSocket URL (`resolveUrl` of the one given). */
  declare readonly url: string;

  constructor(url?: string | URL, o: BrowserClientOptions = {}) {
    const href = (this.url = resolveUrl(url));
    const { reconnect: rc, queue: qo = {}, heartbeat: hb } = o;
    const backoff = rc !== false && { ...(rc as ReconnectOptions) }; // true and undefined give {}
    const { maxMessages = 1000, maxBytes = 1 << 20, policy } = qo || { maxMessages: 0 };
    /** Handlers by event, [fn, once]; '' (no event has that name) holds the catch-all ones. Lists are replaced, never changed. */
    const handlers = new Map<string, [Fn, boolean | undefined][]>();
    const lifecycle = new Map<string, Set<Fn>>();
    /** The offline queue: frames, requests among them. */
    const queue: Msg[] = [];
    let bytes = 0;
    const pending = new Map<number, Msg>();
    /** Rooms to be in: 0 once the server accepted, else the join() callers waiting. */
    const rooms = new Map<string, Joining | 0>();
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

    // Counters (core's engine: messagesSent, messagesReceived, connectedAt, lastError).
    let nSent = 0;
    let nReceived = 0;
    let openedAt: number | undefined;
    let lastError: Error | undefined;
    /** The error of the last failed attempt (quoted by a connect() that times out). */
    let lastAttempt: Error | undefined;

    /** Replaces an event's handler list; an empty one is dropped (no map entry per event ever seen). */
    const setList = (event: string, list: [Fn, boolean | undefined][]): unknown => (list.length ? handlers.set(event, list) : handlers.delete(event));
    const notify = <K extends keyof ClientLifecycle>(name: K, ...args: Parameters<ClientLifecycle[K]>): void => {
      if (COUNTERS && name == 'error') lastError = args[0] as Error;
      if (LOGGER && o.logger) log(o.logger, name, args as unknown[]); // src/log.ts
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
    const send = (f: Msg, volatile?: unknown): number => {
      const s =
        !sid || ws!.readyState != 1 ? 3
        : volatile && ws!.bufferedAmount > (o.highWaterMark ?? 1 << 20) ? 2
        : (raw(f), 0);
      if (!s) {
        if (RECOVERY) rec.sent(f); // kept to send again after a resume
        // A message counts once: not an event or a request's frame sent again after a resume (nor a request's frame after its first).
        if (COUNTERS && !f.c) nSent++;
        if (COUNTERS || RECOVERY) f.c = 1; // sent once
      }
      return s;
    };
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
          if (RECOVERY) f.s = 1;
          const at = queue.indexOf(f);
          if (at >= 0) (bytes -= f.length), queue.splice(at, 1);
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
      if (RECOVERY) {
        const w = rooms.get(room);
        if (w) w.j = 1;
      }
      track(room, {}, (id) => frame(T.JOIN, room, id)).then(
        () => {
          const w = rooms.get(room);
          if (w) rooms.set(room, 0), wake(w, 0);
        },
        (e: StelarError) => {
          const w = rooms.get(room);
          // A join lost to a dropped connection is retried after reconnecting; a refusal is final.
          if (!w || e.code == 'DISCONNECTED') {
            if (RECOVERY && w) w.j = 0;
            return;
          }
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
      // Before its CONNECT a Stelar server sends only CONNECT, ERROR, DISCONNECT, PING or PONG.
      if (ATTEMPTS && !sid && !((BEFORE_SESSION >> type) & 1)) return notStelar(`its first frame is of type ${type}, not CONNECT or ERROR`);
      if (type == T.CONNECT) {
        if (sid) fail('PROTOCOL', 'duplicate CONNECT');
        // The session: { v, id, heartbeat, maxFrame, recovery? }.
        const hello = obj(p, 'id', 'string') as { id: string; heartbeat: unknown; maxFrame: unknown; recovery?: Answer };
        const { id, heartbeat, maxFrame: max } = hello;
        if (RECOVERY) rec.answer(hello.recovery, id);
        stopTimers();
        sid = id;
        maxFrame = typeof max == 'number' ? max : 0;
        attempts = 0;
        ever = true;
        if (COUNTERS) openedAt = Date.now();
        // A resumed session sends again what the server did not get; a new one joins every room
        // again. Rooms first, then the offline queue in order, then new sends: the state flips last.
        for (const room of RECOVERY && rec.resumed() ? [] : rooms.keys()) sendJoin(room);
        bytes = 0;
        queue.splice(0).forEach(flush);
        setState('connected');
        if (hb !== false) every = hb?.interval ?? ((heartbeat as number) > 0 ? (heartbeat as number) : 25_000);
        alive();
        notify('connected', RECOVERY ? rec.connected(id) : { id }); // after recovery_failed, if a resume was refused
        wake(waiters, 0);
      } else if (type == T.ERROR) {
        if (sid) notify('error', errorOf(p), event || undefined);
        else refusal = errorOf(p);
      } else if (type == T.PING) raw(frame(T.PONG, '', p));
      else if (type == T.ACK_RES) {
        const b = p.subarray(5);
        const f = pending.get(u32(p));
        if (COUNTERS && f) nReceived++;
        // Status 1: an error body (a malformed one is a protocol error); 0: the result.
        f?.d!(...((p[4] ? [errorOf(b)] : attempt(() => parse(b))) as [unknown, unknown?]));
      } else if (type < 3 || ask) {
        if (COUNTERS) nReceived++;
        // A session with recovery: an 8-byte offset before each JSON and BINARY payload (all zeros: not recoverable).
        if (RECOVERY && !ask) p = rec.data(p);
        const e = RECOVERY && rec.epoch;
        /**
         * Answers the request (its id is the payload's first 4 bytes): `v` when `ok`, else the
         * `{code, message}` of what the handler threw.
         */
        const reply = (v: unknown, ok?: unknown): unknown =>
          (RECOVERY && e != rec.epoch) ||
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
          timer = setTimeout(kill, (hb as { timeout?: number } | undefined)?.timeout ?? 10_000);
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
      // `read`: the UTF-16 units of the whole characters that fit in 123 bytes.
      s.close(code == 1000 || (code > 2999 && code < 5000) ? code : 1000, reason.slice(0, encoder.encodeInto(reason, new Uint8Array(123)).read));
    };
    /** The peer of this attempt is not a Stelar server: the attempt fails for good (NOT_STELAR). */
    const notStelar = (why: string): void => kill(E('NOT_STELAR', `not a Stelar server: ${why}`));
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
      // What is pending now is queued, or kept for a resume that will not come now.
      queue.length = bytes = 0;
      pending.forEach((f) => f.d!(E('DISCONNECTED', 'client closed')));
      rooms.forEach((w, room) => (w as Joining)[0] && (rooms.delete(room), wake(w as Joining, 1, e))); // callers waiting to join
      if (RECOVERY) rec.end();
    };
    /** The session is over: requests on the wire fail with `gone` (`retry` ones go back to the front of the queue); rooms are to be joined again. */
    const release = (why: unknown): void => {
      const again: Msg[] = [];
      pending.forEach((f) => (RECOVERY && queue.includes(f)) || (f.r && !closed && qo ? again.push(f) : f.d!(why)));
      bytes = 0;
      for (const f of again.concat(queue.splice(0))) enqueue(f) || f.d?.(full());
      rooms.forEach((w, room) => w || rooms.set(room, [])); // joined rooms are to be joined again
      if (RECOVERY) rec.released();
    };
    /** Connection-state recovery (src/resume.ts), on unless `recovery: false`; its state is its own. */
    const rec = (RECOVERY && resume(o.recovery, send, track, sendJoin, release, notify, pending, queue, rooms)) as Resume;
    /** A failed attempt (before any session), reported as `connect_error`. */
    const failed = (e: unknown, willRetry: boolean): void => {
      if (COUNTERS) lastError = e as Error;
      if (ATTEMPTS) notify('connect_error', (lastAttempt = e as Error), { attempt: attempts, willRetry });
    };
    /** Schedules the next attempt, or stops when the policy allows no more; `report`: the failure was an attempt's. */
    const retry = (e: unknown, report?: unknown): void => {
      const will = backoff && !(attempts >= (backoff.maxAttempts as number)); // never false when undefined
      if (report) failed(e, !!will);
      if (ATTEMPTS && closed) return; // a connect_error listener called close()
      if (!will) {
        if (backoff) notify('reconnect_failed', { attempts, error: e });
        return finish(e);
      }
      let delay = backoffDelay(attempts++, backoff);
      if (ATTEMPTS && backoff.delay) {
        delay = userDelay(backoff.delay, attempts, e as Error, delay, notify); // src/attempts.ts
        if (closed) return;
      }
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
      ws = sid = openedAt = undefined;
      stopTimers();
      gen++;
      if (had) {
        // A session the server keeps (recovery) keeps its requests and rooms until its next answer.
        if (!(RECOVERY && !closed && rec.away(why))) release(why);
      }
      const fatal = code == 4001 || code == 4002;
      const byCode = fatal && E(code == 4001 ? 'UNAUTHORIZED' : 'VERSION_MISMATCH', reason || 'refused');
      /** Why an attempt failed: the server's refusal, the dial's or the connect timer's error, or the close. */
      const e = (refusal || byCode || err || why) as StelarError & { fatal?: unknown };
      if (COUNTERS && had) lastError = byCode || why;
      if (closed) finish(E('DISCONNECTED', 'client closed'), code, reason);
      else if (had) byCode ? finish(byCode, code, reason) : (notify('disconnected', { code, reason, willReconnect: !!backoff }), retry(why));
      // No session: the dial failed, the connect timer fired, the server refused or hung up. Only a
      // real refusal stops the client (a server failing in its middleware, 1011, is retried).
      else if (fatal || e.fatal === true || (ATTEMPTS && ['UNAUTHORIZED', 'VERSION_MISMATCH', 'NOT_STELAR'].includes(e.code))) failed(e, false), finish(e, code, reason || e.message);
      else ATTEMPTS || COUNTERS ? retry(e, 1) : retry(e);
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
        // JSON leaves `auth` out when undefined, and `recover` with recovery off: {} opts in, a token
        // asks to resume. An `auth` JSON cannot carry (a cycle, a BigInt; binary in stelar.min.js) fails the attempt here.
        const hello = frame(T.CONNECT, '', json(RECOVERY ? rec.hello(auth) : { v: 1, auth }));
        const s = (ws = new (o.WebSocket ?? WebSocket)(href, o.protocols));
        s.binaryType = 'arraybuffer';
        s.onopen = () => {
          s.onopen = null; // open: closing is no longer a dial failure (below)
          raw(hello);
        };
        s.onmessage = ({ data }: MessageEvent) => {
          alive();
          if (!(data instanceof ArrayBuffer)) return ATTEMPTS && !sid ? notStelar('its first message is text') : shut(1003, 'text message');
          try {
            onFrame(decode(new Uint8Array(data), o.maxFrameSize ?? 1 << 24));
          } catch (e) {
            const { code, message } = e as StelarError;
            // Bytes that do not decode before the session (decode's errors: message == code, or a
            // frame too large): whatever answered is not a Stelar server.
            if (ATTEMPTS && !sid && !refusal && (message == code || code == 'FRAME_TOO_LARGE')) notStelar(`its first bytes are not a Stelar frame (${code}: ${message})`);
            else shut(code == 'FRAME_TOO_LARGE' ? 1009 : 1002, message);
          }
        };
        // Browsers hide why an upgrade failed: a socket that closes before opening is a DialError.
        s.onclose = ({ code, reason }: CloseEvent) => lost(code, reason, s.onopen && new DialError('WS_DIAL_FAILED', `cannot open ${href} (${code})`));
      } catch (e) {
        // What auth() threw, or what the WebSocket constructor threw (a bad URL or subprotocol): a
        // failed attempt, final when marked `fatal`.
        if (g == gen) lost(1006, '', e);
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
      ...(COUNTERS && {
        messagesSent: { get: () => nSent },
        messagesReceived: { get: () => nReceived },
        connectedAt: { get: () => openedAt },
        lastError: { get: () => lastError },
      }),
      state: { get: () => state },
      id: { get: () => sid },
      connected: { get: () => state == 'connected' },
      queued: { get: () => queue.length },
      rooms: { get: () => new Set(rooms.keys()) },
    });
    // The methods. Their public types are ClientEngine's (the interface above); `satisfies` checks that none is missing.
    Object.assign(this, {
      connect: (co?: ConnectOptions) =>
        new Promise<void>((resolve, reject) => {
          if (state == 'connected') resolve();
          else if (ATTEMPTS && co?.signal?.aborted) return reject(aborted(co.signal)); // nothing started
          else waiters.push(ATTEMPTS ? bounded(co, resolve, reject, waiters, () => lastAttempt) : [resolve, reject]);
          if (state == 'idle' || state == 'disconnected') {
            closed = false;
            attempts = 0;
            lastAttempt = undefined;
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
        if (RECOVERY) rec.join(room);
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
        // A session the server keeps while away leaves the room on the server after the resume.
        else if (RECOVERY) rec.leave(room);
      },
    } satisfies Record<Exclude<keyof ClientEngine, 'state' | 'id' | 'connected' | 'queued' | 'rooms' | 'messagesSent' | 'messagesReceived' | 'connectedAt' | 'lastError'>, Fn>);
  }
}
