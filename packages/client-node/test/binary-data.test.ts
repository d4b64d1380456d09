/**
 * Binary values inside JSON data over real sockets, on every scheme (issue 15 item 4;
 * docs/protocol.md §3 "Binary values in JSON data"): events and requests both ways, a large
 * value (600 KiB, under the server's 1 MiB frame limit) spanning many TCP chunks, received as Uint8Array (not Buffer).
 */
import { describe, expect, it } from 'vitest';
import type { StelarServer } from '@stelar/server';
import type { StelarClient } from '../src/index';
import { client, SCHEMES, startServer, until, useFixtures } from './helpers';

useFixtures();

type Up = { img: (m: { name: string; bytes: Uint8Array }) => void; thumb: (m: { bytes: Uint8Array }) => { head: Uint8Array; size: number } };
type Down = { img: (m: { name: string; bytes: Uint8Array }) => void; pick: (m: { choices: Uint8Array[] }) => Uint8Array };

describe.each(SCHEMES)('binary values inside JSON data over %s://', (scheme) => {
  it('arrive as bytes both ways, in events, requests and replies', async () => {
    const got: { name: string; bytes: Uint8Array }[] = [];
    const started = await startServer({ secure: scheme === 'wss' || scheme === 'tls' }, (s) => {
      const server = s as unknown as StelarServer<Up, Down>;
      server.on('img', (m, conn) => {
        got.push(m);
        conn.emit('img', { name: `back:${m.name}`, bytes: m.bytes });
      });
      server.on('thumb', (m) => ({ head: m.bytes.subarray(0, 3), size: m.bytes.length }));
    });
    const c = client(started.url(scheme)) as unknown as StelarClient<Down, Up>;
    const back: { name: string; bytes: Uint8Array }[] = [];
    c.on('img', (m) => void back.push(m));
    c.on('pick', (m) => m.choices[1]!);
    await c.connect();

    const big = new Uint8Array(600 * 1024).map((_, i) => (i * 131 + 7) & 0xff);
    c.emit('img', { name: 'small', bytes: new Uint8Array([1, 2, 3]) });
    c.emit('img', { name: 'big', bytes: big });
    await until(() => back.length === 2, 'echoes');
    expect(got.map((m) => m.name)).toEqual(['small', 'big']);
    for (const m of [...got, ...back]) {
      expect(m.bytes).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(m.bytes)).toBe(false);
    }
    expect([...got[0]!.bytes]).toEqual([1, 2, 3]);
    expect(Buffer.compare(got[1]!.bytes, big)).toBe(0);
    expect(back.map((m) => m.name)).toEqual(['back:small', 'back:big']);
    expect(Buffer.compare(back[1]!.bytes, big)).toBe(0);

    const r = await c.request('thumb', { bytes: big });
    expect([...r.head]).toEqual([...big.subarray(0, 3)]);
    expect(r.size).toBe(big.length);
    const conn = (started.server as unknown as StelarServer<Up, Down>).getConnection(c.id!)!;
    const chosen = await conn.request('pick', { choices: [new Uint8Array([1]), new Uint8Array([9, 9])] });
    expect(chosen).toBeInstanceOf(Uint8Array);
    expect([...chosen]).toEqual([9, 9]);
  });
});
