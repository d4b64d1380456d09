/** The three entry points: what each one exports (values at run time, every name in the source). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as client from '../src/client/index';
import * as root from '../src/index';
import * as internal from '../src/internal';

/** Every name an entry file exports, types included (from its `export { … }` lists). */
function exportedNames(file: string): string[] {
  const src = readFileSync(new URL(file, import.meta.url), 'utf8');
  const names: string[] = [];
  for (const m of src.matchAll(/export (?:type )?\{([^}]*)\}/g)) {
    for (const part of m[1]!.split(',')) {
      const name = part.trim().replace(/^type /, '').split(/\s+as\s+/).pop()!;
      if (name) names.push(name);
    }
  }
  return names.sort();
}

describe('entry points', () => {
  it('@stelar/core: what server-side code uses (44 names)', () => {
    expect(Object.keys(root).sort()).toEqual(['AuthError', 'Connection', 'DisconnectCode', 'ErrorCode', 'Hub', 'MemoryAdapter', 'StelarError']);
    expect(exportedNames('../src/index.ts')).toEqual(
      [
        'Adapter', 'AnyEventHandler', 'AnyEvents', 'AuthError', 'BinaryData', 'BroadcastOperator', 'BroadcastRequestDetails', 'Connection', 'ConnectionData', 'ConnectionEmitter', 'ConnectionHandle', 'ConnectionInfo',
        'ConnectionMiddleware', 'LimitEvent', 'LimitReason', 'LogFields', 'Logger', 'LogLevel', 'LogMethod', 'DisconnectCode', 'EmitOptions', 'ErrorCode', 'EventContext', 'EventData', 'EventHandler', 'EventMap',
        'EventMiddleware', 'EventName', 'EventReply', 'HeartbeatOptions', 'Hub', 'HubOptions', 'MemoryAdapter', 'RateLimitAction',
        'RateLimitOptions', 'RateLimitRule', 'RateLimiter', 'RateLimitSubject', 'RecoveryOptions', 'RecoveryStats', 'RequestOptions', 'SendOptions', 'Stats', 'StelarError',
      ].sort(),
    );
  });

  it('@stelar/core/client: the engine and what a dialer implements (34 names)', () => {
    expect(Object.keys(client).sort()).toEqual(['ClientEngine', 'DisconnectCode', 'ErrorCode', 'SendStatus', 'StelarError', 'backoffDelay']);
    expect(client.StelarError).toBe(root.StelarError);
    expect(exportedNames('../src/client/index.ts')).toHaveLength(34);
  });

  it('@stelar/core/internal: the transport and adapter contracts and shared helpers, nothing of the API', () => {
    expect(Object.keys(internal).sort()).toEqual(
      ['ENTRY_OVERHEAD', 'LocalConnectionHandle', 'LogEntry', 'LogSink', 'LogWindow', 'MAX_CLOSE_REASON_BYTES', 'MemoryRecoveryLog', 'OutFrame', 'SendStatus', 'asBytes', 'consoleLogger', 'cutReason', 'debugEnabled', 'infoOf', 'isBinary', 'isPeerCloseCode', 'linkOf', 'now', 'toErrorBody', 'addRoom', 'removeRoom', 'firstVisit'].sort(),
    );
    expect(exportedNames('../src/internal.ts')).toHaveLength(37);
    for (const name of Object.keys(internal)) expect(Object.keys(root)).not.toContain(name);
  });
});
