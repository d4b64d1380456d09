/**
 * The peers are what the report says they are: plain `ws` refuses to run with bufferutil
 * available to it, `bufferutil` loads from ws's own directory (a test that needs it fails when
 * it is missing), the pre-framed broadcast puts valid frames on the wire, and the raw `net`
 * baseline echoes messages split anywhere (inside the length prefix too).
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { OP_ECHO, OP_PUB } from '../src/lib/common';
import { bufferutilAvailable, startServer, type RunningServer } from '../src/lib/servers';

const saved = process.env['WS_NO_BUFFER_UTIL'];
let server: RunningServer | undefined;

afterEach(async () => {
  if (saved === undefined) delete process.env['WS_NO_BUFFER_UTIL'];
  else process.env['WS_NO_BUFFER_UTIL'] = saved;
  await server?.close();
  server = undefined;
});

function open(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

describe('bench peers', () => {
  it('finds bufferutil where ws looks for it', () => {
    const b = bufferutilAvailable();
    expect(b.ok, b.ok ? '' : b.reason).toBe(true);
  });

  it('starts plain ws only with WS_NO_BUFFER_UTIL set, and ws-bu only without it', async () => {
    delete process.env['WS_NO_BUFFER_UTIL'];
    await expect(startServer({ kind: 'ws', room: false, deflate: false })).rejects.toThrow(/WS_NO_BUFFER_UTIL/);
    process.env['WS_NO_BUFFER_UTIL'] = '1';
    await expect(startServer({ kind: 'ws-bu', room: false, deflate: false })).rejects.toThrow(/WS_NO_BUFFER_UTIL/);
  });

  it('pre-framed broadcast: every other member gets the message intact, the publisher nothing', async () => {
    process.env['WS_NO_BUFFER_UTIL'] = '1';
    server = await startServer({ kind: 'ws-frame', room: true, deflate: false });
    const [pub, a, b] = await Promise.all([open(server.port), open(server.port), open(server.port)]);
    const got = new Map<WebSocket, Buffer[]>([
      [pub!, []],
      [a!, []],
      [b!, []],
    ]);
    for (const [ws, list] of got) ws.on('message', (d: Buffer) => list.push(Buffer.from(d)));
    const msg = Buffer.concat([Buffer.from([OP_PUB]), Buffer.alloc(300, 7)]);
    for (let i = 0; i < 3; i++) pub!.send(msg);
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (got.get(a!)!.length === 3 && got.get(b!)!.length === 3) {
          clearInterval(t);
          resolve();
        }
      }, 5);
    });
    for (const ws of [a!, b!]) for (const m of got.get(ws)!) expect(m.equals(msg)).toBe(true);
    expect(got.get(pub!)).toEqual([]);
    for (const ws of got.keys()) ws.terminate();
  });

  it('raw net echoes a 1 MiB message and small ones, whatever the read boundaries', async () => {
    server = await startServer({ kind: 'net', room: false, deflate: false });
    const frame = (size: number, fill: number): Buffer => {
      const b = Buffer.alloc(5 + size, fill);
      b.writeUInt32BE(1 + size, 0);
      b[4] = OP_ECHO;
      return b;
    };
    const sent = Buffer.concat([frame(1024 * 1024, 3), frame(10, 4), frame(0, 0), frame(70_000, 5)]);
    const sock = net.connect(server.port, '127.0.0.1');
    const got: Buffer[] = [];
    let gotLen = 0;
    const done = new Promise<void>((resolve) => {
      sock.on('data', (d: Buffer) => {
        got.push(d);
        gotLen += d.length;
        if (gotLen >= sent.length) resolve();
      });
    });
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
    sock.setNoDelay(true);
    // Odd-sized pieces, so a boundary falls inside a length prefix too.
    for (let off = 0; off < sent.length; off += 65_537) {
      sock.write(sent.subarray(off, Math.min(sent.length, off + 3)));
      sock.write(sent.subarray(Math.min(sent.length, off + 3), Math.min(sent.length, off + 65_537)));
    }
    await done;
    expect(Buffer.concat(got).equals(sent)).toBe(true);
    sock.destroy();
  });
});
