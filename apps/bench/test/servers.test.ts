/**
 * The peers are what the report says they are: plain `ws` refuses to run with bufferutil
 * available to it, `bufferutil` loads from ws's own directory (a test that needs it fails when
 * it is missing), and the pre-framed broadcast puts valid frames on the wire.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { OP_PUB } from '../src/lib/common';
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
});
