// The chat page: plain DOM, no framework. The client comes from the <script> bundle
// (`/stelar.min.js`, global `Stelar`); only its types are imported here.
import type * as StelarNamespace from '@stelar/client-browser';
import { packFile, unpackFile } from '../shared/envelope';
import {
  DEFAULT_ROOM,
  INLINE_IMAGE_TYPES,
  MAX_FILE_BYTES,
  NICK_RE,
  ROOM_RE,
  type ChatMessage,
  type ClientToServer,
  type FileInfo,
  type ServerToClient,
} from '../shared/protocol';

declare const Stelar: typeof StelarNamespace;
type Client = StelarNamespace.StelarClient<ServerToClient, ClientToServer>;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const el = <K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

const ui = {
  status: $('status'),
  me: $('me'),
  banner: $('banner'),
  login: $<HTMLFormElement>('login'),
  nick: $<HTMLInputElement>('nick'),
  loginError: $('login-error'),
  app: $('app'),
  rooms: $<HTMLUListElement>('rooms'),
  join: $<HTMLFormElement>('join'),
  room: $<HTMLInputElement>('room'),
  members: $<HTMLUListElement>('members'),
  log: $('log'),
  typing: $('typing'),
  compose: $<HTMLFormElement>('compose'),
  text: $<HTMLInputElement>('text'),
  file: $<HTMLInputElement>('file'),
  error: $('error'),
};

interface RoomView {
  list: HTMLOListElement;
  tab: HTMLLIElement;
  unread: HTMLSpanElement;
  members: string[];
  /** Message ids shown, so history fetched after a reconnection adds only what was missed. */
  seen: Set<string>;
  typing: Map<string, number>;
}

let client: Client | undefined;
let nick = '';
let current = '';
const rooms = new Map<string, RoomView>();
/** Files sent and not yet confirmed, by the sender's id. */
const pendingFiles = new Map<string, HTMLLIElement>();

const fmtTime = (ts: number): string => new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
const fmtSize = (n: number): string => (n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`);
const cid = (): string => Math.random().toString(36).slice(2, 12);

function showError(text: string): void {
  ui.error.textContent = text;
  if (text) setTimeout(() => ui.error.textContent === text && (ui.error.textContent = ''), 8000);
}

function banner(text: string | null, fatal = false): void {
  ui.banner.hidden = text === null;
  ui.banner.textContent = text ?? '';
  ui.banner.classList.toggle('fatal', fatal);
}

// ── rendering ────────────────────────────────────────────────────────────────

function scrollDown(view: RoomView): void {
  if (view.list.parentElement) ui.log.scrollTop = ui.log.scrollHeight;
}

function line(room: string, nickName: string, ts: number, cls: string): HTMLLIElement {
  const view = rooms.get(room)!;
  const li = el('li', `msg ${cls}`);
  li.append(el('time', '', fmtTime(ts)), el('span', 'nick', nickName));
  view.list.append(li);
  if (room !== current) {
    view.unread.textContent = String(Number(view.unread.textContent || 0) + 1);
    view.unread.hidden = false;
  }
  return li;
}

function addMessage(m: ChatMessage, state?: 'pending'): HTMLLIElement | undefined {
  const view = rooms.get(m.room);
  if (!view || view.seen.has(m.id)) return undefined;
  if (m.id) view.seen.add(m.id);
  view.typing.delete(m.nick);
  renderTyping();
  const li = line(m.room, m.nick, m.ts, `${m.bot ? 'bot' : ''} ${m.nick === nick ? 'mine' : ''} ${state ?? ''}`);
  li.append(el('span', 'text', m.text));
  if (state) li.append(el('span', 'state'));
  scrollDown(view);
  return li;
}

function system(room: string, text: string): void {
  const view = rooms.get(room);
  if (!view) return;
  view.list.append(el('li', 'msg system', text));
  scrollDown(view);
}

function renderFile(li: HTMLLIElement, info: Pick<FileInfo, 'name' | 'type' | 'size'>, bytes: Uint8Array): void {
  const inline = INLINE_IMAGE_TYPES.includes(info.type);
  // Anything but a raster image is an opaque download: a blob: URL has this page's origin, so an
  // HTML or SVG file opened from it could run script here.
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: inline ? info.type : 'application/octet-stream' }));
  if (inline) {
    const img = el('img');
    img.src = url;
    img.alt = info.name;
    img.title = `${info.name} (${fmtSize(info.size)})`;
    const box = el('div', 'attachment');
    box.append(img);
    li.append(box);
  } else {
    const a = el('a', 'text', `📎 ${info.name} (${fmtSize(info.size)})`);
    a.href = url;
    a.download = info.name;
    li.append(a);
  }
}

function renderMembers(): void {
  ui.members.replaceChildren(...(rooms.get(current)?.members ?? []).map((n) => el('li', '', n)));
}

function renderTyping(): void {
  const view = rooms.get(current);
  const now = Date.now();
  const who = view ? [...view.typing].filter(([, until]) => until > now).map(([n]) => n) : [];
  ui.typing.textContent = who.length === 0 ? '' : who.length === 1 ? `${who[0]} is typing…` : `${who.join(', ')} are typing…`;
}
setInterval(renderTyping, 1000);

function switchTo(room: string): void {
  const view = rooms.get(room);
  if (!view) return;
  current = room;
  for (const [name, v] of rooms) v.tab.classList.toggle('current', name === room);
  view.unread.hidden = true;
  view.unread.textContent = '';
  ui.log.replaceChildren(view.list);
  scrollDown(view);
  renderMembers();
  renderTyping();
  ui.text.focus();
}

// ── rooms ────────────────────────────────────────────────────────────────────

async function refresh(room: string): Promise<void> {
  const c = client!;
  const [past, members] = await Promise.all([c.request('history', room), c.request('members', room)]);
  const view = rooms.get(room);
  if (!view) return;
  for (const m of past) addMessage(m);
  view.members = members;
  if (room === current) renderMembers();
}

async function joinRoom(room: string): Promise<void> {
  if (!rooms.has(room)) {
    const tab = el('li');
    const open = el('button', 'room', `#${room}`);
    open.type = 'button';
    open.onclick = () => switchTo(room);
    const unread = el('span', 'unread');
    unread.hidden = true;
    open.append(unread);
    const leave = el('button', 'leave', '×');
    leave.type = 'button';
    leave.title = `leave #${room}`;
    leave.onclick = () => void leaveRoom(room);
    tab.append(open, leave);
    ui.rooms.append(tab);
    rooms.set(room, { list: el('ol'), tab, unread, members: [], seen: new Set(), typing: new Map() });
  }
  switchTo(room);
  try {
    await client!.join(room);
    await refresh(room);
  } catch (err) {
    showError(`cannot join #${room}: ${(err as Error).message}`);
    dropRoom(room);
  }
}

function dropRoom(room: string): void {
  const view = rooms.get(room);
  if (!view) return;
  view.tab.remove();
  rooms.delete(room);
  if (current === room) {
    const next = rooms.keys().next();
    if (next.done) {
      current = '';
      ui.log.replaceChildren(el('p', 'msg system', 'You are in no room: join one on the left.'));
      renderMembers();
    } else switchTo(next.value);
  }
}

async function leaveRoom(room: string): Promise<void> {
  dropRoom(room);
  try {
    await client!.leave(room);
    client!.emit('left', room);
  } catch (err) {
    showError(`leaving #${room}: ${(err as Error).message}`);
  }
}

// ── sending ──────────────────────────────────────────────────────────────────

function send(room: string, text: string, li?: HTMLLIElement): void {
  const c = client!;
  if (li) li.className = li.className.replace('failed', 'pending');
  else li = addMessage({ id: '', room, nick, text, ts: Date.now() }, 'pending')!;
  li.classList.add('say');
  // The reply is the server's ACK: it carries the message's id and time. Queued while offline.
  c.request('say', { room, text }, { timeout: 60_000 }).then(
    ({ id }) => {
      li.className = li.className.replace('pending', 'delivered');
      rooms.get(room)?.seen.add(id);
    },
    (err: StelarNamespace.StelarError) => {
      li.className = li.className.replace('pending', 'failed');
      const state = li.querySelector<HTMLElement>('.state')!;
      state.title = `${err.code}: ${err.message}`;
      state.onclick = () => send(room, text, li);
    },
  );
}

async function sendFile(file: File): Promise<void> {
  const room = current;
  if (!room) return;
  if (file.size > MAX_FILE_BYTES) {
    showError(`"${file.name}" is ${fmtSize(file.size)}: the limit is ${fmtSize(MAX_FILE_BYTES)}.`);
    return;
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  const id = cid();
  const name = file.name || 'pasted-image';
  const li = line(room, nick, Date.now(), 'mine pending');
  li.append(el('span', 'state'));
  renderFile(li, { name, type: file.type, size: bytes.length }, bytes);
  pendingFiles.set(id, li);
  scrollDown(rooms.get(room)!);
  // One BINARY frame: the description, then the bytes.
  client!.emit('file', packFile({ room, name, type: file.type, cid: id }, bytes));
}

let lastTyping = 0;
ui.text.addEventListener('input', () => {
  const now = Date.now();
  if (!current || !client?.connected || now - lastTyping < 2000 || !ui.text.value) return;
  lastTyping = now;
  client.emit('typing', current, { volatile: true });
});

ui.compose.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = ui.text.value.trim();
  if (!text || !current) return;
  ui.text.value = '';
  lastTyping = 0;
  send(current, text);
});

ui.file.addEventListener('change', () => {
  const f = ui.file.files?.[0];
  ui.file.value = '';
  if (f) void sendFile(f);
});

ui.text.addEventListener('paste', (e) => {
  const f = e.clipboardData?.files[0];
  if (!f) return;
  e.preventDefault();
  void sendFile(f);
});

ui.log.addEventListener('dragover', (e) => e.preventDefault());
ui.log.addEventListener('drop', (e) => {
  e.preventDefault();
  const f = e.dataTransfer?.files[0];
  if (f) void sendFile(f);
});

ui.join.addEventListener('submit', (e) => {
  e.preventDefault();
  const room = ui.room.value.trim().toLowerCase().replace(/^#/, '');
  if (!ROOM_RE.test(room)) {
    showError('a room name is 1 to 32 lower-case letters, digits, "_" or "-"');
    return;
  }
  ui.room.value = '';
  void joinRoom(room);
});

// ── the connection ───────────────────────────────────────────────────────────

function start(name: string): void {
  nick = name;
  let everConnected = false;
  const c: Client = Stelar.createClient<ServerToClient, ClientToServer>('/ws', {
    auth: () => ({ nick }),
    reconnect: { baseDelay: 300, maxDelay: 5000 },
  });
  client = c;

  c.onLifecycle('state', (s) => {
    ui.status.textContent = s;
    ui.status.className = `status ${s}`;
  });
  c.onLifecycle('reconnecting', ({ attempt, delay }) => banner(`Connection lost: reconnecting (attempt ${attempt}, in ${(delay / 1000).toFixed(1)} s)… messages you send now are queued.`));
  c.onLifecycle('connected', () => {
    banner(null);
    if (everConnected) for (const room of rooms.keys()) void refresh(room).catch(() => undefined);
    everConnected = true;
  });
  c.onLifecycle('disconnected', ({ code, reason, willReconnect }) => {
    if (!willReconnect) banner(`Disconnected (${code}${reason ? `: ${reason}` : ''}). Reload the page to come back.`, true);
  });
  c.onLifecycle('error', (err, event) => showError(`${event ? `${event}: ` : ''}${err.code}: ${err.message}`));

  c.on('message', (m) => void addMessage(m));
  c.on('presence', (p) => {
    const view = rooms.get(p.room);
    if (!view) return;
    view.members = p.members;
    if (p.room === current) renderMembers();
    if (p.nick !== nick) system(p.room, `${p.nick} ${p.joined ? 'joined' : 'left'} #${p.room}`);
  });
  c.on('typing', ({ room, nick: who }) => {
    rooms.get(room)?.typing.set(who, Date.now() + 3000);
    if (room === current) renderTyping();
  });
  c.on('file', (envelope) => {
    let info: FileInfo;
    let bytes: Uint8Array;
    try {
      const f = unpackFile(envelope);
      info = f.meta as unknown as FileInfo;
      bytes = f.bytes;
    } catch {
      return;
    }
    const view = rooms.get(info.room);
    if (!view || typeof info.name !== 'string' || view.seen.has(info.id)) return;
    view.seen.add(info.id);
    const li = line(info.room, info.nick, info.ts, 'file');
    renderFile(li, info, bytes);
    scrollDown(view);
  });
  c.on('filed', ({ cid: id }) => {
    const li = pendingFiles.get(id);
    pendingFiles.delete(id);
    if (li) li.className = li.className.replace('pending', 'delivered');
  });
  c.on('notice', ({ text, cid: id }) => {
    showError(text);
    const li = id === undefined ? undefined : pendingFiles.get(id);
    if (li && id !== undefined) {
      pendingFiles.delete(id);
      li.className = li.className.replace('pending', 'failed');
      li.querySelector<HTMLElement>('.state')!.title = text;
    }
  });

  ui.me.textContent = `you are ${nick}`;
  ui.login.hidden = true;
  ui.app.hidden = false;
  c.connect().then(
    () => void joinRoom(DEFAULT_ROOM),
    (err: StelarNamespace.StelarError) => {
      // Refused (nickname taken by the bot, invalid…): back to the form.
      client = undefined;
      ui.login.hidden = false;
      ui.app.hidden = true;
      ui.loginError.textContent = err.message;
    },
  );
}

ui.nick.value = localStorage.getItem('stelar-chat-nick') ?? '';
ui.login.addEventListener('submit', (e) => {
  e.preventDefault();
  const name = ui.nick.value.trim();
  if (!NICK_RE.test(name)) {
    ui.loginError.textContent = 'a nickname is 1 to 24 letters, digits, "_", "." or "-"';
    return;
  }
  ui.loginError.textContent = '';
  localStorage.setItem('stelar-chat-nick', name);
  start(name);
});
