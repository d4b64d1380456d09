import { encodeJoin, encodeLeave, ErrorCode } from '@stelar/codec-tcp';
import { StelarError } from '../errors';

interface RoomState {
  joined: boolean;
  /** A JOIN is on its way. */
  joining: boolean;
  waiters: { resolve: () => void; reject: (e: unknown) => void }[];
}

/** What the rooms need of the client's session. */
export interface RoomsHost {
  /** A session is open on a link. */
  readonly live: boolean;
  /** The session may be resumed (the server keeps it while the link is down). */
  readonly resumable: boolean;
  /** Sends (or queues) a JOIN or LEAVE request; answered once, so it may be asked again after a resume. */
  request(room: string, encode: (id: number) => Uint8Array): Promise<unknown>;
  error(err: StelarError, event?: string): void;
}

/**
 * The client's rooms across links: joins waiting to be accepted, re-joins after a new session,
 * and — with connection-state recovery — the changes made while the link was down, applied
 * after a resume (the server kept the rest).
 */
export class ClientRooms {
  private readonly states = new Map<string, RoomState>();
  /** Rooms left while the link was down, to leave on the server after a resume. */
  private readonly leftAway = new Set<string>();

  constructor(private readonly host: RoomsHost) {}

  get names(): ReadonlySet<string> {
    return new Set(this.states.keys());
  }

  join(room: string): Promise<void> {
    let st = this.states.get(room);
    if (st?.joined) return Promise.resolve();
    this.leftAway.delete(room);
    const p = new Promise<void>((resolve, reject) => {
      if (!st) this.states.set(room, (st = { joined: false, joining: false, waiters: [] }));
      st.waiters.push({ resolve, reject });
    });
    if (this.host.live && st!.waiters.length === 1) this.sendJoin(room);
    return p;
  }

  async leave(room: string): Promise<void> {
    const st = this.states.get(room);
    this.states.delete(room);
    if (st) for (const w of st.waiters) w.reject(new StelarError(ErrorCode.REJECTED, `left "${room}" before it was joined`));
    if (!this.host.live) {
      if (this.host.resumable) this.leftAway.add(room);
      return;
    }
    await this.host.request(room, (id) => encodeLeave(room, id));
  }

  /** A new session: every room is joined again. */
  rejoinAll(): void {
    this.leftAway.clear();
    for (const room of this.states.keys()) this.sendJoin(room);
  }

  /** A resumed session: the rooms left or asked for while the link was down. */
  catchUp(): void {
    for (const room of this.leftAway) void this.host.request(room, (id) => encodeLeave(room, id)).catch(() => undefined);
    this.leftAway.clear();
    for (const [room, st] of this.states) if (!st.joined && !st.joining) this.sendJoin(room);
  }

  /** The session is over: every room waits to be joined again. */
  reset(): void {
    for (const st of this.states.values()) st.joined = st.joining = false;
  }

  /** The client stopped for good: pending joins fail with `err`. */
  stop(err: unknown): void {
    for (const [room, st] of this.states) {
      if (st.waiters.length) {
        for (const w of st.waiters) w.reject(err);
        this.states.delete(room);
      }
    }
  }

  private sendJoin(room: string): void {
    const st0 = this.states.get(room);
    if (st0) st0.joining = true;
    void this.host.request(room, (id) => encodeJoin(room, id)).then(
      () => {
        const st = this.states.get(room);
        if (!st) return;
        st.joined = true;
        st.joining = false;
        const ws = st.waiters;
        st.waiters = [];
        for (const w of ws) w.resolve();
      },
      (err: unknown) => {
        const st = this.states.get(room);
        if (!st) return;
        st.joining = false;
        // A join lost to a dropped connection is retried after reconnecting; a refusal is final.
        if (err instanceof StelarError && err.code === ErrorCode.DISCONNECTED) return;
        this.states.delete(room);
        for (const w of st.waiters) w.reject(err);
        if (st.waiters.length === 0) this.host.error(err instanceof StelarError ? err : new StelarError(ErrorCode.REJECTED, String(err)), room);
      },
    );
  }
}
