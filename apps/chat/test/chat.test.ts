import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '@stelar/test-utils';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBot, type Bot } from '../src/bot';
import { startChat, type Chat } from '../src/server';

const app = fileURLToPath(new URL('..', import.meta.url));
const bundleScript = join(app, '../../packages/client-browser/scripts/bundle.mjs');
/** A 1×1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

let dir: string;
let chat: Chat | undefined;
let bot: Bot | undefined;
let browser: Browser | undefined;
const errors: unknown[] = [];

async function startAll(port = 0, tcpPort = 0, botToken?: string): Promise<Chat> {
  chat = await startChat({
    port,
    tcpPort,
    host: '127.0.0.1',
    webDir: join(dir, 'web'),
    clientBundle: join(dir, 'stelar.min.js'),
    ...(botToken !== undefined && { botToken }),
    onError: (err) => void errors.push(err),
  });
  return chat;
}

/** A user: a fresh browser profile on the chat page, logged in with `nick`. */
async function user(nick: string): Promise<Page> {
  const context = await browser!.newContext();
  const page = await context.newPage();
  page.on('pageerror', (err) => errors.push(err));
  await page.goto(chat!.url);
  await page.fill('#nick', nick);
  await page.press('#nick', 'Enter');
  await page.locator('#status.connected').waitFor({ timeout: 5000 });
  await page.locator('#rooms li.current', { hasText: '#lobby' }).waitFor({ timeout: 5000 });
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

const msg = (page: Page, text: string | RegExp, cls = '') => page.locator(`#log li.msg${cls}`, { hasText: text });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stelar-chat-'));
  // The page needs built files: the client's <script> bundle and the page script.
  execFileSync(process.execPath, [bundleScript, '--outfile', join(dir, 'stelar.min.js')], { stdio: 'inherit' });
  execFileSync(process.execPath, [join(app, 'scripts/build-web.mjs'), '--outdir', join(dir, 'web')], { stdio: 'inherit' });
  await startAll();
  bot = startBot({ url: chat!.tcpUrl, token: chat!.botToken, log: () => undefined });
  await bot.connect();
  browser = await launchChromium();
});

afterAll(async () => {
  bot?.close();
  await browser?.close();
  await chat?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the chat example, end to end', () => {
  it('two browser users and the TCP bot share #lobby: messages with ACKs, typing, presence, bot commands, images', async () => {
    const alice = await user('alice');
    await msg(alice, 'welcome alice!', '.bot').waitFor({ timeout: 5000 });
    const bob = await user('bob');
    await msg(alice, 'bob joined #lobby', '.system').waitFor();
    await expect.poll(() => alice.locator('#members li').allTextContents()).toEqual(['alice', 'bob', 'bot']);

    // A message is marked delivered when the server's ACK (the request's reply) arrives.
    await say(alice, 'hello bob');
    await msg(alice, 'hello bob', '.mine.delivered').waitFor();
    await msg(bob, 'hello bob').waitFor();
    expect(await msg(bob, 'hello bob').locator('.nick').textContent()).toBe('alice');

    // Typing indicator: volatile events.
    await bob.fill('#text', 'I am typ');
    await alice.locator('#typing', { hasText: 'bob is typing…' }).waitFor();

    // The bot, a Node service on TCP, answers commands for both browsers.
    await say(bob, '/roll 2d6');
    for (const p of [alice, bob]) await msg(p, /bob rolled 2d6: \d \+ \d = \d+/, '.bot').waitFor();
    await say(alice, '/who');
    for (const p of [alice, bob]) await msg(p, 'in #lobby: alice, bob, bot', '.bot').waitFor();

    // An image goes as one BINARY frame and shows inline on the other side.
    await alice.setInputFiles('#file', { name: 'dot.png', mimeType: 'image/png', buffer: PNG });
    await alice.locator('#log li.mine.delivered img[alt="dot.png"]').waitFor();
    const img = bob.locator('#log li.file img[alt="dot.png"]');
    await img.waitFor();
    expect(await img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth)).toBe(1);
    // …and reached the bot over TCP too.
    await say(bob, '/stats');
    await msg(bob, /seen since I started: \d+ messages, 1 files \(70 bytes over TCP\)/, '.bot').waitFor();

    // Too big: refused in the page with a clear message, nothing sent.
    await alice.setInputFiles('#file', { name: 'huge.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(600 * 1024) });
    await alice.locator('#error', { hasText: '"huge.bin" is 600 KB: the limit is 512 KB.' }).waitFor();

    // Rooms: join another one, the other user follows; presence and members per room.
    await alice.fill('#room', 'dev');
    await alice.press('#room', 'Enter');
    await alice.locator('#rooms li.current', { hasText: '#dev' }).waitFor();
    await expect.poll(() => alice.locator('#members li').allTextContents()).toEqual(['alice']);
    await bob.fill('#room', 'dev');
    await bob.press('#room', 'Enter');
    await msg(alice, 'bob joined #dev', '.system').waitFor();
    await say(bob, 'only in dev');
    await msg(alice, 'only in dev').waitFor();
    // Alice leaves #dev: bob sees it, and her view goes back to #lobby.
    await alice.locator('#rooms li', { hasText: '#dev' }).locator('button.leave').click();
    await msg(bob, 'alice left #dev', '.system').waitFor();
    // Bob, in #dev, has unread messages in #lobby (the bot's answer to nobody…): the tab counts them.
    await say(alice, 'back in the lobby');
    await bob.locator('#rooms li', { hasText: '#lobby' }).locator('.unread', { hasText: /^\d+$/ }).waitFor();
    await alice.locator('#rooms li.current', { hasText: '#lobby' }).waitFor();
    expect(await alice.locator('#rooms li').count()).toBe(1);

    // Server restart: the banner shows while reconnecting, a message sent meanwhile is queued
    // and delivered once the new server is up (same ports), rooms are re-joined by the client.
    const { port, tcpPort, botToken } = chat!;
    await chat!.close();
    await alice.locator('#banner', { hasText: 'reconnecting' }).waitFor({ timeout: 5000 });
    await say(alice, 'sent while offline');
    await msg(alice, 'sent while offline', '.pending').waitFor();
    await startAll(port, tcpPort, botToken);
    await alice.locator('#banner').waitFor({ state: 'hidden', timeout: 8000 });
    await msg(alice, 'sent while offline', '.delivered').waitFor({ timeout: 8000 });
    await bob.locator('#rooms li', { hasText: '#lobby' }).locator('button.room').click();
    await msg(bob, 'sent while offline').waitFor({ timeout: 8000 });
    // The bot came back over TCP on its own (after its own backoff), in #lobby.
    await expect
      .poll(async () => (await chat!.server.in('lobby').fetchConnections()).some((c) => c.transport === 'tcp'), { timeout: 10_000 })
      .toBe(true);
    await say(bob, '/echo still here');
    await msg(alice, 'echo: still here', '.bot').waitFor({ timeout: 8000 });

    expect(errors).toEqual([]);
  });

  it('refuses the reserved nickname with a message on the form', async () => {
    const context = await browser!.newContext();
    const page = await context.newPage();
    await page.goto(chat!.url);
    await page.fill('#nick', 'bot');
    await page.press('#nick', 'Enter');
    await page.locator('#login-error', { hasText: `"bot" is the bot's nickname` }).waitFor();
    expect(await page.locator('#app').isHidden()).toBe(true);
    await context.close();
  });
});
