import { connect, type StelarClient } from '@stelar/client-node';
import { unpackFile } from './shared/envelope';
import { DEFAULT_ROOM, type ChatMessage, type ClientToServer, type ServerToClient } from './shared/protocol';

export interface BotOptions {
  /** Where the chat's TCP listener is, e.g. `tcp://127.0.0.1:4000`. */
  url: string;
  /** The server's bot token (lets it use the nickname `bot`). */
  token?: string;
  nick?: string;
  room?: string;
  /** Where the bot logs; default console.log. */
  log?: (line: string) => void;
}

export type Bot = StelarClient<ServerToClient, ClientToServer>;

const HELP = 'commands: /help, /time, /roll [NdM] (e.g. /roll 2d6), /who, /ping, /echo <text>, /stats';

/**
 * A Node service in the chat: it connects over the binary TCP protocol with `@stelar/client-node`,
 * joins the default room and answers commands. Reconnection and re-joining are the client's.
 */
export function startBot(options: BotOptions): Bot {
  const nick = options.nick ?? 'bot';
  const room = options.room ?? DEFAULT_ROOM;
  const log = options.log ?? ((line: string) => console.log(line));
  const bot: Bot = connect<ServerToClient, ClientToServer>(options.url, {
    auth: { nick, ...(options.token !== undefined && { token: options.token }) },
    reconnect: { baseDelay: 250, maxDelay: 5000 },
    onTransportError: (err) => log(`bot: transport error: ${String(err)}`),
  });
  const stats = { messages: 0, files: 0, bytes: 0 };
  const greeted = new Set<string>();

  const say = (r: string, text: string): void => {
    bot.request('say', { room: r, text }).catch((err: unknown) => log(`bot: could not answer: ${String(err)}`));
  };

  async function answer(m: ChatMessage): Promise<string | undefined> {
    const [cmd = '', ...rest] = m.text.slice(1).split(/\s+/);
    const arg = rest.join(' ');
    switch (cmd.toLowerCase()) {
      case 'help':
        return HELP;
      case 'time':
        return `it is ${new Date().toISOString().replace('T', ' ').slice(0, 19)} UTC here`;
      case 'roll': {
        const d = /^(?:(\d{1,2})d(\d{1,4}))?$/i.exec(arg.trim());
        const n = Number(d?.[1] ?? 1);
        const sides = Number(d?.[2] ?? 6);
        if (!d || n < 1 || n > 20 || sides < 2) return 'usage: /roll NdM with 1 ≤ N ≤ 20 and M ≥ 2, e.g. /roll 2d6';
        const dice = Array.from({ length: n }, () => 1 + Math.floor(Math.random() * sides));
        const total = dice.reduce((a, b) => a + b, 0);
        return `${m.nick} rolled ${n}d${sides}: ${dice.join(' + ')}${n > 1 ? ` = ${total}` : ''}`;
      }
      case 'who':
        return `in #${m.room}: ${(await bot.request('members', m.room)).join(', ')}`;
      case 'ping': {
        const t0 = performance.now();
        await bot.request('members', m.room);
        return `pong: ${(performance.now() - t0).toFixed(1)} ms for a request and its reply over TCP`;
      }
      case 'echo':
        return `echo: ${arg}`;
      case 'stats':
        return `seen since I started: ${stats.messages} messages, ${stats.files} files (${stats.bytes} bytes over TCP)`;
      default:
        return `unknown command /${cmd}; ${HELP}`;
    }
  }

  bot.on('message', (m) => {
    stats.messages++;
    if (m.bot || !m.text.startsWith('/')) return;
    answer(m).then(
      (text) => text && say(m.room, text),
      (err: unknown) => say(m.room, `/${m.text.slice(1).split(/\s+/)[0]} failed: ${(err as Error).message}`),
    );
  });
  bot.on('file', (envelope) => {
    stats.files++;
    try {
      stats.bytes += unpackFile(envelope).bytes.length;
    } catch {
      /* not ours to judge */
    }
  });
  bot.on('presence', (p) => {
    if (!p.joined || p.nick === nick || greeted.has(p.nick)) return;
    greeted.add(p.nick);
    say(p.room, `welcome ${p.nick}! I am a Node service on TCP; type /help`);
  });
  bot.onLifecycle('connected', () => log(`bot: connected over TCP as "${nick}", in #${room}`));
  bot.onLifecycle('reconnecting', ({ attempt }) => log(`bot: reconnecting (attempt ${attempt})`));
  bot.onLifecycle('error', (err) => log(`bot: ${err.code}: ${err.message}`));
  bot.join(room).catch((err: unknown) => log(`bot: cannot join #${room}: ${String(err)}`));
  return bot;
}

// `node dist/bot.js [tcp://host:port]`: run the bot alone against a chat server (token from BOT_TOKEN).
// (Checked by file name: the bundler may move this code into a chunk shared with main.js.)
if (/[\\/]bot\.[cm]?[jt]s$/.test(process.argv[1] ?? '')) {
  const url = process.argv[2] ?? process.env['CHAT_TCP_URL'] ?? 'tcp://127.0.0.1:4000';
  const token = process.env['BOT_TOKEN'];
  const bot = startBot({ url, nick: token ? 'bot' : 'helper', ...(token !== undefined && { token }) });
  const stop = (): void => bot.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
