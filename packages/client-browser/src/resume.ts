import { E, fail, frame, T } from './wire';
import type { ClientLifecycle, ClientRecoveryOptions, ClientRequestOptions, StelarError } from '@stelar/core/client';
import type { Joining, Msg } from './helpers';

// Connection-state recovery (docs/protocol.md §8; core's ClientResume) for the client
// (src/client.ts), behind the RECOVERY switch of src/features.ts: the client calls `resume` only
// under `RECOVERY &&`, so stelar.min.js, built without it, pays nothing for the module. It owns the
// recovery state; what it shares with the client (the queue, requests, rooms, sending) it is given.

/** The zero offset (16 hex digits, as CONNECT carries offsets): none received, or a message not recoverable. */
const ZERO = '0000000000000000';

/** The server's answer to `recover`, inside its CONNECT. */
export type Answer = { token: string; recovered: boolean; rx: number };

/** The recovery of one client: `epoch` is read by the client; the methods are called at the points named. */
export interface Resume {
  /** Counts sessions: a server request is answered only in the session it came in. */
  epoch: number;
  /** CONNECT's body: `recover` with recovery on, `{}` to opt in, a token to resume. */
  hello(auth: unknown): object;
  /** A frame sent in the session: counted ones (not ACK_RES) are kept, bounded, to send again after a resume. */
  sent(f: Msg): void;
  /** The payload of a JSON or BINARY frame, with the session's 8-byte offset taken off (and kept unless all zeros). */
  data(p: Uint8Array): Uint8Array;
  /** The server's CONNECT, before the session opens: a malformed `recovery` is a protocol error (thrown). */
  answer(ans: Answer | undefined, id: string): void;
  /**
   * The session is open: after a resume, sends again what the server did not get (true); else a
   * new session (false): the previous one's requests and rooms are released, for the client to join the rooms again.
   */
  resumed(): boolean;
  /** The `connected` notification's argument, after `recovery_failed` when a resume was refused. */
  connected(id: string): { id: string; recovered: boolean };
  /** leave() without a session: a session the server keeps leaves the room on the server after the resume. */
  leave(room: string): void;
  /** join(): the room is no longer one to leave after the resume. */
  join(room: string): void;
  /** The session's link went (`why`): true when the server keeps the session, its requests and rooms kept until its next answer. */
  away(why: StelarError): unknown;
  /** The session is over for good (the client released its requests and rooms). */
  released(): void;
  /** The final stop: nothing to resume. */
  end(): void;
}

export const resume = (
  o: boolean | ClientRecoveryOptions | undefined,
  send: (f: Msg) => unknown,
  track: (room: string, o: ClientRequestOptions, make: (id: number[]) => Uint8Array) => Promise<unknown>,
  sendJoin: (room: string) => void,
  release: (why: unknown) => void,
  notify: <K extends keyof ClientLifecycle>(name: K, ...args: Parameters<ClientLifecycle[K]>) => void,
  pending: Map<number, Msg>,
  queue: Msg[],
  rooms: Map<string, Joining | 0>,
): Resume => {
  // On unless `recovery: false`; true and undefined give {}.
  const keep = o !== false && { ...(o as ClientRecoveryOptions) };
  /** The server offered recovery for this session: offsets on JSON and BINARY frames, sent frames counted and kept. */
  let active = false;
  /** The secret to present in the next CONNECT, and the session it is for. */
  let token: string | undefined;
  let rsid: string | undefined;
  /** Why the last session's link went (requests fail with it when the session does not come back). */
  let gone: StelarError | undefined;
  /** The last non-zero offset received. */
  let offset = ZERO;
  /** Frames counted (JSON, BINARY, ACK_REQ, JOIN, LEAVE) since the session opened, and the most recent of them: [seq, frame]. */
  let count = 0;
  let ring: [number, Msg][] = [];
  let ringBytes = 0;
  /** Rooms left while a resumable session was away, to leave on the server after the resume. */
  const leftAway = new Set<string>();
  /** This CONNECT's answer, the session a resume was asked for, and whether it resumed. */
  let ans: Answer | undefined;
  let tried: string | undefined;
  let done = false;
  const r: Resume = {
    epoch: 0,
    hello: (auth) => (keep ? { v: 1, auth, recover: token ? { token, offset } : {} } : { v: 1, auth }),
    sent(f) {
      if (keep && active && f[4] != T.ACK_RES) {
        ring.push([++count, f]);
        ringBytes += f.length;
        while (ring.length > (keep.maxMessages ?? 1000) || ringBytes > (keep.maxBytes ?? 1 << 20)) ringBytes -= ring.shift()![1].length;
      }
    },
    data(p) {
      if (!active) return p;
      if (p.length < 8) fail('BAD_PAYLOAD', 'no offset');
      const hex = [...p.subarray(0, 8)].map((b) => (b + 256).toString(16).slice(1)).join('');
      if (hex != ZERO) offset = hex;
      return p.subarray(8);
    },
    answer(a, id) {
      if (a !== undefined && !(typeof a?.token == 'string' && typeof a.recovered == 'boolean' && a.rx >= 0)) fail('BAD_PAYLOAD', 'bad recovery');
      ans = a;
      tried = token ? rsid : undefined;
      done = !!a?.recovered && id == tried;
      active = !!a;
      token = a?.token;
      if (!done) (rsid = id), (offset = ZERO), (count = ringBytes = 0), (ring = []);
    },
    resumed() {
      if (done) {
        // What the server did not get (after its count rx) goes again, in order, but settled
        // requests; then the requests that are answered once (retry, JOIN, LEAVE) are asked
        // again; then the rooms changed while away.
        const rx = ans!.rx;
        const again = ring.filter(([n]) => n > rx);
        const lost = count - rx - again.length;
        ring = [];
        count = rx;
        ringBytes = 0;
        again.forEach(([, f]) => f.s || send(f));
        if (lost > 0) notify('error', E('QUEUE_FULL', `${lost} message(s) sent before the link was lost were not kept to send again`));
        pending.forEach((f) => queue.includes(f) || (f.c && !(f.r || f[4]! > T.ACK_RES)) || again.some((a) => a[1] == f) || send(f));
        leftAway.forEach((room) => track(room, {}, (i) => frame(T.LEAVE, room, i)).catch(() => undefined));
        rooms.forEach((w, room) => w && !w.j && sendJoin(room));
      } else {
        // A new session: the previous one's requests fail (or go first in the queue with `retry`).
        r.epoch++;
        if (gone) release(gone);
      }
      leftAway.clear();
      return done;
    },
    connected(id) {
      if (tried && !done) notify('recovery_failed', { id, previousId: tried });
      return { id, recovered: done };
    },
    leave: (room) => token && leftAway.add(room),
    join: (room) => leftAway.delete(room),
    away: (why) => token && (gone = why),
    released() {
      gone = undefined;
      rooms.forEach((w) => w && (w.j = 0));
    },
    end() {
      token = gone = undefined;
      leftAway.clear();
    },
  };
  return r;
};
