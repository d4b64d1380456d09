import type { ConnectionHandle, ConnectionInfo } from '@stelar/core';

/** What a remote handle asks of the cluster adapter (the connection's node does the work). */
export interface RemoteOps {
  emitTo(node: string, id: string, event: string, data: unknown): void;
  requestTo(node: string, id: string, event: string, data: unknown, timeout: number | undefined): Promise<unknown>;
  roomsTo(node: string, id: string, op: 'c.join' | 'c.leave', rooms: string[]): Promise<void>;
  disconnectTo(node: string, id: string, code: number | undefined, reason: string | undefined): Promise<void>;
}

/**
 * A connection on another node, as found by `fetchConnections()`. Its fields are what its node
 * described at the time of the query; its methods travel to that node through the broker.
 */
export class RemoteConnectionHandle implements ConnectionHandle {
  readonly local = false;
  readonly id: string;
  readonly nodeId: string;
  readonly transport: string;
  readonly remoteAddress: string;
  readonly rooms: string[];
  readonly data: unknown;
  readonly #ops: RemoteOps;

  constructor(info: ConnectionInfo, ops: RemoteOps) {
    this.id = String(info.id);
    this.nodeId = String(info.nodeId);
    this.transport = String(info.transport);
    this.remoteAddress = String(info.remoteAddress);
    this.rooms = Array.isArray(info.rooms) ? info.rooms.map(String) : [];
    this.data = info.data;
    this.#ops = ops;
  }

  /** Published to the connection's node only; lost (and counted) if the broker is away. */
  emit(event: string, data?: unknown): void {
    this.#ops.emitTo(this.nodeId, this.id, event, data);
  }

  /**
   * A request to the connection's client, made by its node; the reply travels back as JSON.
   * Rejects with the client's error code, `TIMEOUT`, `DISCONNECTED` (the connection or its node
   * is gone) or `NODE_TIMEOUT` (its node did not answer in `timeout` + 500 ms).
   */
  request(event: string, data: unknown, options?: { timeout?: number }): Promise<never> {
    return this.#ops.requestTo(this.nodeId, this.id, event, data, options?.timeout) as Promise<never>;
  }

  join(rooms: string | readonly string[]): Promise<void> {
    return this.#ops.roomsTo(this.nodeId, this.id, 'c.join', typeof rooms === 'string' ? [rooms] : [...rooms]);
  }

  leave(rooms: string | readonly string[]): Promise<void> {
    return this.#ops.roomsTo(this.nodeId, this.id, 'c.leave', typeof rooms === 'string' ? [rooms] : [...rooms]);
  }

  disconnect(code?: number, reason?: string): Promise<void> {
    return this.#ops.disconnectTo(this.nodeId, this.id, code, reason);
  }

  toJSON(): ConnectionInfo {
    return { id: this.id, nodeId: this.nodeId, transport: this.transport, remoteAddress: this.remoteAddress, rooms: this.rooms, data: this.data };
  }
}
