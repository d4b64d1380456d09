/**
 * The chat's events, shared by the server, the browser page and the bot. One map per direction
 * (see `@stelar/core`'s typed events).
 */

/** A text message as everyone sees it. */
export interface ChatMessage {
  id: string;
  room: string;
  nick: string;
  text: string;
  /** Server time (ms since the epoch). */
  ts: number;
  bot?: boolean;
}

/** What the sender of a file describes; travels in front of the bytes (see `envelope.ts`). */
export interface FileMeta {
  room: string;
  name: string;
  /** MIME type as the browser reports it (may be empty). */
  type: string;
  /** The sender's id for this upload, echoed in `filed`. */
  cid: string;
}

/** A file as relayed to the room. */
export interface FileInfo extends FileMeta {
  id: string;
  nick: string;
  ts: number;
  size: number;
}

export interface Presence {
  room: string;
  nick: string;
  joined: boolean;
  members: string[];
}

export type ClientToServer = {
  /** Post a message; the reply (the ACK) carries the server's id and time. */
  say: (m: { room: string; text: string }) => { id: string; ts: number };
  /** The last messages of a room (joined rooms only). */
  history: (room: string) => ChatMessage[];
  /** Nicknames in a room. */
  members: (room: string) => string[];
  /** Sent after `client.leave(room)` so the room hears about it. */
  left: (room: string) => void;
  /** Volatile: "I am typing in this room". */
  typing: (room: string) => void;
  /** BINARY: a file envelope (meta + bytes). */
  file: (envelope: Uint8Array) => void;
};

export type ServerToClient = {
  message: (m: ChatMessage) => void;
  presence: (p: Presence) => void;
  typing: (t: { room: string; nick: string }) => void;
  /** BINARY: a file envelope (FileInfo + bytes). */
  file: (envelope: Uint8Array) => void;
  /** The server took a file: `cid` is the sender's, `id` the room's. */
  filed: (r: { cid: string; id: string; ts: number }) => void;
  /** Something to tell one user (a refused file…). */
  notice: (n: { text: string; room?: string; cid?: string }) => void;
};

/** Defaults the page, the server and the bot agree on. */
export const DEFAULT_ROOM = 'lobby';
/** Largest file (bytes) a user may send; the server's frame limit is 1 MiB. */
export const MAX_FILE_BYTES = 512 * 1024;
export const MAX_TEXT = 2000;
export const NICK_RE = /^[\p{L}\p{N}_.-]{1,24}$/u;
export const ROOM_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** Raster image types shown inline (no SVG: it can carry script when opened directly). */
export const INLINE_IMAGE_TYPES: readonly string[] = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
