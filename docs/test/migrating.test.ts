// docs/migrating-from-3.x.md is tested here, from the markdown itself:
// - every Stelar example (a ```ts block after an `<!-- example: name -->` marker) is written to
//   docs/test/.examples/, typechecked with the repository's strict settings against the
//   packages' sources, then run; what it prints must equal the ```text block after its
//   `<!-- output: name -->` marker;
// - the API table has one row for each public item of stelar-time-real 3.3.0 (the list below,
//   taken from its type declarations), and the counts the guide states match the table.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const guidePath = join(root, 'docs', 'migrating-from-3.x.md');
const guide = readFileSync(guidePath, 'utf8');
const outDir = join(root, 'docs', 'test', '.examples');

interface Example {
  name: string;
  code: string;
  output: string | undefined;
}

function examples(): Example[] {
  const found: Example[] = [];
  const codeRe = /<!-- example: ([a-z0-9-]+) -->\s*```ts\n([\s\S]*?)```/g;
  for (const m of guide.matchAll(codeRe)) {
    const name = m[1]!;
    const outRe = new RegExp(`<!-- output: ${name} -->\\s*\`\`\`text\\n([\\s\\S]*?)\`\`\``);
    found.push({ name, code: m[2]!, output: outRe.exec(guide)?.[1] });
  }
  return found;
}

const all = examples();

describe('docs/migrating-from-3.x.md: the Stelar examples', () => {
  beforeAll(() => {
    rmSync(outDir, { recursive: true, force: true });
    mkdirSync(outDir, { recursive: true });
    for (const ex of all) writeFileSync(join(outDir, `${ex.name}.ts`), ex.code);
    writeFileSync(
      join(outDir, 'tsconfig.json'),
      JSON.stringify(
        {
          extends: '../../../tsconfig.base.json',
          compilerOptions: {
            lib: ['ES2022', 'DOM'],
            types: ['node'],
            paths: {
              '@stelar/core/client': ['../../../packages/core/src/client/index.ts'],
              '@stelar/core/internal': ['../../../packages/core/src/internal.ts'],
              '@stelar/*': ['../../../packages/*/src/index.ts'],
            },
          },
          include: ['*.ts'],
        },
        null,
        2,
      ),
    );
  });

  it('has examples, each with its expected output, and unique names', () => {
    expect(all.length).toBeGreaterThanOrEqual(8);
    expect(new Set(all.map((e) => e.name)).size).toBe(all.length);
    for (const ex of all) expect(ex.output, `example "${ex.name}" has no <!-- output --> block`).toBeDefined();
  });

  it('every example typechecks (strict, as the packages are)', () => {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', join(outDir, 'tsconfig.json')], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  }, 120_000);

  afterEach(() => {
    vi.restoreAllMocks();
  });

  for (const ex of all) {
    it(`example "${ex.name}" runs and prints what the guide says`, async () => {
      const lines: string[] = [];
      vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
        lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
      });
      await import(pathToFileURL(join(outDir, `${ex.name}.ts`)).href);
      vi.restoreAllMocks();
      expect(lines.join('\n')).toBe((ex.output ?? '').trimEnd());
    }, 30_000);
  }
});

/**
 * The public API of stelar-time-real 3.3.0, from its type declarations (src/index.d.ts,
 * src/client.d.ts, src/logger.d.ts): the package's exports, the server's and the client's public
 * methods, and the members of the option, hook, context, client-info and stats types. The
 * client's lifecycle events (emitted by name on `client.on`) are listed too.
 */
const API_3_3_0 = [
  // exports of 'stelar-time-real' and 'stelar-time-real/client'
  'StelarServer', 'StelarClient', 'Logger', 'NULL_LOGGER', 'LogLevel', 'ProtocolError', 'validateEventName',
  'DEFAULT_MAX_FRAME_SIZE', 'MAX_EVENT_LENGTH', 'HEADER_SIZE', 'WebSocketError', 'DEFAULT_MAX_WS_FRAME_SIZE',
  'CLOSE_NORMAL', 'CLOSE_GOING_AWAY', 'CLOSE_PROTOCOL_ERROR', 'CLOSE_POLICY_VIOLATION', 'CLOSE_MESSAGE_TOO_BIG',
  'CLOSE_INVALID_PAYLOAD', 'CLOSE_UNSUPPORTED', 'IRateLimiter', 'IIPTracker', 'StelarHooks', 'EventRateLimits',
  'StelarOptions', 'StelarClientInfo', 'StelarContext', 'StelarMiddleware', 'StelarEventHandler',
  'StelarWildcardHandler', 'StelarStats', 'StelarClientOptions', 'StelarClientHooks', 'StelarEmitOptions',
  'ConnectionState',
  // StelarOptions
  'port', 'server', 'namespace', 'heartbeatInterval', 'heartbeatTimeout', 'tcpPort', 'maxConnections',
  'maxConnectionsPerIP', 'maxRooms', 'maxRoomsPerClient', 'maxPayloadSize', 'maxFrameSize', 'rateLimit',
  'connectTimeout', 'gracefulShutdown', 'shutdownTimeout', 'healthEndpoint', 'logger', 'tls', 'allowedOrigins',
  'customRateLimiter', 'customIPTracker', 'generateClientId', 'eventRateLimits', 'hooks', 'customHealthHandler',
  'compression',
  // StelarHooks
  'onRateLimitExceeded', 'onMaxConnectionsReached', 'onMaxRoomsReached', 'onMaxRoomsPerClientReached',
  'onPayloadTooLarge', 'onInvalidMessage', 'onClientJoinRoom', 'onClientLeaveRoom', 'onBeforeBroadcast',
  'onClientConnect', 'onClientDisconnect',
  // StelarServer
  'new StelarServer()', 'StelarServer.of()', 'updateConfig()', 'setClientRateLimit()', 'removeClientRateLimit()',
  'setEventRateLimit()', 'removeEventRateLimit()', 'getConfig()', 'use()', 'on()', 'onAll()', 'onConnection()',
  'onDisconnect()', 'onAck()', 'broadcast()', 'broadcastBinary()', 'to()', 'toId()', 'getClients()',
  'getRoomMembers()', 'getRooms()', 'getPort()', 'getStats()', 'onShutdown()', 'start()', 'stop()',
  // StelarContext
  'ctx.id', 'ctx.socket', 'ctx.req', 'ctx.data', 'ctx.buffer', 'ctx.isBinary', 'ctx.event', 'ctx.error',
  'ctx.clientInfo', 'ctx.emit()', 'ctx.send()', 'ctx.emitBinary()', 'ctx.broadcast()', 'ctx.broadcastBinary()',
  'ctx.to()', 'ctx.toId()', 'ctx.getClients()', 'ctx.joinRoom()', 'ctx.leaveRoom()', 'ctx.setMetadata()',
  'ctx.getMetadata()', 'ctx.ack()',
  // StelarClientInfo
  'info.id', 'info.rooms', 'info.lastPing', 'info.protocol', 'info.connectedAt', 'info.metadata',
  'info.messagesReceived', 'info.messagesSent', 'info.remoteAddress',
  // StelarStats
  'totalConnections', 'activeConnections', 'totalMessagesReceived', 'totalMessagesSent', 'totalRooms', 'uptime',
  'wsConnections', 'tcpConnections', 'memoryUsage', 'rateLimiterEntries',
  // StelarClientOptions
  'reconnection', 'reconnectionAttempts', 'reconnectionDelay', 'maxReconnectionDelay', 'client heartbeatInterval',
  'ackTimeout', 'mode', 'client maxPayloadSize', 'client maxFrameSize', 'messageQueueSize', 'client logger',
  'client tls', 'rejectUnauthorized', 'headers', 'client compression', 'customReconnectDelay', 'client hooks',
  // StelarClientHooks
  'onBeforeEmit', 'onMessage', 'onStateChange', 'onReconnectDelay', 'onMessageQueued', 'onQueueDrained', 'onError',
  // StelarClient
  'new StelarClient()', 'getState()', 'getId()', 'getUrl()', 'getMessagesSent()', 'getMessagesReceived()',
  'getLastError()', 'getQueueSize()', 'getConnectTime()', 'setUrl()', 'updateOptions()', 'getOptions()',
  'client.on()', 'client.off()', 'client.once()', 'client.onAll()', 'client.onAck()', 'removeAllListeners()',
  'client.emit()', 'emitBinary()', 'sendFile()', 'sendImage()', 'request()', 'joinRoom()', 'leaveRoom()',
  'connect()', 'disconnect()', 'isConnected()',
  // client events
  "'connect' event", "'disconnect' event", "'reconnecting' event", "'reconnect_failed' event", "'error' event",
];

interface Row {
  item: string;
  stelar: string;
}

function apiRows(): Row[] {
  const start = guide.indexOf('<!-- api-table -->');
  const end = guide.indexOf('<!-- /api-table -->');
  if (start < 0 || end < start) return [];
  const rows: Row[] = [];
  for (const line of guide.slice(start, end).split('\n')) {
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    // | item | Stelar | notes |  → ['', item, stelar, notes, '']
    if (cells.length < 4 || !line.startsWith('|') || /^-+$/.test(cells[1] ?? '') || cells[1] === '3.3.0') continue;
    const item = (cells[1] ?? '').replace(/^`|`$/g, '');
    if (item) rows.push({ item, stelar: cells[2] ?? '' });
  }
  return rows;
}

describe('docs/migrating-from-3.x.md: the API table', () => {
  const rows = apiRows();

  it('has one row for every public item of 3.3.0, and no other', () => {
    const items = rows.map((r) => r.item);
    expect(new Set(API_3_3_0).size).toBe(API_3_3_0.length);
    expect(items.filter((x, i) => items.indexOf(x) !== i)).toEqual([]);
    expect([...items].sort()).toEqual([...API_3_3_0].sort());
  });

  it('every row names a Stelar equivalent or says "missing" (with what to do instead)', () => {
    for (const r of rows) expect(r.stelar, r.item).not.toBe('');
  });

  it('states the counts the table has', () => {
    const missing = rows.filter((r) => /^\*\*missing\*\*/.test(r.stelar)).length;
    const m = /<!-- counts -->\s*\*\*(\d+)\*\* items: \*\*(\d+)\*\* with an equivalent in Stelar, \*\*(\d+)\*\* missing/.exec(guide);
    expect(m, 'the counts sentence after <!-- counts -->').not.toBeNull();
    expect(Number(m![1])).toBe(rows.length);
    expect(Number(m![2])).toBe(rows.length - missing);
    expect(Number(m![3])).toBe(missing);
  });
});
