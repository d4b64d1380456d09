import type { Connection } from './connection';
import type { AnyEvents } from './types';

/**
 * A limit refused something (`hub.onLimit`). One event per refusal: the connection, join or
 * message refused is already answered the usual way (HTTP 503 or DISCONNECT 1013, `ROOM_LIMIT`,
 * `RATE_LIMITED` or close 4005); the listener only learns of it.
 *
 * - `maxConnections`, `maxConnectionsPerIp`: a new connection was refused (from `@stelar/server`,
 *   which owns those limits; there is no session yet, so no `conn`).
 * - `maxRooms`, `maxRoomsPerConnection`: a join was refused; `rooms` are the ones asked for.
 * - `rateLimit`: a message was over the rate limit; `action` says what was done with it.
 */
export type LimitEvent<C = Connection<AnyEvents, AnyEvents>> =
  | { readonly reason: 'maxConnections' | 'maxConnectionsPerIp'; readonly limit: number; readonly remoteAddress: string }
  | { readonly reason: 'maxRooms' | 'maxRoomsPerConnection'; readonly limit: number; readonly conn: C; readonly rooms: readonly string[] }
  | { readonly reason: 'rateLimit'; readonly conn: C; readonly event: string; readonly action: 'drop' | 'disconnect' };

/** Every `reason` a `LimitEvent` may have. */
export type LimitReason = LimitEvent['reason'];
