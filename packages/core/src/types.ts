/**
 * Typed event maps, shared by server and client.
 *
 * An event map names each event and types it as a function: its parameter is the data, its
 * return type the reply to a request (`void` for events that are only emitted).
 *
 * ```ts
 * type Events = {
 *   chat: (msg: { text: string }) => void;
 *   sum: (args: { a: number; b: number }) => number;
 *   avatar: (png: Uint8Array) => void;       // binary events carry Uint8Array
 *   img: (msg: { name: string; bytes: Uint8Array }) => void; // so may fields inside JSON data
 * };
 * ```
 * A server is `Hub<In, Out>`: `In` the events it receives, `Out` those it sends (default: one
 * shared map for both directions). A client takes the same maps the other way round.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EventMap = { [event: string]: (data: any) => unknown };

/** The map used when none is declared: any event, any data. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyEvents = { [event: string]: (data?: any) => any };

/** Event names of a map. */
export type EventName<M> = keyof M & string;

/** The data type of an event. */
export type EventData<M, K extends keyof M> = M[K] extends (...args: infer A) => unknown ? (A extends [] ? undefined : A[0]) : never;

/**
 * The arguments after the event name of `emit` and `request`: the data, then options. The data
 * may be left out only when the event takes none (`() => …`, or a parameter that accepts
 * `undefined`); `request('sum')` does not compile when `sum` needs its data.
 */
export type DataArgs<M, K extends keyof M, O> = undefined extends EventData<M, K> ? [data?: EventData<M, K>, options?: O] : [data: EventData<M, K>, options?: O];

/** The reply type of an event used as a request. */
export type EventReply<M, K extends keyof M> = M[K] extends (...args: never[]) => infer R ? Awaited<R> : never;

/** What a handler may return: the reply, or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * What a handler of an event may return: the reply type (or a promise of it) for requests;
 * anything for events without a reply, so `(m, conn) => conn.emit(…)` is fine there.
 */
export type HandlerResult<R> = [R] extends [void] ? unknown : MaybePromise<R>;

/**
 * Binary data accepted by `emit` as the whole data: sent as a BINARY frame. Binary values may
 * also sit anywhere inside JSON data (`{ name, bytes }`, arrays of them): Uint8Array (Buffer),
 * other typed arrays, DataView, ArrayBuffer and SharedArrayBuffer are sent as their bytes
 * (docs/protocol.md §3) and arrive as `Uint8Array` — declare them `Uint8Array` in event maps.
 */
export type BinaryData = Uint8Array | ArrayBuffer;

/** True when a value is sent as a BINARY frame rather than JSON. */
export function isBinary(data: unknown): data is BinaryData {
  return data instanceof Uint8Array || data instanceof ArrayBuffer;
}

/** Bytes of binary data without copying. */
export function asBytes(data: BinaryData): Uint8Array {
  return data instanceof Uint8Array ? data : new Uint8Array(data);
}

/** Options of a single send. */
export interface SendOptions {
  /**
   * A volatile message may be dropped when the receiver is slow (its outgoing buffer is above
   * the high-water mark) instead of being queued: use it for positions, typing indicators…
   */
  volatile?: boolean;
}

/** Options of a server's send to one connection (`conn.emit(event, data, options)`). */
export interface EmitOptions extends SendOptions {
  /**
   * `false` sends this message uncompressed even when the connection negotiated
   * permessage-deflate (WebSocket) and the message is above the threshold: for data that does not
   * compress (images, already compressed bytes) or must leave at once. `true` (the default) leaves
   * it to the transport: compressed when negotiated and at least `threshold` bytes. TCP never
   * compresses.
   */
  compress?: boolean;
}

/** Options of a request (an event that expects a reply). */
export interface RequestOptions {
  /** Milliseconds before the promise rejects with code TIMEOUT. */
  timeout?: number;
  /** Aborting rejects the promise with code ABORTED (the reply, if it comes, is ignored). */
  signal?: AbortSignal;
}

/** True for promises and other thenables a handler may return. */
export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
