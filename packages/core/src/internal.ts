/**
 * `@stelar/core/internal`: what Stelar's own transports and adapters need from the core beyond
 * its public API. NOT semver-stable: any release may change it. Applications use `@stelar/core`
 * and `@stelar/core/client`.
 */

// The transport contract: a transport turns sockets into links (docs/protocol.md §1, §5).
export { SendStatus, type Link, type LinkHandler, type LinkInfo, type TransportName } from './link';
export type { Dialer } from './client/options';
export { cutReason, isPeerCloseCode, MAX_CLOSE_REASON_BYTES } from './close';

// The adapter contract: what an adapter may use of the hub and of its connections.
export type { AdapterHost, BroadcastAnswer, BroadcastRequest, BroadcastTarget, Target } from './adapter';
export type { AnyConnection } from './connection';
export { addRoom, firstVisit, linkOf, removeRoom } from './connection-access';
export { LocalConnectionHandle, infoOf } from './handle';
// Connection-state recovery: what an adapter implements (`Adapter.recovery`) and hands recipients.
export { ENTRY_OVERHEAD, LogWindow } from './log-window';
export { LogEntry, MemoryRecoveryLog, OutFrame, type RecoveryLog, type RecoverySettings, type SessionRecord, type SharedLog } from './recovery-log';

// Helpers the sibling packages share with the core.
export { toErrorBody } from './errors';
export { consoleLogger, debugEnabled, LogSink } from './logger';
export { now } from './clock';
export { asBytes, isBinary } from './types';
