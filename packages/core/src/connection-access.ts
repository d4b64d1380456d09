import type { AnyConnection, ConnectionState } from './connection';
import type { Link } from './link';
import type { SessionRecovery } from './recovery-session';
import type { ServerSession } from './session';

/**
 * What `Connection` lets the rest of core touch of its private state, granted once by its static
 * block: the hub's parts (its session record, link and state) and the adapter (the rooms it is
 * in, the stamp of the broadcast that last visited it). Nothing else writes a connection's state;
 * none of this is exported by the package but `linkOf`, `addRoom`, `removeRoom` and `firstVisit`
 * (through `@stelar/core/internal`).
 */
export interface ConnectionAccess {
  session(conn: AnyConnection): ServerSession;
  link(conn: AnyConnection): Link;
  setLink(conn: AnyConnection, link: Link): void;
  setRecovery(conn: AnyConnection, rec: SessionRecovery): void;
  state(conn: AnyConnection): ConnectionState;
  setState(conn: AnyConnection, state: 'open' | 'absent' | 'closed'): void;
  rooms(conn: AnyConnection): Set<string>;
  visit(conn: AnyConnection, stamp: number): boolean;
}

let access: ConnectionAccess | undefined;

/** Called once, by `Connection`'s static block. */
export function grantAccess(granted: ConnectionAccess): void {
  if (access !== undefined) throw new Error('connection access is granted once');
  access = granted;
}

/**
 * Granted before anything calls these: each takes a connection, and connections are made by
 * `newConnection`, which is in connection.ts (so a bundle that makes one evaluates that module).
 */
const a = (): ConnectionAccess => access!;

/** The hub's record behind a connection: for the hub's parts only. */
export function sessionOf(conn: AnyConnection): ServerSession {
  return a().session(conn);
}

/**
 * The link a connection runs on: for the hub's parts (pause, resume, ping) and sibling packages
 * (a cluster adapter corking writes, tests cutting a socket).
 */
export function linkOf(conn: AnyConnection): Link {
  return a().link(conn);
}

/** A connection's state, for its session record. */
export function stateOf(conn: AnyConnection): ConnectionState {
  return a().state(conn);
}

/** The handshake accepted the session (or a resume brought it back). */
export function markOpen(conn: AnyConnection): void {
  a().setState(conn, 'open');
}

/** Its link was lost and recovery keeps it for its client. */
export function markAbsent(conn: AnyConnection): void {
  a().setState(conn, 'absent');
}

/** The link closed. */
export function markClosed(conn: AnyConnection): void {
  a().setState(conn, 'closed');
}

/** Moves a connection to another link (recovery: a placeholder while absent, the client's new link on resume). */
export function attachLink(conn: AnyConnection, link: Link): void {
  a().setLink(conn, link);
}

/** The session opted in to connection-state recovery and was accepted. */
export function setRecovery(conn: AnyConnection, rec: SessionRecovery): void {
  a().setRecovery(conn, rec);
}

/**
 * Adapter contract: records that `conn` joined `room`, as the adapter adds it to the room's
 * members (`Adapter.join`). False if it was in it already. `conn.rooms` reads what this records.
 */
export function addRoom(conn: AnyConnection, room: string): boolean {
  const rooms = a().rooms(conn);
  return rooms.size !== rooms.add(room).size;
}

/** Adapter contract: records that `conn` left `room` (`Adapter.leave`); false if it was not in it. */
export function removeRoom(conn: AnyConnection, room: string): boolean {
  return a().rooms(conn).delete(room);
}

/**
 * Adapter contract: true the first time the broadcast `stamp` visits `conn`, false when it
 * reaches it again through another of its rooms. `stamp` is the adapter's: one per broadcast,
 * nonzero and increasing. (A Set of the visited connections per broadcast was about 3 times
 * slower on a broadcast to several rooms: see docs/architecture.md, "Adapter state".)
 */
export function firstVisit(conn: AnyConnection, stamp: number): boolean {
  return a().visit(conn, stamp);
}
