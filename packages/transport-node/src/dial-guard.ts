import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import { ErrorCode } from '@stelar/codec-tcp';
import type { LinkHandler } from '@stelar/core/internal';

/** Bytes of the server's first answer kept to judge it and to quote it. */
const HEAD_MAX = 64;
/** A frame is at least its 7 header bytes (docs/protocol.md §1). */
const MIN_FRAME = 7;
const HTTP = Buffer.from('HTTP/', 'latin1');

/**
 * Watches the first bytes a server sends on a `tcp://` or `tls://` link, before the link's own
 * decoder sees them. A Stelar server's first bytes are a frame header whose length is between 7
 * and the client's `maxFrameSize`; an HTTP server answers `HTTP/1.1 400 …`, whose first four
 * bytes read as a length of 1.2 GB. When they are not plausible, the handler hears one protocol
 * error with code `NOT_STELAR` and a message quoting what arrived, and nothing else from the
 * link but its close (the client engine stops without retrying).
 *
 * Call it before the link's constructor, so that its `data` listener runs first; it removes the
 * listener once it has judged the first bytes. Returns the handler to give the link.
 */
export function guardFirstBytes(socket: Socket, handler: LinkHandler, where: string, maxFrameSize: number): LinkHandler {
  let head = Buffer.alloc(0);
  let tripped = false;
  const onData = (chunk: Buffer): void => {
    if (head.length < HEAD_MAX) head = Buffer.concat([head, chunk.subarray(0, HEAD_MAX - head.length)]);
    const verdict = judge(head, maxFrameSize);
    if (verdict === 'wait') return;
    socket.off('data', onData);
    if (verdict === 'stelar') return;
    tripped = true;
    handler.onProtocolError({ code: ErrorCode.NOT_STELAR, message: `${where} is not a Stelar server: ${verdict}`, closeCode: 1002 });
  };
  socket.on('data', onData);
  socket.once('close', () => socket.off('data', onData));
  return {
    onFrame: (frame, size) => {
      if (!tripped) handler.onFrame(frame, size);
    },
    onProtocolError: (err) => {
      if (!tripped) handler.onProtocolError(err);
    },
    onPong: () => handler.onPong(),
    onDrain: () => handler.onDrain(),
    onClose: (code, reason, remote) => handler.onClose(code, reason, remote),
  };
}

/** `stelar`, `wait` for more bytes, or why the bytes are not a Stelar server's. */
function judge(head: Buffer, maxFrameSize: number): 'stelar' | 'wait' | string {
  const n = Math.min(head.length, HTTP.length);
  if (head.subarray(0, n).equals(HTTP.subarray(0, n))) {
    if (head.length < HTTP.length) return 'wait';
    return `it answered with HTTP (${quote(firstLine(head))}); use ws:// or wss:// for a WebSocket endpoint`;
  }
  if (head.length < 4) return 'wait';
  const totalLen = head.readUInt32BE(0);
  if (totalLen >= MIN_FRAME && totalLen <= maxFrameSize) return 'stelar';
  if (head[0] === 0x15 && head[1] === 0x03) return `it answered with a TLS alert (${hex(head)}); use tls:// for a TLS port`;
  return `its first bytes (${hex(head)}${printable(head) ? `, ${quote(head.toString('latin1', 0, 16))}` : ''}) are not a Stelar frame (length ${totalLen}, limit ${maxFrameSize})`;
}

function firstLine(head: Buffer): string {
  const text = head.toString('latin1');
  const end = text.search(/[\r\n]/);
  return end < 0 ? text : text.slice(0, end);
}

function hex(head: Buffer): string {
  return [...head.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Mostly printable ASCII: worth quoting as text. */
function printable(head: Buffer): boolean {
  const part = head.subarray(0, 16);
  let ok = 0;
  for (const b of part) if ((b >= 0x20 && b < 0x7f) || b === 0x0a || b === 0x0d) ok++;
  return ok >= part.length * 0.75;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}
