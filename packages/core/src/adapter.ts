import { now } from './clock';
import { ErrorCode } from '@stelar/codec-tcp';
import { DEFAULT_REQUEST_TIMEOUT, requestMany } from './broadcast-request';
import type { AnyConnection as Connection } from './connection';
import { addRoom, firstVisit, removeRoom } from './connection-access';
import { StelarError } from './errors';
import { LocalConnectionHandle, type ConnectionHandle } from './handle';
import { MemoryRecoveryLog, OutFrame, type RecoveryLog, type RecoverySettings } from './recovery-log';

/**
 * Which connections an operation addresses. Empty `rooms` means every connection.
 *
 * A name in `rooms` or `exceptRooms` also addresses the connection whose id it is (as if every
 * connection were alone in a room named by its id), so `to(conn.id)` reaches one connection on
 * whichever node it lives.
 */
export interface Target {
  readonly rooms: readonly string[];
  /** Connections in any of these rooms (or with one of these ids) are skipped. */
  readonly exceptRooms: readonly string[];
  /** Connections with these ids are skipped. */
  readonly exceptIds: readonly string[];
}

/** A broadcast: a target plus delivery flags. */
export interface BroadcastTarget extends Target {
  /** May be dropped for receivers under backpressure. */
  readonly volatile: boolean;
  /** Only this process: do not forward to other nodes. */
  readonly local: boolean;
  /**
   * `false`: send uncompressed even where permessage-deflate applies (`.compress(false)`);
   * omitted or `true`: the transport's rule. A cluster adapter carries it to the other nodes.
   */
  readonly compress?: boolean;
}

/** A request to many connections (`to(room).timeout(ms).request(event, data)`). */
export interface BroadcastRequest {
  readonly event: string;
  /**
   * The data, encoded once as a JSON payload (docs/protocol.md §3; may be in the attachment
   * form): each recipient's ACK_REQ is its own request id followed by these bytes
   * (`encodeAckRequestPayload`). A cluster adapter forwards these bytes as they are.
   */
  readonly payload: Uint8Array;
  /** Milliseconds the recipients have to answer, counted from now. Omitted: the hub's `requestTimeout`. */
  readonly timeout?: number | undefined;
}

/** One recipient's answer to a `BroadcastRequest`. */
export type BroadcastAnswer =
  | { readonly id: string; readonly ok: true; readonly value: unknown }
  | { readonly id: string; readonly ok: false; readonly error: { readonly code: string; readonly message: string } };

/** A connection as described across processes. */
export interface ConnectionInfo {
  id: string;
  nodeId: string;
  transport: string;
  remoteAddress: string;
  rooms: string[];
  /** The connection's `data`, as JSON (only what survives JSON.stringify). */
  data: unknown;
}

/** What an adapter may use of the hub it serves. */
export interface AdapterHost {
  /** This process's id in a cluster. */
  readonly nodeId: string;
  /** A local connection by id. */
  connection(id: string): Connection | undefined;
  /** Every open local connection. */
  connections(): IterableIterator<Connection>;
  /** Called by an adapter when another node sends a server-side event; returns the local reply. */
  handleServerEvent(event: string, data: unknown, fromNode: string): Promise<unknown>;
  /** Counts an error (by code) in the hub's metrics. */
  countError(code: string): void;
  /** Adjusts the hub's room gauge. */
  roomsDelta(delta: number): void;
  /** The hub's `requestTimeout` (ms): the default of broadcast requests. */
  readonly requestTimeout?: number;
}

/**
 * Rooms and broadcast, pluggable. The default keeps everything in this process
 * (`MemoryAdapter`); `@stelar/adapter-redis` extends it to many processes.
 *
 * Membership is always local (each node knows its own connections' rooms); a cluster adapter
 * forwards broadcasts and queries to the other nodes and answers theirs.
 */
export interface Adapter {
  /** Called once by the hub before use. */
  attach(host: AdapterHost): void | Promise<void>;
  /**
   * Adds a local connection to rooms (limits already checked by the hub). A cluster adapter may
   * return a promise that resolves once the membership is in effect across nodes (e.g. a
   * subscription); the hub waits for it before acknowledging a client's JOIN.
   */
  join(conn: Connection, rooms: readonly string[]): void | Promise<void>;
  /** Removes a local connection from a room; returns whether it was in it. */
  leave(conn: Connection, room: string): boolean;
  /** Removes a local connection from all its rooms. */
  leaveAll(conn: Connection): void;
  /** Local members of a room. */
  members(room: string): ReadonlySet<Connection> | undefined;
  /** Number of rooms with local members. */
  readonly roomCount: number;
  /**
   * Delivers an encoded frame (docs/protocol.md §1, with totalLen) to every addressed
   * connection: locally, and on other nodes unless `target.local`. The frame is encoded once.
   */
  broadcast(frame: Uint8Array, target: BroadcastTarget): void;
  /**
   * Optional hook: sends a request to every addressed connection, on every node unless
   * `target.local`, and resolves with one answer per recipient once all have answered, or when
   * `request.timeout` passes (a recipient that did not answer by then counts as a `TIMEOUT`
   * failure). Never rejects for a recipient's failure. Without it, `to(…).request(…)` fails
   * with `NO_SUPPORT`. `MemoryAdapter` implements it for its own process (and refuses with
   * `NO_SUPPORT` in a subclass that does not override it, so a cluster adapter never answers
   * for one node as if it were all of them).
   */
  broadcastRequest?(request: BroadcastRequest, target: BroadcastTarget): Promise<BroadcastAnswer[]>;
  /** Connections matching a target, on every node, as handles that can act on them where they live. */
  fetchConnections(target: Target, options?: { timeout?: number }): Promise<ConnectionHandle[]>;
  /** Number of connections matching a target, on every node (without describing each one). */
  countConnections?(target: Target, options?: { timeout?: number }): Promise<number>;
  /** Makes matching connections (on every node) join rooms. */
  addConnectionsToRooms(target: Target, rooms: readonly string[], options?: { timeout?: number }): Promise<void>;
  /** Makes matching connections (on every node) leave rooms. */
  removeConnectionsFromRooms(target: Target, rooms: readonly string[], options?: { timeout?: number }): Promise<void>;
  /** Disconnects matching connections on every node. */
  disconnectConnections(target: Target, code: number, reason: string, options?: { timeout?: number }): Promise<void>;
  /**
   * Sends an event to the other server processes (not to clients). Resolves with one reply per
   * other node when `ack` is set, else with an empty list once sent.
   */
  serverSideEmit(event: string, data: unknown, options?: { ack?: boolean; timeout?: number }): Promise<unknown[]>;
  /** Number of nodes known (1 for a single process). */
  nodeCount(): number;
  /** The adapter's own counters, merged into `getStats().adapter` and the Prometheus output. */
  metrics?(): Record<string, number>;
  /**
   * Connection-state recovery (`HubOptions.recovery`): called once by the hub, before use. From
   * then on the adapter logs its broadcasts and gives each recipient its variant (see
   * `RecoveryLog`, `MemoryAdapter.deliverStamped`). `budget()` is the bytes the log may hold now.
   * Optional: a hub with recovery refuses an adapter without it.
   */
  recovery?(settings: RecoverySettings, budget: () => number): RecoveryLog;
  /** Frees resources (connections to Redis, timers). */
  close(): Promise<void>;
}

/**
 * The default adapter: rooms in this process's memory.
 *
 * Room members are `Set<Connection>` in one map; each connection keeps its own set of room
 * names, so leaving all rooms is O(rooms of that connection). Empty rooms are freed at once.
 * Broadcasts visit each addressed connection once, deduplicated across rooms with a
 * per-broadcast stamp (`firstVisit`) instead of a temporary Set.
 */
export class MemoryAdapter implements Adapter {
  protected host!: AdapterHost;
  protected readonly rooms = new Map<string, Set<Connection>>();
  /** One per multi-room broadcast (see `firstVisit`). */
  private stamp = 0;
  /** Set when the hub turned connection-state recovery on. */
  protected recoveryLog: RecoveryLog | undefined = undefined;

  attach(host: AdapterHost): void {
    this.host = host;
  }

  get roomCount(): number {
    return this.rooms.size;
  }

  join(conn: Connection, rooms: readonly string[]): void {
    for (const room of rooms) {
      if (!addRoom(conn, room)) continue;
      let members = this.rooms.get(room);
      if (!members) {
        this.rooms.set(room, (members = new Set()));
        this.host.roomsDelta(1);
      }
      members.add(conn);
    }
  }

  leave(conn: Connection, room: string): boolean {
    if (!removeRoom(conn, room)) return false;
    const members = this.rooms.get(room);
    if (members) {
      members.delete(conn);
      if (members.size === 0) {
        this.rooms.delete(room);
        this.host.roomsDelta(-1);
      }
    }
    return true;
  }

  leaveAll(conn: Connection): void {
    for (const room of [...conn.rooms]) this.leave(conn, room);
  }

  members(room: string): ReadonlySet<Connection> | undefined {
    return this.rooms.get(room);
  }

  broadcast(frame: Uint8Array, target: BroadcastTarget): void {
    const log = this.recoveryLog;
    // Without recovery (or no session that could recover), the path is the same as ever.
    if (log === undefined || log.sessions === 0) this.deliver(frame, target);
    else this.deliverStamped(new OutFrame(frame, log.append(frame, target, now())), target);
  }

  /**
   * The in-memory log. An adapter that overrides `broadcast` must provide its own (the log must
   * see every broadcast it delivers): this one refuses.
   */
  recovery(settings: RecoverySettings, budget: () => number): RecoveryLog {
    if (this.broadcast !== MemoryAdapter.prototype.broadcast) {
      throw new TypeError(`${this.constructor.name} does not support connection-state recovery (HubOptions.recovery)`);
    }
    return (this.recoveryLog = new MemoryRecoveryLog(settings, budget));
  }

  /** Local delivery of a broadcast with recovery: each recipient takes its variant (`Connection.sendOut`). */
  protected deliverStamped(out: OutFrame, target: BroadcastTarget): number {
    let count = 0;
    const { volatile, compress } = target;
    this.forEachMatch(target, (conn) => {
      conn.sendOut(out, volatile, compress);
      count++;
    });
    return count;
  }

  /** Local delivery: what every adapter does for its own process. Returns the recipients count. */
  protected deliver(frame: Uint8Array, target: BroadcastTarget): number {
    let count = 0;
    const { volatile, compress } = target;
    this.forEachMatch(target, (conn) => {
      conn.sendEncoded(frame, volatile, compress);
      count++;
    });
    return count;
  }

  /**
   * The requests of `to(…).request(…)` in this process. A subclass that reaches other nodes must
   * override it (gathering the answers of the other nodes and `requestLocal` for its own);
   * otherwise it refuses with `NO_SUPPORT`, unless the target is `local`.
   */
  broadcastRequest(request: BroadcastRequest, target: BroadcastTarget): Promise<BroadcastAnswer[]> {
    if (!target.local && Object.getPrototypeOf(this) !== MemoryAdapter.prototype && this.broadcastRequest === MemoryAdapter.prototype.broadcastRequest) {
      return Promise.reject(
        new StelarError(
          ErrorCode.NO_SUPPORT,
          `${this.constructor.name} does not gather replies from other nodes (it has no broadcastRequest of its own): use .local for this process only`,
        ),
      );
    }
    return this.requestLocal(request, target);
  }

  /** Sends `request` to the local connections `target` addresses and gathers their answers. */
  protected requestLocal(request: BroadcastRequest, target: BroadcastTarget): Promise<BroadcastAnswer[]> {
    return requestMany(this.localMatches(target), request, request.timeout ?? this.host.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT, target.compress);
  }

  /** Visits each local open connection the target addresses, once. */
  protected forEachMatch(target: Target, visit: (conn: Connection) => void): void {
    const { exceptRooms, exceptIds } = target;
    const filtered = exceptRooms.length > 0 || exceptIds.length > 0;
    const skip = (c: Connection): boolean => {
      if (!c.isOpen) return true;
      if (!filtered) return false;
      for (const r of exceptRooms) if (c.id === r || c.rooms.has(r)) return true;
      return exceptIds.includes(c.id);
    };
    const host = this.host;
    if (target.rooms.length === 0) {
      for (const c of host.connections()) if (!skip(c)) visit(c);
      return;
    }
    if (target.rooms.length === 1) {
      const name = target.rooms[0]!;
      const members = this.rooms.get(name);
      if (members) for (const c of members) if (!skip(c)) visit(c);
      // The connection whose id this is, unless it is also a member of a room of that name.
      const byId = host.connection(name);
      if (byId && !members?.has(byId) && !skip(byId)) visit(byId);
      return;
    }
    // Several rooms: each connection once, however many of them it is in.
    const stamp = ++this.stamp;
    const once = (c: Connection): void => {
      if (firstVisit(c, stamp) && !skip(c)) visit(c);
    };
    for (const name of target.rooms) {
      const members = this.rooms.get(name);
      if (members) for (const c of members) once(c);
      const byId = host.connection(name);
      if (byId) once(byId);
    }
  }

  protected localMatches(target: Target): Connection[] {
    const out: Connection[] = [];
    this.forEachMatch(target, (c) => out.push(c));
    return out;
  }

  async fetchConnections(target: Target): Promise<ConnectionHandle[]> {
    return this.localMatches(target).map((c) => new LocalConnectionHandle(c));
  }

  /** Joins matching local connections; one over its room limit is skipped (and counted). */
  async addConnectionsToRooms(target: Target, rooms: readonly string[]): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const c of this.localMatches(target)) {
      try {
        pending.push(c.join([...rooms]));
      } catch {
        /* ROOM_LIMIT: already counted by the hub */
      }
    }
    await Promise.all(pending);
  }

  async removeConnectionsFromRooms(target: Target, rooms: readonly string[]): Promise<void> {
    for (const c of this.localMatches(target)) for (const r of rooms) c.leave(r);
  }

  async disconnectConnections(target: Target, code: number, reason: string): Promise<void> {
    for (const c of this.localMatches(target)) c.disconnect(code, reason);
  }

  async serverSideEmit(_event: string, _data?: unknown, _options?: { ack?: boolean; timeout?: number }): Promise<unknown[]> {
    return [];
  }

  async countConnections(target: Target): Promise<number> {
    let n = 0;
    this.forEachMatch(target, () => n++);
    return n;
  }

  nodeCount(): number {
    return 1;
  }

  async close(): Promise<void> {
    this.rooms.clear();
  }
}
