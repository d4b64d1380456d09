import { ErrorCode, FrameType, parseRoomRequestId, type Frame } from '@stelar/codec-tcp';
import { StelarError, toErrorBody } from './errors';
import type { HubContext } from './hub-context';
import type { ServerSession } from './session';
import { isThenable } from './types';

/**
 * Rooms as the hub sees them: the limits (per connection, per process), `authorizeJoin`, the
 * clients' JOIN and LEAVE, and the join/leave listeners. Membership itself is the adapter's.
 */
export class Rooms<In extends object, Out extends object> {
  constructor(private readonly hub: HubContext<In, Out>) {}

  /** Joins rooms after checking the limits (nothing is joined when one would be exceeded). */
  join(s: ServerSession, rooms: readonly string[]): void | Promise<void> {
    const hub = this.hub;
    const conn = s.conn;
    const fresh: string[] = [];
    for (const r of rooms) {
      if (typeof r !== 'string' || r.length === 0) throw new StelarError(ErrorCode.BAD_EVENT, 'room names are non-empty strings');
      if (!conn.rooms.has(r) && !fresh.includes(r)) fresh.push(r);
    }
    if (fresh.length === 0) return undefined;
    const { maxRoomsPerConnection, maxRooms } = hub.settings;
    if (conn.rooms.size + fresh.length > maxRoomsPerConnection) {
      hub.metrics.error(ErrorCode.ROOM_LIMIT);
      hub.limitReached(() => ({ reason: 'maxRoomsPerConnection', limit: maxRoomsPerConnection, conn, rooms: fresh }));
      throw new StelarError(ErrorCode.ROOM_LIMIT, `a connection may be in at most ${maxRoomsPerConnection} rooms`);
    }
    let created = 0;
    for (const r of fresh) if (!hub.adapter.members(r)) created++;
    if (created > 0 && hub.adapter.roomCount + created > maxRooms) {
      hub.metrics.error(ErrorCode.ROOM_LIMIT);
      hub.limitReached(() => ({ reason: 'maxRooms', limit: maxRooms, conn, rooms: fresh }));
      throw new StelarError(ErrorCode.ROOM_LIMIT, `the server is at its limit of ${maxRooms} rooms`);
    }
    const pending = hub.adapter.join(conn, fresh);
    const listeners = hub.callbacks.join;
    if (listeners.length) for (const room of fresh) hub.notify(s, listeners, room);
    return pending;
  }

  /** Leaves a room; returns whether the connection was in it. */
  leave(s: ServerSession, room: string): boolean {
    const was = this.hub.adapter.leave(s.conn, room);
    if (was) this.hub.notify(s, this.hub.callbacks.leave, room);
    return was;
  }

  /** A closing session leaves every room (one by one when someone listens to leaves). */
  leaveAll(s: ServerSession): void {
    if (this.hub.callbacks.leave.length) for (const room of [...s.conn.rooms]) this.leave(s, room);
    else this.hub.adapter.leaveAll(s.conn);
  }

  /** A client's JOIN or LEAVE frame; answered with ACK_RES when it carries an id, else only a refusal with ERROR. */
  clientOp(s: ServerSession, frame: Frame): Promise<void> | undefined {
    const hub = this.hub;
    const room = frame.event;
    const id = parseRoomRequestId(frame.payload);
    const answer = (err?: { code: string; message: string }): void => {
      if (id !== undefined) hub.reply(s, id, room, !err, err ?? true);
      else if (err && s.active) hub.sendError(s, err.code, err.message, room);
    };
    if (frame.type === FrameType.LEAVE) {
      this.leave(s, room);
      answer();
      return undefined;
    }
    const join = (allowed: boolean): void => {
      if (!s.active) return;
      if (!allowed) {
        hub.metrics.error(ErrorCode.REJECTED);
        answer({ code: ErrorCode.REJECTED, message: `not allowed to join "${room}"` });
        return;
      }
      let pending: void | Promise<void>;
      try {
        pending = this.join(s, [room]);
      } catch (err) {
        answer(toErrorBody(err, ErrorCode.ROOM_LIMIT));
        return;
      }
      // A cluster adapter may need a moment (a subscription) before the room is live everywhere.
      if (pending) pending.then(() => answer(), () => answer());
      else answer();
    };
    const authorize = hub.authorizeJoin;
    if (!authorize) {
      join(true);
      return undefined;
    }
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = authorize(s.conn, room);
    } catch (err) {
      hub.report(err, s, 'authorizeJoin failed');
      join(false);
      return undefined;
    }
    if (!isThenable(verdict)) {
      join(verdict);
      return undefined;
    }
    return Promise.resolve(verdict).then(join, (err: unknown) => {
      hub.report(err, s, 'authorizeJoin failed');
      join(false);
    });
  }
}
