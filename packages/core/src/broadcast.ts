import { encodeBinary, encodeJson, DisconnectCode } from '@stelar/codec-tcp';
import type { Adapter, Target } from './adapter';
import type { ConnectionHandle } from './handle';
import { asBytes, isBinary, type AnyEvents, type EventData, type EventName } from './types';

type Except = string | { readonly id: string } | readonly (string | { readonly id: string })[];

/**
 * Addresses many connections: `to(room)`, several rooms, `except(room | connection)`,
 * `volatile`, `local`. Immutable: each call returns a new operator. `emit` encodes the frame once
 * and hands it to the adapter, which delivers it to every member (on every node).
 */
export class BroadcastOperator<Out extends object = AnyEvents> {
  constructor(
    private readonly adapter: Adapter,
    private readonly rooms: readonly string[] = [],
    private readonly exceptRooms: readonly string[] = [],
    private readonly exceptIds: readonly string[] = [],
    private readonly flags: { readonly volatile: boolean; readonly local: boolean } = { volatile: false, local: false },
  ) {}

  /**
   * Adds rooms to address (a connection in several of them gets the message once). A connection
   * id addresses that connection, on whichever node it is.
   */
  to(rooms: string | readonly string[]): BroadcastOperator<Out> {
    const add = typeof rooms === 'string' ? [rooms] : rooms;
    return new BroadcastOperator(this.adapter, [...new Set([...this.rooms, ...add])], this.exceptRooms, this.exceptIds, this.flags);
  }

  /** Same as `to`. */
  in(rooms: string | readonly string[]): BroadcastOperator<Out> {
    return this.to(rooms);
  }

  /** Skips rooms (strings) and connections (objects with an `id`). */
  except(what: Except): BroadcastOperator<Out> {
    const list = Array.isArray(what) ? (what as readonly (string | { readonly id: string })[]) : [what as string | { readonly id: string }];
    const rooms = [...this.exceptRooms];
    const ids = [...this.exceptIds];
    for (const x of list) {
      if (typeof x === 'string') rooms.push(x);
      else ids.push(x.id);
    }
    return new BroadcastOperator(this.adapter, this.rooms, rooms, ids, this.flags);
  }

  /** Receivers under backpressure may miss this message. */
  get volatile(): BroadcastOperator<Out> {
    return new BroadcastOperator(this.adapter, this.rooms, this.exceptRooms, this.exceptIds, { ...this.flags, volatile: true });
  }

  /** Only this process's connections (with a cluster adapter). */
  get local(): BroadcastOperator<Out> {
    return new BroadcastOperator(this.adapter, this.rooms, this.exceptRooms, this.exceptIds, { ...this.flags, local: true });
  }

  private get target(): Target {
    return { rooms: this.rooms, exceptRooms: this.exceptRooms, exceptIds: this.exceptIds };
  }

  /** Sends an event to every addressed connection; the frame is encoded once. */
  emit<K extends EventName<Out>>(event: K, ...args: undefined extends EventData<Out, K> ? [data?: EventData<Out, K>] : [data: EventData<Out, K>]): void {
    const data: unknown = args[0];
    const frame = isBinary(data) ? encodeBinary(event, asBytes(data)) : encodeJson(event, data);
    this.adapter.broadcast(frame, { ...this.target, ...this.flags });
  }

  /**
   * Connections addressed, on every node: their descriptions, and handles that can emit to them,
   * send them requests, make them join or leave rooms and disconnect them where they live.
   */
  fetchConnections(options?: { timeout?: number }): Promise<ConnectionHandle<Out>[]> {
    return this.adapter.fetchConnections(this.target, options) as Promise<ConnectionHandle<Out>[]>;
  }

  /** Number of connections addressed, on every node. */
  async count(options?: { timeout?: number }): Promise<number> {
    if (this.adapter.countConnections) return this.adapter.countConnections(this.target, options);
    return (await this.fetchConnections(options)).length;
  }

  /** Makes the addressed connections join rooms (on every node). */
  join(rooms: string | readonly string[], options?: { timeout?: number }): Promise<void> {
    return this.adapter.addConnectionsToRooms(this.target, typeof rooms === 'string' ? [rooms] : rooms, options);
  }

  /** Makes the addressed connections leave rooms (on every node). */
  leave(rooms: string | readonly string[], options?: { timeout?: number }): Promise<void> {
    return this.adapter.removeConnectionsFromRooms(this.target, typeof rooms === 'string' ? [rooms] : rooms, options);
  }

  /** Disconnects the addressed connections (on every node). */
  disconnect(code: number = DisconnectCode.NORMAL, reason = '', options?: { timeout?: number }): Promise<void> {
    return this.adapter.disconnectConnections(this.target, code, reason, options);
  }
}
