import { DisconnectCode, ErrorCode } from '@stelar/codec-tcp';
import type { ConnectionInfo } from './adapter';
import { StelarError } from './errors';
import type { AnyConnection } from './connection';
import type { AnyEvents, DataArgs, EventData, EventName, EventReply } from './types';

/** `emit(event, data)` arguments: data optional only for events that take none. */
type EmitData<M, K extends keyof M> = undefined extends EventData<M, K> ? [data?: EventData<M, K>] : [data: EventData<M, K>];

/**
 * A connection found by `fetchConnections()`, on this node or any other: its description at the
 * time of the query, and what can be done to it wherever it lives. With a cluster adapter the
 * operations on a remote connection travel to its node; they reject with the code of what went
 * wrong there (e.g. `DISCONNECTED` when the connection is gone, `NODE_TIMEOUT` when its node does
 * not answer).
 */
export interface ConnectionHandle<Out extends object = AnyEvents> extends ConnectionInfo {
  /** True when the connection lives in this process. */
  readonly local: boolean;
  /** Sends an event to the connection (fire and forget, like a broadcast). */
  emit<K extends EventName<Out>>(event: K, ...args: EmitData<Out, K>): void;
  /** Sends a request to the connection's client and resolves with its reply (JSON across nodes). */
  request<K extends EventName<Out>>(event: K, ...args: DataArgs<Out, K, { timeout?: number }>): Promise<EventReply<Out, K>>;
  /** Makes the connection join rooms; resolves once it has (on its node). */
  join(rooms: string | readonly string[]): Promise<void>;
  /** Makes the connection leave rooms. */
  leave(rooms: string | readonly string[]): Promise<void>;
  /** Closes the connection; resolves once its node has done it (at once if it was already gone). */
  disconnect(code?: number, reason?: string): Promise<void>;
}

/** The description part of a handle (what `JSON.stringify` shows). */
export function infoOf(h: ConnectionInfo): ConnectionInfo {
  return { id: h.id, nodeId: h.nodeId, transport: h.transport, remoteAddress: h.remoteAddress, rooms: h.rooms, data: h.data };
}

/** A handle on a connection of this process: every operation is a direct call. */
export class LocalConnectionHandle implements ConnectionHandle {
  readonly local = true;
  readonly id: string;
  readonly nodeId: string;
  readonly transport: string;
  readonly remoteAddress: string;
  readonly rooms: string[];
  readonly data: unknown;
  readonly #conn: AnyConnection;

  constructor(conn: AnyConnection) {
    const info = conn.info();
    this.id = info.id;
    this.nodeId = info.nodeId;
    this.transport = info.transport;
    this.remoteAddress = info.remoteAddress;
    this.rooms = info.rooms;
    this.data = info.data;
    this.#conn = conn;
  }

  emit(event: string, data?: unknown): void {
    this.#conn.emit(event, data);
  }

  request(event: string, data: unknown, options?: { timeout?: number }): Promise<never> {
    return this.#conn.request(event, data, options ?? {}) as Promise<never>;
  }

  async join(rooms: string | readonly string[]): Promise<void> {
    if (!this.#conn.isOpen) throw new StelarError(ErrorCode.DISCONNECTED, `connection ${this.id} is closed`);
    await this.#conn.join(rooms);
  }

  async leave(rooms: string | readonly string[]): Promise<void> {
    for (const r of typeof rooms === 'string' ? [rooms] : rooms) this.#conn.leave(r);
  }

  async disconnect(code: number = DisconnectCode.NORMAL, reason = ''): Promise<void> {
    this.#conn.disconnect(code, reason);
  }

  toJSON(): ConnectionInfo {
    return infoOf(this);
  }
}
