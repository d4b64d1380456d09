import { Receiver, WsError } from '../src/index';
import type { ReceiverOptions } from '../src/index';

export type Event =
  | { type: 'message'; data: string; binary: boolean }
  | { type: 'ping'; data: string }
  | { type: 'pong'; data: string }
  | { type: 'close'; code: number | undefined; reason: string }
  | { type: 'error'; code: string; closeCode: number }
  | { type: 'drain' };

/** A Receiver whose events are recorded (payloads as hex, text messages as hex too). */
export function recorder(options: ReceiverOptions, record = { drain: true }): { receiver: Receiver; events: Event[] } {
  const events: Event[] = [];
  const receiver = new Receiver(options, {
    onMessage: (data, binary) => events.push({ type: 'message', data: data.toString('hex'), binary }),
    onPing: (data) => events.push({ type: 'ping', data: data.toString('hex') }),
    onPong: (data) => events.push({ type: 'pong', data: data.toString('hex') }),
    onClose: (code, reason) => events.push({ type: 'close', code, reason }),
    onError: (err) => {
      if (!(err instanceof WsError)) throw new Error('untyped error');
      events.push({ type: 'error', code: err.code, closeCode: err.closeCode });
    },
    onDrain: () => {
      if (record.drain) events.push({ type: 'drain' });
    },
  });
  return { receiver, events };
}

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
export const bytes = (...b: number[]): Buffer => Buffer.from(b);
export const text = (s: string): string => Buffer.from(s, 'utf8').toString('hex');

/** Feeds `data` (copied, since the receiver unmasks in place) in one go. */
export function feed(receiver: Receiver, data: Buffer): void {
  receiver.push(Buffer.from(data));
}

/** Feeds `data` one byte at a time. */
export function feedBytewise(receiver: Receiver, data: Buffer): void {
  for (let i = 0; i < data.length; i++) receiver.push(Buffer.from([data[i]!]));
}

/** A masked client frame with a fixed key. */
export function clientFrame(b0: number, payload: Buffer, key = bytes(1, 2, 3, 4)): Buffer {
  const len = payload.length;
  const lenBytes =
    len < 126 ? bytes(0x80 | len) : len < 65536 ? bytes(0x80 | 126, len >> 8, len & 255) : Buffer.concat([bytes(0x80 | 127), u64(len)]);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= key[i & 3]!;
  return Buffer.concat([bytes(b0), lenBytes, key, masked]);
}

/** An unmasked server frame. */
export function serverFrame(b0: number, payload: Buffer): Buffer {
  const len = payload.length;
  const lenBytes = len < 126 ? bytes(len) : len < 65536 ? bytes(126, len >> 8, len & 255) : Buffer.concat([bytes(127), u64(len)]);
  return Buffer.concat([bytes(b0), lenBytes, payload]);
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(Math.floor(n / 2 ** 32), 0);
  b.writeUInt32BE(n >>> 0, 4);
  return b;
}
