import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuthError, createServer, StelarError, type Connection, type StelarServer } from '@stelar/server';
import { packFile, unpackFile } from './shared/envelope';
import { DEFAULT_ROOM, MAX_FILE_BYTES, MAX_TEXT, NICK_RE, ROOM_RE, type ChatMessage, type ClientToServer, type FileInfo, type ServerToClient } from './shared/protocol';

export interface ChatOptions {
  /** HTTP + WebSocket port (0 = any free port). Default 3000. */
  port?: number;
  /** Binary TCP port (0 = any free port). Default 4000. */
  tcpPort?: number;
  /** Address both listeners bind to. Default 127.0.0.1. */
  host?: string;
  /** Directory holding the page (index.html, app.js, style.css). Default: `web/` next to this module. */
  webDir?: string;
  /** Path of the client's `<script>` bundle. Default: `@stelar/client-browser/stelar.min.js`. */
  clientBundle?: string;
  /** Secret the bot presents to use the nickname `bot`. Default: random. */
  botToken?: string;
  /** Messages kept per room for late joiners. Default 100. */
  historySize?: number;
  /** Close gracefully on SIGINT/SIGTERM (Stelar's handler). Default false. */
  handleSignals?: boolean;
  /** Errors from handlers and transports. Default: printed to stderr. */
  onError?: (err: unknown) => void;
}

export interface Chat {
  server: StelarServer<ClientToServer, ServerToClient>;
  http: http.Server;
  port: number;
  tcpPort: number;
  /** The page. */
  url: string;
  /** Where TCP services (the bot) connect. */
  tcpUrl: string;
  botToken: string;
  /** Graceful stop: Stelar first (clients are told 1001), then the HTTP server. */
  close(): Promise<void>;
}

export const BOT_NICK = 'bot';
/** Rooms whose history is kept (the oldest is forgotten beyond it). */
const MAX_HISTORY_ROOMS = 500;

type Conn = Connection<ClientToServer, ServerToClient>;

const here = dirname(fileURLToPath(import.meta.url));

function loadAssets(webDir: string, clientBundle: string): Map<string, { type: string; body: Buffer }> {
  const files: [string, string, string][] = [
    ['/', join(webDir, 'index.html'), 'text/html; charset=utf-8'],
    ['/app.js', join(webDir, 'app.js'), 'text/javascript; charset=utf-8'],
    ['/style.css', join(webDir, 'style.css'), 'text/css; charset=utf-8'],
    ['/stelar.min.js', clientBundle, 'text/javascript; charset=utf-8'],
  ];
  const assets = new Map<string, { type: string; body: Buffer }>();
  for (const [route, file, type] of files) {
    if (!existsSync(file)) throw new Error(`chat: ${file} is missing: build first (npm run build in apps/chat, or npm start at the root)`);
    assets.set(route, { type, body: readFileSync(file) });
  }
  return assets;
}

function defaultBundle(): string {
  return createRequire(import.meta.url).resolve('@stelar/client-browser/stelar.min.js');
}

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const str = (v: unknown, max: number): string | undefined => (typeof v === 'string' && v.length <= max ? v : undefined);

/**
 * Starts the chat: one `http` server carrying the page, the client bundle, `/healthz` and the
 * WebSocket endpoint (`/ws`), and a TCP listener for services such as the bot.
 */
export async function startChat(options: ChatOptions = {}): Promise<Chat> {
  const host = options.host ?? '127.0.0.1';
  const assets = loadAssets(options.webDir ?? join(here, 'web'), options.clientBundle ?? defaultBundle());
  const botToken = options.botToken ?? randomBytes(18).toString('base64url');
  const historySize = options.historySize ?? 100;
  const report = options.onError ?? ((err: unknown) => console.error('chat:', err));

  const httpServer = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const asset = req.method === 'GET' || req.method === 'HEAD' ? assets.get(path === '/index.html' ? '/' : path) : undefined;
    if (!asset) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS }).end('Not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache', ...SECURITY_HEADERS });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  });

  /** Rooms each connection was announced in, so a disconnect can be announced too. */
  const announced = new Map<string, Set<string>>();
  const history = new Map<string, ChatMessage[]>();
  let seq = 0;
  const newId = (): string => `${Date.now().toString(36)}-${(++seq).toString(36)}`;

  const server: StelarServer<ClientToServer, ServerToClient> = createServer<ClientToServer, ServerToClient>({
    server: httpServer,
    tcpPort: options.tcpPort ?? 4000,
    host,
    ws: { path: '/ws' },
    health: true,
    handleSignals: options.handleSignals ?? false,
    onError: report,
    // Generous for people, firm for floods; files are the expensive part.
    rateLimit: { connection: { rate: 20, burst: 60 }, events: { file: { rate: 1, burst: 5 } } },
    maxRoomsPerConnection: 32,
    authorizeJoin: (conn, room) => {
      if (typeof conn.data['nick'] !== 'string' || !ROOM_RE.test(room)) return false;
      // The join itself happens right after this verdict; announce it once it has.
      const id = conn.id;
      setImmediate(() => void announce(id, room, true));
      return true;
    },
  });

  const nickOf = (conn: { data: Record<string, unknown> }): string => String(conn.data['nick']);

  async function membersOf(room: string): Promise<string[]> {
    const conns = await server.in(room).fetchConnections();
    const nicks = new Set(conns.map((c) => String((c.data as { nick?: unknown }).nick)));
    return [...nicks].sort((a, b) => a.localeCompare(b));
  }

  async function announce(connId: string, room: string, joined: boolean, nick?: string): Promise<void> {
    let rooms = announced.get(connId);
    if (joined) {
      const conn = server.getConnection(connId);
      if (!conn || !conn.rooms.has(room) || rooms?.has(room)) return;
      if (!rooms) announced.set(connId, (rooms = new Set()));
      rooms.add(room);
      nick = nickOf(conn);
    } else if (!rooms?.delete(room)) return;
    try {
      server.to(room).emit('presence', { room, nick: nick!, joined, members: await membersOf(room) });
    } catch (err) {
      report(err);
    }
  }

  function joinedRoom(conn: Conn, room: unknown): string {
    if (typeof room !== 'string' || !conn.rooms.has(room)) throw new StelarError('NOT_IN_ROOM', `join "${String(room)}" first`);
    return room;
  }

  function remember(msg: ChatMessage): void {
    let list = history.get(msg.room);
    if (!list) {
      if (history.size >= MAX_HISTORY_ROOMS) history.delete(history.keys().next().value!);
      history.set(msg.room, (list = []));
    }
    list.push(msg);
    if (list.length > historySize) list.splice(0, list.length - historySize);
  }

  // Sessions: a nickname (and, for the bot, its token) in CONNECT's auth.
  server.use(async (conn, next) => {
    const auth = (typeof conn.auth === 'object' && conn.auth !== null ? conn.auth : {}) as { nick?: unknown; token?: unknown };
    const nick = typeof auth.nick === 'string' ? auth.nick.trim() : '';
    if (!NICK_RE.test(nick)) throw new AuthError('choose a nickname of 1 to 24 letters, digits, "_", "." or "-"');
    const isBot = auth.token === botToken;
    if (nick.toLowerCase() === BOT_NICK && !isBot) throw new AuthError(`"${nick}" is the bot's nickname`);
    conn.data['nick'] = nick;
    if (isBot) conn.data['bot'] = true;
    await next();
  });

  // The bot is a trusted service: no per-connection rate limit. (In onConnection, not in the
  // middleware: a connection's limiter exists only once its session is accepted.)
  server.onConnection((conn) => {
    if (conn.data['bot'] === true) conn.setRateLimit(null);
  });

  server.on('say', (m, conn) => {
    const room = joinedRoom(conn, m?.room);
    const text = typeof m?.text === 'string' ? m.text.trim() : '';
    if (!text || text.length > MAX_TEXT) throw new StelarError('BAD_MESSAGE', `a message is 1 to ${MAX_TEXT} characters`);
    const msg: ChatMessage = { id: newId(), room, nick: nickOf(conn), text, ts: Date.now(), ...(conn.data['bot'] === true && { bot: true }) };
    remember(msg);
    conn.to(room).emit('message', msg);
    return { id: msg.id, ts: msg.ts };
  });

  server.on('history', (room, conn) => [...(history.get(joinedRoom(conn, room)) ?? [])]);
  server.on('members', (room, conn) => membersOf(joinedRoom(conn, room)));
  server.on('left', (room, conn) => {
    if (typeof room === 'string' && !conn.rooms.has(room)) void announce(conn.id, room, false, nickOf(conn));
  });
  server.on('typing', (room, conn) => {
    if (typeof room === 'string' && conn.rooms.has(room)) conn.to(room).volatile.emit('typing', { room, nick: nickOf(conn) });
  });

  server.on('file', (envelope, conn) => {
    let cid: string | undefined;
    try {
      if (!(envelope instanceof Uint8Array)) throw new RangeError('a file is sent as binary');
      const { meta, bytes } = unpackFile(envelope);
      cid = str(meta['cid'], 64);
      const room = joinedRoom(conn, meta['room']);
      const name = str(meta['name'], 200);
      const type = str(meta['type'], 100) ?? '';
      if (!cid || !name) throw new RangeError('a file needs a name and an id');
      if (bytes.length > MAX_FILE_BYTES) throw new RangeError(`"${name}" is ${bytes.length} bytes; the limit is ${MAX_FILE_BYTES}`);
      const info: FileInfo = { room, name, type, cid, id: newId(), nick: nickOf(conn), ts: Date.now(), size: bytes.length };
      conn.to(room).emit('file', packFile(info, bytes));
      conn.emit('filed', { cid, id: info.id, ts: info.ts });
    } catch (err) {
      conn.emit('notice', { text: `file refused: ${(err as Error).message}`, ...(cid !== undefined && { cid }) });
    }
  });

  server.onDisconnect((conn) => {
    const rooms = announced.get(conn.id);
    if (!rooms) return;
    for (const room of [...rooms]) void announce(conn.id, room, false, nickOf(conn));
    announced.delete(conn.id);
  });

  const { tcpPort } = await server.listen();
  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(options.port ?? 3000, host, () => {
        httpServer.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await server.close({ timeout: 0 });
    throw err;
  }
  const port = (httpServer.address() as { port: number }).port;
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  return {
    server,
    http: httpServer,
    port,
    tcpPort: tcpPort!,
    url: `http://${shown}:${port}/`,
    tcpUrl: `tcp://${shown}:${tcpPort!}`,
    botToken,
    close() {
      closing ??= (async () => {
        await server.close({ timeout: 2000 });
        await new Promise<void>((resolve) => {
          httpServer.close(() => resolve());
          httpServer.closeIdleConnections();
        });
      })();
      return closing;
    },
  };
}

export { DEFAULT_ROOM };
