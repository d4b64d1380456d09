/**
 * Binary values inside JSON data, end to end through the hub and the client engine (issue 15
 * item 4; the wire form is docs/protocol.md §3 "Binary values in JSON data", tested byte for byte
 * in codec-tcp). Both directions, events, broadcasts, requests and replies.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { useHubs } from './fixtures';
import { until } from './memory-link';

type Img = { name: string; bytes: Uint8Array };
type ServerIn = {
  img: (m: Img) => void;
  thumb: (m: Img) => { small: Uint8Array; parts: Uint8Array[] };
  echo: (x: unknown) => unknown;
};
type ServerOut = {
  img: (m: Img) => void;
  pick: (m: { choices: Uint8Array[] }) => Uint8Array;
};

const setup = useHubs();
const bytes = (n: number, seed = 1): Uint8Array => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);

describe('binary values inside JSON data', () => {
  it('client → server event: { bytes: Uint8Array [1,2,3] } arrives as a Uint8Array, not {"0":1,…}', async () => {
    const { hub, client } = setup<ServerIn, ServerOut>();
    const got: Img[] = [];
    hub.on('img', (m) => void got.push(m));
    const c = client();
    await c.connect();
    c.emit('img', { name: 'a.png', bytes: new Uint8Array([1, 2, 3]) });
    await until(() => got.length === 1);
    expect(got[0]!.name).toBe('a.png');
    expect(got[0]!.bytes).toBeInstanceOf(Uint8Array);
    expect([...got[0]!.bytes]).toEqual([1, 2, 3]);
  });

  it('server → client: conn.emit, a room broadcast and hub.emit carry them (Buffer, ArrayBuffer, DataView sent; Uint8Array received)', async () => {
    const { hub, client, nextConnection } = setup<ServerIn, ServerOut>();
    const c = client();
    const got: Img[] = [];
    c.on('img', (m) => void got.push(m));
    const connP = nextConnection();
    await c.connect();
    const conn = await connP;
    conn.join('r');
    const big = bytes(100_000);
    conn.emit('img', { name: 'one', bytes: Buffer.from([4, 5]) });
    hub.to('r').emit('img', { name: 'room', bytes: big });
    // The map declares Uint8Array (what arrives); sending another binary kind there takes a cast.
    hub.emit('img', { name: 'all', bytes: new DataView(new Uint8Array([9, 8, 7]).buffer, 1) as unknown as Uint8Array });
    await until(() => got.length === 3);
    expect(got.map((m) => m.name)).toEqual(['one', 'room', 'all']);
    for (const m of got) {
      expect(m.bytes).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(m.bytes)).toBe(false);
    }
    expect([...got[0]!.bytes]).toEqual([4, 5]);
    expect(Buffer.compare(got[1]!.bytes, big)).toBe(0);
    expect([...got[2]!.bytes]).toEqual([8, 7]);
  });

  it('requests and replies, both directions: binary in the data and in the result', async () => {
    const { hub, client, nextConnection } = setup<ServerIn, ServerOut>();
    hub.on('thumb', (m) => ({ small: m.bytes.subarray(0, 2), parts: [m.bytes.subarray(2, 3), new Uint8Array(0)] }));
    const c = client();
    c.on('pick', (m) => m.choices[1]!);
    const connP = nextConnection();
    await c.connect();
    const conn = await connP;
    const r = await c.request('thumb', { name: 't', bytes: new Uint8Array([1, 2, 3, 4]) });
    expect([...r.small]).toEqual([1, 2]);
    expect(r.parts.map((p) => [...p])).toEqual([[3], []]);
    const chosen = await conn.request('pick', { choices: [new Uint8Array([1]), new Uint8Array([2, 2])] });
    expect(chosen).toBeInstanceOf(Uint8Array);
    expect([...chosen]).toEqual([2, 2]);
  });

  it('data with binary values may not hold an object that looks like a placeholder: emit throws, a reply becomes HANDLER_ERROR', async () => {
    const { hub, client, nextConnection } = setup<ServerIn, ServerOut>();
    const reasons: unknown[] = [];
    hub.onError((err) => void reasons.push(err));
    hub.on('echo', () => ({ b: new Uint8Array(1), tricky: { $bin: 0 } }));
    const c = client();
    const connP = nextConnection();
    await c.connect();
    const conn = await connP;
    expect(() => conn.emit('img', { name: 'x', bytes: new Uint8Array(1), ...{ meta: { $bin: 1 } } })).toThrow(TypeError);
    await expect(c.request('echo', 1)).rejects.toMatchObject({ code: 'HANDLER_ERROR' });
    // Without binary values, such an object is ordinary data and travels as it is.
    hub.off('echo');
    hub.on('echo', (x) => x);
    expect(await c.request('echo', { $bin: 0 })).toEqual({ $bin: 0 });
  });

  it('types: binary fields are declared as Uint8Array in the event map and typed so on both ends', () => {
    const { hub, client } = setup<ServerIn, ServerOut>();
    hub.on('img', (m) => expectTypeOf(m.bytes).toEqualTypeOf<Uint8Array>());
    const c = client();
    c.on('pick', (m) => {
      expectTypeOf(m.choices).toEqualTypeOf<Uint8Array[]>();
      return m.choices[0]!;
    });
    const ask = () => c.request('thumb', { name: '', bytes: new Uint8Array() });
    expectTypeOf(ask).returns.resolves.toEqualTypeOf<{ small: Uint8Array; parts: Uint8Array[] }>();
  });
});
