import { describe, it, expect } from 'vitest';
import { deflateRawSync } from 'node:zlib';
import { until } from '@stelar/test-utils';
import {
  acceptDeflateResponse,
  createDeflateOffer,
  formatExtension,
  negotiateDeflateServer,
  parseExtensions,
  PerMessageDeflate,
  Sender,
  WsError,
  WsHandshakeError,
} from '../src/index';
import type { DeflateParams, ExtensionOffer, PerMessageDeflateServerOptions, Role } from '../src/index';
import { clientFrame, feed, hex, recorder, text } from './helpers';

const DEFAULTS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

const pmd = (role: Role, params: Partial<DeflateParams> = {}, threshold = 0): PerMessageDeflate =>
  new PerMessageDeflate({ role, params: { ...DEFAULTS, ...params }, threshold });

const offers = (header: string): ExtensionOffer[] => {
  const r = parseExtensions(header);
  if (!r.ok) throw new Error(r.reason);
  return r.offers;
};
const negotiate = (header: string, options: PerMessageDeflateServerOptions = {}): string | undefined => {
  const n = negotiateDeflateServer(offers(header), options);
  return n && formatExtension(n.response);
};

describe('RFC 7692 §7.2.3 examples, received by a client', () => {
  const receive = async (frames: string[], params: Partial<DeflateParams> = {}): Promise<unknown[]> => {
    const deflate = pmd('client', params);
    const { receiver, events } = recorder({ role: 'client', deflate }, { drain: false });
    for (const f of frames) feed(receiver, hex(f));
    await until(() => !receiver.isBusy);
    deflate.close();
    return events;
  };
  const hello = { type: 'message', data: text('Hello'), binary: false };

  it('§7.2.3.1 "Hello" in one compressed frame', async () => {
    expect(await receive(['c1 07 f2 48 cd c9 c9 07 00'])).toEqual([hello]);
  });
  it('§7.2.3.1 "Hello" compressed and fragmented', async () => {
    expect(await receive(['41 03 f2 48 cd', '80 04 c9 c9 07 00'])).toEqual([hello]);
  });
  it('§7.2.3.2 second "Hello" using the shared LZ77 window (context takeover)', async () => {
    expect(await receive(['c1 07 f2 48 cd c9 c9 07 00', 'c1 05 f2 00 11 00 00'])).toEqual([hello, hello]);
  });
  it('§7.2.3.3 DEFLATE block with no compression', async () => {
    expect(await receive(['c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00'])).toEqual([hello]);
  });
  it('§7.2.3.4 DEFLATE block with BFINAL set (the next message starts a new stream)', async () => {
    expect(await receive(['c1 08 f3 48 cd c9 c9 07 00 00', 'c1 07 f2 48 cd c9 c9 07 00'])).toEqual([hello, hello]);
  });
  it('§7.2.3.5 two DEFLATE blocks in one message', async () => {
    expect(await receive(['c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00'])).toEqual([hello]);
  });
  it('§7.2.3.6 an empty message (single 0x00 byte)', async () => {
    expect(await receive(['c1 01 00'])).toEqual([{ type: 'message', data: '', binary: false }]);
  });
  it('an uncompressed message between compressed ones (RSV1 clear)', async () => {
    expect(await receive(['c1 07 f2 48 cd c9 c9 07 00', '81 05 48 65 6c 6c 6f', 'c1 05 f2 00 11 00 00'])).toEqual([
      hello,
      hello,
      hello,
    ]);
  });
});

describe('RFC 7692 examples, produced by a server', () => {
  const sendAll = async (messages: string[], params: Partial<DeflateParams> = {}): Promise<string[]> => {
    const deflate = pmd('server', params);
    const out: string[] = [];
    const sender = new Sender({ role: 'server', deflate, write: (h, p) => out.push(Buffer.concat([h, p]).toString('hex')) });
    for (const m of messages) sender.send(m);
    await until(() => out.length === messages.length);
    deflate.close();
    return out;
  };
  it('"Hello" → c1 07 f2 48 cd c9 c9 07 00, then f2 00 11 00 00 with context takeover', async () => {
    expect(await sendAll(['Hello', 'Hello'])).toEqual(['c107f248cdc9c90700', 'c105f200110000']);
  });
  it('without server context takeover each message stands alone', async () => {
    expect(await sendAll(['Hello', 'Hello'], { serverNoContextTakeover: true })).toEqual([
      'c107f248cdc9c90700',
      'c107f248cdc9c90700',
    ]);
  });
  it('empty message → c1 01 00', async () => {
    expect(await sendAll([''])).toEqual(['c10100']);
  });
});

describe('negotiation, server side (§7.1)', () => {
  it('accepts the plain offer and the browser default', () => {
    expect(negotiate('permessage-deflate')).toBe('permessage-deflate');
    expect(negotiate('permessage-deflate; client_max_window_bits')).toBe('permessage-deflate');
    const n = negotiateDeflateServer(offers('permessage-deflate; client_max_window_bits'))!;
    expect(n.params).toEqual(DEFAULTS);
  });
  it('context takeover parameters', () => {
    expect(negotiate('permessage-deflate; server_no_context_takeover')).toBe('permessage-deflate; server_no_context_takeover');
    expect(negotiate('permessage-deflate; client_no_context_takeover')).toBe('permessage-deflate; client_no_context_takeover');
    expect(negotiate('permessage-deflate', { serverNoContextTakeover: true, clientNoContextTakeover: true })).toBe(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    );
  });
  it('server_max_window_bits: answered with the same or a smaller value; may be sent unoffered', () => {
    expect(negotiate('permessage-deflate; server_max_window_bits=10')).toBe('permessage-deflate; server_max_window_bits=10');
    expect(negotiate('permessage-deflate; server_max_window_bits=10', { serverMaxWindowBits: 9 })).toBe(
      'permessage-deflate; server_max_window_bits=9',
    );
    expect(negotiate('permessage-deflate; server_max_window_bits=10', { serverMaxWindowBits: 12 })).toBe(
      'permessage-deflate; server_max_window_bits=10',
    );
    expect(negotiate('permessage-deflate', { serverMaxWindowBits: 12 })).toBe('permessage-deflate; server_max_window_bits=12');
    expect(negotiate('permessage-deflate; server_max_window_bits="11"')).toBe('permessage-deflate; server_max_window_bits=11');
  });
  it('client_max_window_bits: only answered when offered', () => {
    expect(negotiate('permessage-deflate; client_max_window_bits=10')).toBe('permessage-deflate; client_max_window_bits=10');
    expect(negotiate('permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 9 })).toBe(
      'permessage-deflate; client_max_window_bits=9',
    );
    expect(negotiate('permessage-deflate; client_max_window_bits=8', { clientMaxWindowBits: 9 })).toBe(
      'permessage-deflate; client_max_window_bits=8',
    );
    // Not offered: the server may not send it, so with a cap configured the offer is declined…
    expect(negotiate('permessage-deflate', { clientMaxWindowBits: 9 })).toBeUndefined();
    // …and the next offer is tried.
    expect(negotiate('permessage-deflate, permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 9 })).toBe(
      'permessage-deflate; client_max_window_bits=9',
    );
  });
  it('declines invalid offers and tries the next one', () => {
    const bad = [
      'permessage-deflate; server_max_window_bits=7',
      'permessage-deflate; server_max_window_bits=16',
      'permessage-deflate; server_max_window_bits=08',
      'permessage-deflate; server_max_window_bits=010',
      'permessage-deflate; server_max_window_bits=+9',
      'permessage-deflate; server_max_window_bits',
      'permessage-deflate; client_max_window_bits=0',
      'permessage-deflate; client_max_window_bits=abc',
      'permessage-deflate; server_no_context_takeover=1',
      'permessage-deflate; client_no_context_takeover=true',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      'permessage-deflate; client_max_window_bits; client_max_window_bits=10',
      'permessage-deflate; server_max_window_bits=10; server_max_window_bits=10',
      'permessage-deflate; unknown_param',
      'permessage-deflate; unknown=1',
    ];
    for (const b of bad) {
      expect(negotiate(b), b).toBeUndefined();
      expect(negotiate(`${b}, permessage-deflate; server_max_window_bits=12`), b).toBe(
        'permessage-deflate; server_max_window_bits=12',
      );
    }
    expect(negotiate('x-webkit-deflate-frame, foo; bar')).toBeUndefined();
  });
  it('rejects invalid server configuration', () => {
    expect(() => negotiateDeflateServer([], { serverMaxWindowBits: 16 })).toThrow(WsHandshakeError);
  });
});

describe('negotiation, client side (§7.1)', () => {
  it('builds offers', () => {
    expect(formatExtension(createDeflateOffer())).toBe('permessage-deflate; client_max_window_bits');
    expect(
      formatExtension(
        createDeflateOffer({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 11 }),
      ),
    ).toBe('permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11');
    expect(formatExtension(createDeflateOffer({ clientMaxWindowBits: false }))).toBe('permessage-deflate');
    expect(() => createDeflateOffer({ serverMaxWindowBits: 7 })).toThrow(WsHandshakeError);
  });
  const accept = (resp: string, options = {}): DeflateParams | WsHandshakeError => acceptDeflateResponse(offers(resp)[0]!, options);
  it('accepts valid responses', () => {
    expect(accept('permessage-deflate')).toEqual(DEFAULTS);
    expect(accept('permessage-deflate; server_no_context_takeover; client_max_window_bits=10')).toEqual({
      ...DEFAULTS,
      serverNoContextTakeover: true,
      clientMaxWindowBits: 10,
    });
    expect(accept('permessage-deflate; client_no_context_takeover')).toEqual({ ...DEFAULTS, clientNoContextTakeover: true });
    expect(accept('permessage-deflate; server_max_window_bits=9', { serverMaxWindowBits: 10 })).toEqual({
      ...DEFAULTS,
      serverMaxWindowBits: 9,
    });
    expect(accept('permessage-deflate; server_max_window_bits=12')).toEqual({ ...DEFAULTS, serverMaxWindowBits: 12 });
    expect(accept('permessage-deflate', { clientMaxWindowBits: 11 })).toEqual({ ...DEFAULTS, clientMaxWindowBits: 11 });
  });
  it('refuses invalid responses', () => {
    const cases: Array<[string, object]> = [
      ['permessage-deflate; foo', {}],
      ['permessage-deflate; client_max_window_bits', {}], // needs a value in a response
      ['permessage-deflate; client_max_window_bits=10', { clientMaxWindowBits: false }], // not offered
      ['permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 }], // larger than offered
      ['permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 }], // larger than requested
      ['permessage-deflate', { serverMaxWindowBits: 10 }], // requested, not acknowledged
      ['permessage-deflate', { serverNoContextTakeover: true }], // requested, not acknowledged
      ['permessage-deflate; server_max_window_bits=16', {}],
      ['permessage-deflate; server_max_window_bits=09', {}],
      ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', {}],
    ];
    for (const [resp, options] of cases) {
      const r = accept(resp, options);
      expect(r, resp).toBeInstanceOf(WsHandshakeError);
      expect((r as WsHandshakeError).code).toBe('WS_HANDSHAKE_BAD_EXTENSION_PARAMS');
    }
  });
});

describe('PerMessageDeflate transform', () => {
  it('roundtrips with every window size, with and without context takeover', async () => {
    const data = Buffer.from('The quick brown fox jumps over the lazy dog. '.repeat(200));
    for (let bits = 8; bits <= 15; bits++) {
      for (const nct of [false, true]) {
        const params = { serverMaxWindowBits: bits, clientMaxWindowBits: bits, serverNoContextTakeover: nct, clientNoContextTakeover: nct };
        const server = pmd('server', params);
        const client = pmd('client', params);
        for (let i = 0; i < 3; i++) {
          const c = await server.compressAsync(data);
          expect(c.length).toBeLessThan(data.length / 10);
          expect((await client.decompressAsync(c)).equals(data)).toBe(true);
          const c2 = await client.compressAsync(data);
          expect((await server.decompressAsync(c2)).equals(data)).toBe(true);
        }
        server.close();
        client.close();
      }
    }
  });

  it('window bits 8: compresses with 9, output still decodes with a 256-byte window', async () => {
    const server = pmd('server', { serverMaxWindowBits: 8 });
    expect(server.ownWindowBits).toBe(9);
    // repeats at distances between 256 and 512 bytes would break a 256-byte window if used
    const unit = Buffer.from(Array.from({ length: 400 }, (_, i) => (i * 7919) % 251));
    const data = Buffer.concat(Array.from({ length: 20 }, () => unit));
    const c = await server.compressAsync(data);
    const client = pmd('client', { serverMaxWindowBits: 8 });
    expect(client.peerWindowBits).toBe(8);
    expect((await client.decompressAsync(c)).equals(data)).toBe(true);
    server.close();
    client.close();
  });

  it('resets the inflater after each message when the peer has no context takeover', async () => {
    const server = pmd('server', { clientNoContextTakeover: true });
    const ind = deflateRawSync(Buffer.from('Hello'), { finishFlush: 2 }); // Z_SYNC_FLUSH, independent stream
    const msg = ind.subarray(0, ind.length - 4);
    expect((await server.decompressAsync(msg)).toString()).toBe('Hello');
    expect((await server.decompressAsync(msg)).toString()).toBe('Hello');
    server.close();
  });

  it('completes operations in submission order', async () => {
    const d = pmd('server');
    const sizes = [100000, 10, 50000, 0, 3];
    const results = await Promise.all(sizes.map((n, i) => d.compressAsync(Buffer.alloc(n, i))));
    const client = pmd('client');
    for (let i = 0; i < sizes.length; i++) {
      const out = await client.decompressAsync(results[i]!);
      expect(out.equals(Buffer.alloc(sizes[i]!, i))).toBe(true);
    }
    d.close();
    client.close();
  });

  it('a decompression bomb is stopped as soon as the output passes the limit (1009)', async () => {
    const bomb = deflateRawSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 }); // ~64 KB → 64 MB
    const d = pmd('client');
    const t0 = performance.now();
    const err = await d.decompressAsync(bomb, true, 1024 * 1024).catch((e: unknown) => e);
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(WsError);
    expect((err as WsError).code).toBe('WS_MESSAGE_TOO_LARGE');
    expect((err as WsError).closeCode).toBe(1009);
    d.close();
    // Stopped at the limit, not after inflating everything: measured against a full inflation of
    // the same bomb on this machine now (load slows both alike). Here ~8 ms against ~250 ms; a
    // codec that inflated it all before checking the size would take as long as the full run.
    const full = pmd('client');
    const t1 = performance.now();
    const all = await full.decompressAsync(bomb, true, 65 * 1024 * 1024);
    const fullMs = performance.now() - t1;
    full.close();
    expect(all.length).toBe(64 * 1024 * 1024);
    expect(ms).toBeLessThan(fullMs / 2);
  });

  it('corrupt data → 1007', async () => {
    const d = pmd('client');
    const err = await d.decompressAsync(hex('ff ff ff ff 00')).catch((e: unknown) => e);
    expect((err as WsError).code).toBe('WS_INFLATE_FAILED');
    expect((err as WsError).closeCode).toBe(1007);
    d.close();
  });

  it('rejects invalid zlib options and window bits up front', () => {
    expect(() => new PerMessageDeflate({ role: 'server', params: DEFAULTS, level: 10 })).toThrow(WsError);
    expect(() => new PerMessageDeflate({ role: 'server', params: DEFAULTS, memLevel: 0 })).toThrow(WsError);
    expect(() => new PerMessageDeflate({ role: 'server', params: { ...DEFAULTS, clientMaxWindowBits: 7 } })).toThrow(WsError);
  });

  it('close() fails pending and later operations', async () => {
    const d = pmd('server');
    const p = d.compressAsync(Buffer.alloc(1 << 20, 1));
    const q = d.compressAsync(Buffer.alloc(10));
    d.close();
    await expect(p).rejects.toMatchObject({ code: 'WS_DEFLATE_CLOSED' });
    await expect(q).rejects.toMatchObject({ code: 'WS_DEFLATE_CLOSED' });
    await expect(d.decompressAsync(Buffer.alloc(1))).rejects.toMatchObject({ code: 'WS_DEFLATE_CLOSED' });
  });
});

describe('Receiver with permessage-deflate', () => {
  const compressed = async (data: Buffer | string, role: Role = 'client'): Promise<Buffer> => {
    const d = pmd(role);
    const out = await d.compressAsync(typeof data === 'string' ? Buffer.from(data) : data);
    d.close();
    return out;
  };

  it('RSV1 is refused on continuation and control frames (1002)', () => {
    for (const f of ['01 01 41 c0 01 41', 'c9 00', 'c8 00']) {
      const deflate = pmd('client');
      const { receiver, events } = recorder({ role: 'client', deflate });
      feed(receiver, hex(f));
      expect(events, f).toEqual([{ type: 'error', code: 'WS_RSV_BITS', closeCode: 1002 }]);
      deflate.close();
    }
  });

  it('holds later frames while inflating, asks the transport to pause, then drains in order', async () => {
    const deflate = pmd('server');
    const { receiver, events } = recorder({ role: 'server', deflate });
    const big = await compressed(Buffer.alloc(300000, 0x61));
    const chunk = Buffer.concat([clientFrame(0xc2, big), clientFrame(0x89, Buffer.from('p')), clientFrame(0x81, Buffer.from('after'))]);
    expect(receiver.push(chunk)).toBe(false);
    expect(receiver.isBusy).toBe(true);
    expect(events).toEqual([]);
    await until(() => events.some((e) => e.type === 'drain'));
    expect(events.map((e) => e.type)).toEqual(['message', 'ping', 'message', 'drain']);
    expect(events[2]).toEqual({ type: 'message', data: text('after'), binary: false });
    deflate.close();
  });

  it('inflated size is capped by maxMessageSize (1009), across fragments too', async () => {
    const big = await compressed(Buffer.alloc(100000, 0x61));
    const deflate = pmd('client');
    const { receiver, events } = recorder({ role: 'client', deflate, maxMessageSize: 50000 });
    feed(receiver, Buffer.concat([Buffer.from([0xc2, 126, big.length >> 8, big.length & 255]), big]));
    await until(() => events.length > 0);
    expect(events).toEqual([{ type: 'error', code: 'WS_MESSAGE_TOO_LARGE', closeCode: 1009 }]);
    deflate.close();

    const d2 = pmd('client');
    const r2 = recorder({ role: 'client', deflate: d2, maxMessageSize: 150 });
    const src = pmd('server');
    const a = await src.compressAsync(Buffer.alloc(100, 0x62), false);
    const b = await src.compressAsync(Buffer.alloc(100, 0x62), true);
    feed(r2.receiver, Buffer.concat([Buffer.from([0x42, a.length]), a, Buffer.from([0x80, b.length]), b]));
    await until(() => r2.events.length > 0);
    expect(r2.events).toEqual([{ type: 'error', code: 'WS_MESSAGE_TOO_LARGE', closeCode: 1009 }]);
    d2.close();
    src.close();
  });

  it('invalid UTF-8 inside a compressed text message → 1007', async () => {
    const bad = await compressed(hex('48 65 ed a0 80'));
    const deflate = pmd('client');
    const { receiver, events } = recorder({ role: 'client', deflate });
    feed(receiver, Buffer.concat([Buffer.from([0xc1, bad.length]), bad]));
    await until(() => events.length > 0);
    expect(events).toEqual([{ type: 'error', code: 'WS_INVALID_UTF8', closeCode: 1007 }]);
    deflate.close();
  });

  it('corrupt compressed payload → 1007', async () => {
    const deflate = pmd('client');
    const { receiver, events } = recorder({ role: 'client', deflate });
    feed(receiver, hex('c1 03 ff ff ff'));
    await until(() => events.length > 0);
    expect(events).toEqual([{ type: 'error', code: 'WS_INFLATE_FAILED', closeCode: 1007 }]);
    deflate.close();
  });

  it('fails with 1008 if the transport keeps pushing while told to pause', async () => {
    const deflate = pmd('server');
    const { receiver, events } = recorder({ role: 'server', deflate, maxFrameSize: 1000, maxBufferedBytes: 5000 });
    const c = await compressed('x'.repeat(500));
    expect(receiver.push(clientFrame(0xc1, c))).toBe(false);
    for (let i = 0; i < 10 && events.length === 0; i++) receiver.push(clientFrame(0x82, Buffer.alloc(900)));
    expect(events).toEqual([{ type: 'error', code: 'WS_BUFFER_OVERFLOW', closeCode: 1008 }]);
    deflate.close();
  });
});

describe('Sender', () => {
  const pipe = (role: Role, params: Partial<DeflateParams> = {}, threshold = 0) => {
    const peer: Role = role === 'server' ? 'client' : 'server';
    const sendDeflate = pmd(role, params, threshold);
    const recvDeflate = pmd(peer, params);
    const { receiver, events } = recorder({ role: peer, deflate: recvDeflate }, { drain: false });
    const rsv1: boolean[] = [];
    const sender = new Sender({
      role,
      deflate: sendDeflate,
      write: (h, p) => {
        rsv1.push((h[0]! & 0x40) !== 0);
        receiver.push(Buffer.concat([h, p]));
      },
    });
    const close = () => {
      sendDeflate.close();
      recvDeflate.close();
    };
    return { sender, receiver, events, rsv1, close };
  };

  it('keeps call order across compressed and uncompressed frames', async () => {
    const { sender, events, rsv1, receiver, close } = pipe('server', {}, 100);
    sender.send('a'.repeat(5000));
    sender.send('small');
    sender.ping('p');
    sender.send(Buffer.alloc(3000, 1));
    sender.send('tiny', { compress: false });
    sender.close(1000, 'done');
    expect(sender.send('nope')).toBe(false);
    await until(() => events.length === 6 && !receiver.isBusy);
    expect(events.map((e) => e.type)).toEqual(['message', 'message', 'ping', 'message', 'message', 'close']);
    expect(rsv1).toEqual([true, false, false, true, false, false]);
    close();
  });

  it('client frames are masked, compressed or not', async () => {
    const { sender, events, close } = pipe('client');
    sender.send('hello '.repeat(100));
    sender.send(Buffer.from([1, 2, 3]), { compress: false });
    await until(() => events.length === 2);
    expect(events[0]).toEqual({ type: 'message', data: text('hello '.repeat(100)), binary: false });
    expect(events[1]).toEqual({ type: 'message', data: '010203', binary: true });
    close();
  });

  it('streams a compressed message in fragments (RSV1 on the first only)', async () => {
    const { sender, events, rsv1, close } = pipe('server');
    sender.send('part one, ', { fin: false });
    sender.send('part two, ', { fin: false });
    sender.send('part three');
    sender.send('next');
    await until(() => events.length === 2);
    expect(rsv1).toEqual([true, false, false, true]);
    expect(events[0]).toEqual({ type: 'message', data: text('part one, part two, part three'), binary: false });
    expect(events[1]).toEqual({ type: 'message', data: text('next'), binary: false });
    close();
  });

  it('without deflate: synchronous, shared broadcast headers', async () => {
    const { encodeFrameHeader, Opcode } = await import('../src/index');
    const writes: Buffer[][] = [];
    const a = new Sender({ role: 'server', write: (h, p) => writes.push([h, p]) });
    const b = new Sender({ role: 'server', write: (h, p) => writes.push([h, p]) });
    const payload = Buffer.from('broadcast');
    const header = encodeFrameHeader(Opcode.BINARY, payload.length);
    a.sendFrame([header, payload]);
    b.sendFrame([header, payload]);
    expect(writes).toHaveLength(2);
    expect(writes[0]![0]).toBe(writes[1]![0]);
    expect(writes[0]![1]).toBe(payload);
    a.send('x');
    expect(writes).toHaveLength(3);
    expect(a.pendingBytes).toBe(0);
  });
});
