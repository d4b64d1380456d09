import { encodeBinary, encodeJson, encodeJsonPayload, DisconnectCode, ErrorCode } from '@stelar/codec-tcp';
import type { Adapter, BroadcastAnswer, BroadcastTarget, Target } from './adapter';
import { StelarError } from './errors';
import type { ConnectionHandle } from './handle';
import { asBytes, isBinary, type AnyEvents, type EventData, type EventName, type EventReply } from './types';

interface Flags {
  readonly volatile: boolean;
  readonly local: boolean;
  readonly compress?: boolean;
  /** For `request`: ms the recipients have to answer. */
  readonly timeout?: number;
}

/** What a broadcast request's rejection carries in `details` (a `StelarError`). */
export interface BroadcastRequestDetails<R = unknown> {
  /** The replies that came, one per recipient that answered. */
  readonly replies: R[];
  /** The recipients that did not answer: connection id, and the code and message of why. */
  readonly failures: { readonly id: string; readonly code: string; readonly message: string }[];
}

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
    private readonly flags: Flags = { volatile: false, local: false },
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

  /**
   * `false`: the messages of this operator go uncompressed even to WebSocket clients that
   * negotiated permessage-deflate (`server.to(room).compress(false).emit('img', bytes)`).
   * `true` (the default): the transport's rule, compressed at or above its threshold.
   */
  compress(enabled: boolean): BroadcastOperator<Out> {
    return new BroadcastOperator(this.adapter, this.rooms, this.exceptRooms, this.exceptIds, { ...this.flags, compress: enabled });
  }

  /**
   * How long the recipients of `request` have to answer (ms; default: the hub's
   * `requestTimeout`, 10 s). `Infinity`: until each has answered or disconnected.
   * @throws RangeError unless a positive number
   */
  timeout(ms: number): BroadcastOperator<Out> {
    if (typeof ms !== 'number' || !(ms > 0)) throw new RangeError(`timeout must be a positive number of ms, got ${String(ms)}`);
    return new BroadcastOperator(this.adapter, this.rooms, this.exceptRooms, this.exceptIds, { ...this.flags, timeout: ms });
  }

  private get target(): Target {
    return { rooms: this.rooms, exceptRooms: this.exceptRooms, exceptIds: this.exceptIds };
  }

  private get broadcastTarget(): BroadcastTarget {
    const { volatile, local, compress } = this.flags;
    return compress === undefined ? { ...this.target, volatile, local } : { ...this.target, volatile, local, compress };
  }

  /** Sends an event to every addressed connection; the frame is encoded once. */
  emit<K extends EventName<Out>>(event: K, ...args: undefined extends EventData<Out, K> ? [data?: EventData<Out, K>] : [data: EventData<Out, K>]): void {
    const data: unknown = args[0];
    const frame = isBinary(data) ? encodeBinary(event, asBytes(data)) : encodeJson(event, data);
    this.adapter.broadcast(frame, this.broadcastTarget);
  }

  /**
   * Sends a request to every addressed connection, on every node, and resolves with their
   * replies, one per recipient (in no particular order; `[]` when nobody is addressed), once
   * all have answered. Socket.IO's `timeout(ms).emitWithAck(…)`.
   *
   * Rejects with a `StelarError` when a recipient failed to answer: code `TIMEOUT` when one did
   * not answer within `timeout(ms)`, else the code of the first failure (`DISCONNECTED`, or
   * what the client's handler threw); its `details` are a `BroadcastRequestDetails` (the replies
   * that came and who failed why). It settles when the last recipient is accounted for, at the
   * latest when the timeout passes. `volatile` does not apply. With an adapter that cannot
   * gather replies from other nodes, rejects with `NO_SUPPORT`.
   */
  async request<K extends EventName<Out>>(event: K, ...args: undefined extends EventData<Out, K> ? [data?: EventData<Out, K>] : [data: EventData<Out, K>]): Promise<EventReply<Out, K>[]> {
    const adapter = this.adapter;
    if (!adapter.broadcastRequest) throw new StelarError(ErrorCode.NO_SUPPORT, 'this adapter cannot send a request to many connections (it has no broadcastRequest)');
    const payload = encodeJsonPayload(args[0]);
    const answers = await adapter.broadcastRequest({ event, payload, timeout: this.flags.timeout }, this.broadcastTarget);
    return settleAnswers(event, answers) as EventReply<Out, K>[];
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

/** The replies of a broadcast request, or the rejection that says who failed. */
function settleAnswers(event: string, answers: readonly BroadcastAnswer[]): unknown[] {
  const replies: unknown[] = [];
  const failures: { id: string; code: string; message: string }[] = [];
  for (const a of answers) {
    if (a.ok) replies.push(a.value);
    else failures.push({ id: a.id, code: a.error.code, message: a.error.message });
  }
  if (failures.length === 0) return replies;
  const timedOut = failures.some((f) => f.code === ErrorCode.TIMEOUT);
  const code = timedOut ? ErrorCode.TIMEOUT : failures[0]!.code;
  const details: BroadcastRequestDetails = { replies, failures };
  throw new StelarError(code, `${failures.length} of ${answers.length} recipients of "${event}" did not answer (${failures[0]!.code}: ${failures[0]!.message})`, details);
}
