import { describe, it, expect } from 'vitest';
import {
  acceptUpgrade,
  buildHttpErrorResponse,
  buildUpgradeResponse,
  computeAcceptKey,
  createClientHandshake,
  formatExtensions,
  isValidWebSocketKey,
  parseExtensions,
  selectSubprotocol,
  validateUpgradeRequest,
  verifyUpgradeResponse,
  WsHandshakeError,
} from '../src/index';
import type { HttpHeaders, UpgradeRequestLike } from '../src/index';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

const request = (headers: Record<string, string> = {}, extra: Partial<UpgradeRequestLike> = {}): UpgradeRequestLike => ({
  method: 'GET',
  httpVersion: '1.1',
  headers: {
    host: 'server.example.com',
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': KEY,
    'sec-websocket-version': '13',
    ...headers,
  },
  ...extra,
});

describe('accept key', () => {
  it('RFC 6455 §1.3 example', () => {
    expect(computeAcceptKey(KEY)).toBe(ACCEPT);
  });
  it('key must be base64 of exactly 16 bytes', () => {
    expect(isValidWebSocketKey(KEY)).toBe(true);
    expect(isValidWebSocketKey(Buffer.alloc(16, 0xff).toString('base64'))).toBe(true);
    for (const bad of [
      '',
      'dGhlIHNhbXBsZSBub25jZQ', // no padding
      'dGhlIHNhbXBsZSBub25jZQ=', // short padding
      'dGhlIHNhbXBsZSBub25jZR==', // stray bits in the last character
      Buffer.alloc(15).toString('base64'),
      Buffer.alloc(17).toString('base64'),
      'dGhlIHNhbXBsZSBub25j*Q==',
      'dGhlIHNhbXBsZSBub25jZQ==dGhl',
    ]) {
      expect(isValidWebSocketKey(bad), bad).toBe(false);
    }
  });
});

describe('server handshake validation', () => {
  it('accepts the RFC example request', () => {
    const r = validateUpgradeRequest(
      request({ 'sec-websocket-protocol': 'chat, superchat', 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits' }),
    );
    expect(r).toMatchObject({ ok: true, key: KEY, accept: ACCEPT, protocols: ['chat', 'superchat'] });
    if (r.ok) expect(r.extensions).toEqual([{ name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: true }] }]);
  });

  it('header tokens are case-insensitive and may be lists', () => {
    expect(validateUpgradeRequest(request({ upgrade: 'WebSocket', connection: 'keep-alive, UPGRADE' })).ok).toBe(true);
  });

  const rejects: Array<[string, UpgradeRequestLike, number, string]> = [
    ['POST', request({}, { method: 'POST' }), 405, 'WS_HANDSHAKE_BAD_METHOD'],
    ['HTTP/1.0', request({}, { httpVersion: '1.0' }), 400, 'WS_HANDSHAKE_BAD_HTTP_VERSION'],
    ['no host', request({ host: '' }), 400, 'WS_HANDSHAKE_MISSING_HOST'],
    ['no upgrade', request({ upgrade: '' }), 400, 'WS_HANDSHAKE_BAD_UPGRADE'],
    ['upgrade h2c', request({ upgrade: 'h2c' }), 400, 'WS_HANDSHAKE_BAD_UPGRADE'],
    ['connection keep-alive', request({ connection: 'keep-alive' }), 400, 'WS_HANDSHAKE_BAD_CONNECTION'],
    ['connection upgraded (not a token match)', request({ connection: 'upgraded' }), 400, 'WS_HANDSHAKE_BAD_CONNECTION'],
    ['version 8', request({ 'sec-websocket-version': '8' }), 426, 'WS_HANDSHAKE_BAD_VERSION'],
    ['no version', request({ 'sec-websocket-version': '' }), 426, 'WS_HANDSHAKE_BAD_VERSION'],
    ['bad key', request({ 'sec-websocket-key': 'abc' }), 400, 'WS_HANDSHAKE_BAD_KEY'],
    ['two keys', request({ 'sec-websocket-key': `${KEY}, ${KEY}` }), 400, 'WS_HANDSHAKE_BAD_KEY'],
    ['bad protocol', request({ 'sec-websocket-protocol': 'chat, sup er' }), 400, 'WS_HANDSHAKE_BAD_PROTOCOL'],
    ['dup protocol', request({ 'sec-websocket-protocol': 'chat, chat' }), 400, 'WS_HANDSHAKE_BAD_PROTOCOL'],
    ['bad extensions', request({ 'sec-websocket-extensions': 'permessage-deflate; =' }), 400, 'WS_HANDSHAKE_BAD_EXTENSIONS'],
  ];
  for (const [name, req, status, code] of rejects) {
    it(`rejects: ${name} → ${status}`, () => {
      const r = validateUpgradeRequest(req);
      expect(r).toMatchObject({ ok: false, status, code });
    });
  }

  it('426 carries Sec-WebSocket-Version: 13; 405 carries Allow: GET', () => {
    const r = validateUpgradeRequest(request({ 'sec-websocket-version': '7' }));
    expect(!r.ok && r.headers).toEqual({ 'Sec-WebSocket-Version': '13' });
    const m = validateUpgradeRequest(request({}, { method: 'PUT' }));
    expect(!m.ok && m.headers).toEqual({ Allow: 'GET' });
  });

  it('header count and size limits → 431', () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 120; i++) many[`x-h${i}`] = 'v';
    expect(validateUpgradeRequest(request(many))).toMatchObject({ ok: false, status: 431 });
    expect(validateUpgradeRequest(request({ cookie: 'x'.repeat(20000) }))).toMatchObject({ ok: false, status: 431 });
    const raw = ['Host', 'h', 'X', 'y'.repeat(100)];
    expect(validateUpgradeRequest(request({}, { rawHeaders: raw }), { maxHeaderBytes: 50 })).toMatchObject({ status: 431 });
    expect(validateUpgradeRequest(request({}, { rawHeaders: raw }), { maxHeaderCount: 1 })).toMatchObject({ status: 431 });
  });
});

describe('subprotocol selection', () => {
  it('list: first in the client order that the server supports', () => {
    expect(selectSubprotocol(['b', 'a'], ['a', 'b'])).toBe('b');
    expect(selectSubprotocol(['x'], ['a'])).toBeUndefined();
    expect(selectSubprotocol([], ['a'])).toBeUndefined();
  });
  it('callback: must return one of the offers', () => {
    expect(selectSubprotocol(['a', 'b'], (o) => o[1])).toBe('b');
    expect(selectSubprotocol(['a', 'b'], () => 'c')).toBeUndefined();
    expect(selectSubprotocol(['a'], () => false)).toBeUndefined();
  });
});

describe('responses', () => {
  it('101 response bytes', () => {
    const r = buildUpgradeResponse({ key: KEY, protocol: 'chat', extensions: 'permessage-deflate', headers: { 'Set-Cookie': ['a=1', 'b=2'] } });
    expect(r.toString('latin1')).toBe(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${ACCEPT}\r\nSec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate\r\n` +
        'Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n',
    );
  });
  it('refuses header injection and overriding handshake headers', () => {
    expect(() => buildUpgradeResponse({ key: KEY, headers: { 'X-A': 'a\r\nX-B: b' } })).toThrow(WsHandshakeError);
    expect(() => buildUpgradeResponse({ key: KEY, headers: { 'Bad Name': 'a' } })).toThrow(WsHandshakeError);
    expect(() => buildUpgradeResponse({ key: KEY, headers: { 'Sec-WebSocket-Accept': 'x' } })).toThrow(WsHandshakeError);
    expect(() => buildUpgradeResponse({ key: KEY, protocol: 'a b' })).toThrow(WsHandshakeError);
    expect(() => buildUpgradeResponse({})).toThrow(WsHandshakeError);
  });
  it('error response bytes', () => {
    const r = buildHttpErrorResponse(426, 'Upgrade Required', { 'Sec-WebSocket-Version': '13' }).toString('latin1');
    expect(r).toBe(
      'HTTP/1.1 426 Upgrade Required\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 16\r\nSec-WebSocket-Version: 13\r\n\r\nUpgrade Required',
    );
    expect(buildHttpErrorResponse(400).toString()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*Content-Length: 11\r\n\r\nBad Request$/);
  });
  it('acceptUpgrade does it all', () => {
    const ok = acceptUpgrade(
      request({ 'sec-websocket-protocol': 'v2, v1', 'sec-websocket-extensions': 'foo, permessage-deflate; client_max_window_bits' }),
      { protocols: ['v1', 'v2'], perMessageDeflate: { clientMaxWindowBits: 12 } },
    );
    expect(ok.ok).toBe(true);
    if (!ok.ok) return;
    expect(ok.protocol).toBe('v2');
    expect(ok.deflate).toEqual({ serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 12 });
    expect(ok.response.toString()).toContain('Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=12\r\n');
    const bad = acceptUpgrade(request({ upgrade: 'nope' }));
    expect(bad.ok).toBe(false);
    expect(bad.response.toString()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    const none = acceptUpgrade(request({ 'sec-websocket-extensions': 'permessage-deflate' }));
    expect(none.ok && none.deflate).toBeUndefined();
    expect(none.response.toString()).not.toContain('Extensions');
  });
});

describe('client handshake', () => {
  it('builds the request', () => {
    const h = createClientHandshake({
      host: 'example.com:8080',
      path: '/chat?x=1',
      origin: 'http://example.com',
      protocols: ['chat', 'superchat'],
      perMessageDeflate: true,
      headers: { Authorization: 'Bearer t' },
      key: KEY,
    });
    expect(h.expectedAccept).toBe(ACCEPT);
    expect(h.request.toString()).toBe(
      'GET /chat?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n` +
        'Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' +
        'Authorization: Bearer t\r\n\r\n',
    );
    expect(h.headers['Authorization']).toBe('Bearer t');
    const r = createClientHandshake({ host: 'a' });
    expect(isValidWebSocketKey(r.key)).toBe(true);
    expect(createClientHandshake({ host: 'a' }).key).not.toBe(r.key);
  });
  it('refuses bad arguments', () => {
    expect(() => createClientHandshake({ host: 'a', protocols: ['a', 'a'] })).toThrow(WsHandshakeError);
    expect(() => createClientHandshake({ host: 'a', protocols: ['a b'] })).toThrow(WsHandshakeError);
    expect(() => createClientHandshake({ host: 'a', headers: { 'Sec-WebSocket-Key': 'x' } })).toThrow(WsHandshakeError);
    expect(() => createClientHandshake({ host: 'a\r\nX: y' })).toThrow(WsHandshakeError);
    expect(() => createClientHandshake({ host: 'a', path: 'nope' })).toThrow(WsHandshakeError);
  });

  const hs = createClientHandshake({ host: 'a', key: KEY, protocols: ['chat'], perMessageDeflate: { serverMaxWindowBits: 10 } });
  const good: HttpHeaders = { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': ACCEPT };
  it('verifies a good response', () => {
    const r = verifyUpgradeResponse(hs, {
      statusCode: 101,
      headers: { ...good, 'sec-websocket-protocol': 'chat', 'sec-websocket-extensions': 'permessage-deflate; server_max_window_bits=9' },
    });
    expect(r).toMatchObject({ ok: true, protocol: 'chat', deflate: { serverMaxWindowBits: 9 } });
    expect(verifyUpgradeResponse(hs, { statusCode: 101, headers: good })).toMatchObject({ ok: true, protocol: undefined, deflate: undefined });
    expect(verifyUpgradeResponse(hs, { statusCode: 101, headers: { ...good, upgrade: 'WebSocket', connection: 'keep-alive, upgrade' } }).ok).toBe(true);
  });
  const cases: Array<[string, number, HttpHeaders, string]> = [
    ['status 200', 200, good, 'WS_HANDSHAKE_BAD_STATUS'],
    ['no upgrade', 101, { ...good, upgrade: undefined }, 'WS_HANDSHAKE_BAD_UPGRADE'],
    ['upgrade list', 101, { ...good, upgrade: 'websocket, h2c' }, 'WS_HANDSHAKE_BAD_UPGRADE'],
    ['no connection', 101, { ...good, connection: 'close' }, 'WS_HANDSHAKE_BAD_CONNECTION'],
    ['bad accept', 101, { ...good, 'sec-websocket-accept': 'x' }, 'WS_HANDSHAKE_BAD_ACCEPT'],
    ['unoffered protocol', 101, { ...good, 'sec-websocket-protocol': 'other' }, 'WS_HANDSHAKE_UNEXPECTED_PROTOCOL'],
    ['unoffered extension', 101, { ...good, 'sec-websocket-extensions': 'x-foo' }, 'WS_HANDSHAKE_UNEXPECTED_EXTENSION'],
    ['deflate twice', 101, { ...good, 'sec-websocket-extensions': 'permessage-deflate; server_max_window_bits=9, permessage-deflate; server_max_window_bits=9' }, 'WS_HANDSHAKE_UNEXPECTED_EXTENSION'],
    ['bad deflate params', 101, { ...good, 'sec-websocket-extensions': 'permessage-deflate; server_max_window_bits=12' }, 'WS_HANDSHAKE_BAD_EXTENSION_PARAMS'],
    ['malformed extensions', 101, { ...good, 'sec-websocket-extensions': 'permessage-deflate;;' }, 'WS_HANDSHAKE_BAD_EXTENSIONS'],
  ];
  for (const [name, statusCode, headers, code] of cases) {
    it(`refuses: ${name}`, () => {
      const r = verifyUpgradeResponse(hs, { statusCode, headers });
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error).toBeInstanceOf(WsHandshakeError);
        expect(r.error.code).toBe(code);
      }
    });
  }
  it('refuses a protocol when none was offered', () => {
    const plain = createClientHandshake({ host: 'a', key: KEY });
    expect(verifyUpgradeResponse(plain, { statusCode: 101, headers: { ...good, 'sec-websocket-protocol': 'chat' } }).ok).toBe(false);
    expect(verifyUpgradeResponse(plain, { statusCode: 101, headers: { ...good, 'sec-websocket-extensions': 'permessage-deflate' } }).ok).toBe(false);
  });
  it('client and server helpers agree end to end', () => {
    const c = createClientHandshake({ host: 'h', protocols: ['p1', 'p2'], perMessageDeflate: { clientNoContextTakeover: true } });
    const lower: Record<string, string> = {};
    for (const [k, v] of Object.entries(c.headers)) lower[k.toLowerCase()] = v;
    const s = acceptUpgrade({ method: 'GET', httpVersion: '1.1', headers: lower }, { protocols: ['p2'], perMessageDeflate: true });
    expect(s.ok).toBe(true);
    // parse the response head back into headers
    const lines = s.response.toString().split('\r\n').filter(Boolean);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
    const v = verifyUpgradeResponse(c, { statusCode: Number(lines[0]!.split(' ')[1]), headers });
    expect(v).toMatchObject({ ok: true, protocol: 'p2', deflate: { clientNoContextTakeover: true } });
    expect(s.ok && s.deflate).toEqual(v.ok && v.deflate);
  });
});

describe('Sec-WebSocket-Extensions parser', () => {
  it('parses tokens, params, quoted strings, whitespace and empty elements', () => {
    const r = parseExtensions(' foo ;a; B = 1 ,, bar;q="x\\y" ,permessage-deflate;client_max_window_bits\t');
    expect(r).toEqual({
      ok: true,
      offers: [
        { name: 'foo', params: [{ name: 'a', value: true }, { name: 'b', value: '1' }] },
        { name: 'bar', params: [{ name: 'q', value: 'xy' }] },
        { name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: true }] },
      ],
    });
    expect(parseExtensions('')).toEqual({ ok: true, offers: [] });
  });
  it('round-trips through formatExtensions', () => {
    const h = 'permessage-deflate; server_max_window_bits=10; client_no_context_takeover, x-y';
    const r = parseExtensions(h);
    expect(r.ok && formatExtensions(r.offers)).toBe(h);
  });
  it('rejects malformed input', () => {
    for (const bad of [
      ';a',
      'foo;',
      'foo;=1',
      'foo;a=',
      'foo;a="unterminated',
      'foo;a="not a token"',
      'foo;a=""',
      'foo bar',
      'fo"o',
      'foo;a=1 2',
      'foo;a="\u0001"',
      'ä',
    ]) {
      expect(parseExtensions(bad).ok, bad).toBe(false);
    }
  });
  it('enforces limits', () => {
    expect(parseExtensions('a'.repeat(5000)).ok).toBe(false);
    expect(parseExtensions(Array.from({ length: 17 }, () => 'x').join(',')).ok).toBe(false);
    expect(parseExtensions('x' + ';p'.repeat(17)).ok).toBe(false);
    expect(parseExtensions('x;p;q', { maxParams: 1 }).ok).toBe(false);
  });
  it('runs in linear time on adversarial input', () => {
    const limits = { maxLength: 4_000_000, maxOffers: 1_000_000, maxParams: 1_000_000 };
    const inputs = [
      'x;' + 'a="'.repeat(300000),
      'x' + ' ;a'.repeat(300000) + ' =',
      'x;a="' + '\\a'.repeat(500000),
      ', '.repeat(500000) + '=',
      'x' + ';a=b '.repeat(200000) + '"',
    ];
    for (const input of inputs) {
      const t0 = performance.now();
      parseExtensions(input, limits);
      expect(performance.now() - t0).toBeLessThan(1000);
    }
  });
});
