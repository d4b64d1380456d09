// The chat example: `npm start` at the repository root builds everything and runs this file.
// One process: the chat server (page + WebSocket on PORT, binary TCP on TCP_PORT) and the bot,
// a Node service that talks to the browsers over TCP.
import { startBot } from './bot';
import { startChat } from './server';

function envPort(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`${name} must be a port number (0-65535), got "${raw}"`);
    process.exit(1);
  }
  return n;
}

const port = envPort('PORT', 3000);
const tcpPort = envPort('TCP_PORT', 4000);
const host = process.env['HOST'] || '127.0.0.1';

let chat;
try {
  chat = await startChat({ port, tcpPort, host, handleSignals: true });
} catch (err) {
  const e = err as { code?: string; port?: number; message?: string };
  if (e.code === 'EADDRINUSE') console.error(`Port ${e.port ?? ''} is in use: set PORT and TCP_PORT, e.g. PORT=3001 TCP_PORT=4001 npm start`);
  else console.error(e.message ?? e);
  process.exit(1);
}

const bot = startBot({ url: chat.tcpUrl, token: chat.botToken });

console.log(`
  Stelar chat is running: open ${chat.url}
  (WebSocket on ${chat.url.replace(/^http/, 'ws')}ws, binary TCP on ${chat.tcpUrl}; the bot is in #lobby over TCP)
  Ctrl-C to stop.
`);

// The server closes itself on SIGINT/SIGTERM (handleSignals); stop the bot and the page server too.
// Under `npm start` one Ctrl-C arrives twice (the terminal signals the whole process group and npm
// forwards it to its child), so the handler stays installed and ignores repeats: a second signal
// must not kill the process halfway through its shutdown. Once stopped it calls process.exit(0)
// rather than letting the event loop run dry: during that natural exit Node restores the default
// signal action for a moment, and the forwarded copy of the Ctrl-C arriving then would kill it.
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  bot.close();
  chat.close().then(
    () => {
      console.log('chat: stopped');
      process.exit(0);
    },
    (err: unknown) => {
      console.error('chat: error while stopping:', err);
      process.exit(1);
    },
  );
  // The server gives in-flight requests 2 s; past 5 s something is stuck: say so, exit non-zero.
  setTimeout(() => {
    console.error('chat: did not stop within 5 s, exiting anyway');
    process.exit(1);
  }, 5000).unref();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
