import { describe, it, expect } from 'vitest';
import {
  decodeJson,
  encodeAckError,
  encodeClientConnect,
  encodeDisconnect,
  encodeError,
  encodeServerConnect,
  decodeFrame,
  parseAckRequest,
  parseAckResponse,
  parseClientHello,
  parseDisconnect,
  parseErrorBody,
  parseRoomRequestId,
  parseServerHello,
} from '../src/index';
import { concat, expectCode, hex, u32, utf8 } from './helpers';

describe('decodeJson', () => {
  it('parses UTF-8 JSON; empty is undefined', () => {
    expect(decodeJson(new Uint8Array(0))).toBeUndefined();
    expect(decodeJson(utf8('{"a":[1,"é",null]}'))).toEqual({ a: [1, 'é', null] });
    expect(decodeJson(utf8('"😀"'))).toBe('😀');
    expect(decodeJson(utf8(' 3 '))).toBe(3);
  });

  it('BAD_JSON for invalid JSON or invalid UTF-8 (close code 1007)', () => {
    for (const bad of ['{', '{"a":}', 'undefined', "{'a':1}", '1 2', '\ufeff1']) {
      expect(expectCode(() => decodeJson(utf8(bad)), 'BAD_JSON').closeCode).toBe(1007);
    }
    expectCode(() => decodeJson(hex('22 ff 22')), 'BAD_JSON');
    expectCode(() => decodeJson(hex('22 ed a0 80 22')), 'BAD_JSON');
    expectCode(() => decodeJson(concat(utf8('"' + 'x'.repeat(100)), hex('c0 80 22'))), 'BAD_JSON');
  });
});

describe('ACK helpers', () => {
  it('parseAckRequest splits id and data (a view)', () => {
    const p = concat(u32(0xdeadbeef), utf8('[1]'));
    const r = parseAckRequest(p);
    expect(r.id).toBe(0xdeadbeef);
    expect(decodeJson(r.data)).toEqual([1]);
    expect(r.data.buffer).toBe(p.buffer);
    expect(parseAckRequest(u32(5)).data.length).toBe(0);
    expectCode(() => parseAckRequest(new Uint8Array(3)), 'BAD_PAYLOAD');
  });

  it('parseAckResponse splits id, status and body', () => {
    expect(parseAckResponse(concat(u32(1), hex('00'), utf8('true')))).toMatchObject({ id: 1, ok: true });
    const err = parseAckResponse(concat(u32(2), hex('01'), utf8('{"code":"X","message":"y"}')));
    expect(err).toMatchObject({ id: 2, ok: false });
    expect(parseErrorBody(err.body)).toEqual({ code: 'X', message: 'y' });
    expectCode(() => parseAckResponse(new Uint8Array(4)), 'BAD_PAYLOAD');
    expectCode(() => parseAckResponse(concat(u32(1), hex('02'))), 'BAD_PAYLOAD');
  });

  it('encodeAckError round-trips through parseAckResponse + parseErrorBody', () => {
    const f = decodeFrame(encodeAckError(3, 'sum', 'HANDLER_ERROR', 'boom'));
    const r = parseAckResponse(f.payload);
    expect(r.ok).toBe(false);
    expect(parseErrorBody(r.body)).toEqual({ code: 'HANDLER_ERROR', message: 'boom' });
  });
});

describe('parseRoomRequestId', () => {
  it('gives the optional u32 id', () => {
    expect(parseRoomRequestId(new Uint8Array(0))).toBeUndefined();
    expect(parseRoomRequestId(u32(0))).toBe(0);
    expect(parseRoomRequestId(u32(0xffffffff))).toBe(0xffffffff);
    for (const n of [1, 3, 5]) expectCode(() => parseRoomRequestId(new Uint8Array(n)), 'BAD_PAYLOAD');
  });
});

describe('hello parsing', () => {
  it('parseClientHello: {v, auth?}', () => {
    expect(parseClientHello(decodeFrame(encodeClientConnect()).payload)).toEqual({ v: 1 });
    const withAuth = parseClientHello(decodeFrame(encodeClientConnect({ token: 'abc' })).payload);
    expect(withAuth).toEqual({ v: 1, auth: { token: 'abc' } });
    expect(parseClientHello(utf8('{"v":2,"auth":null}'))).toEqual({ v: 2, auth: null });
    expect('auth' in parseClientHello(utf8('{"v":1}'))).toBe(false);
    for (const bad of ['[]', '1', 'null', '{}', '{"v":"1"}']) expectCode(() => parseClientHello(utf8(bad)), 'BAD_PAYLOAD');
    expectCode(() => parseClientHello(new Uint8Array(0)), 'BAD_PAYLOAD');
    expectCode(() => parseClientHello(utf8('{')), 'BAD_JSON');
  });

  it('parseServerHello: {v, id, heartbeat, maxFrame, ...extra}', () => {
    const hello = { v: 1, id: 's1', heartbeat: 25000, maxFrame: 1048576, region: 'eu' };
    expect(parseServerHello(decodeFrame(encodeServerConnect(hello)).payload)).toEqual(hello);
    // missing numbers default to 0
    expect(parseServerHello(utf8('{"v":1,"id":"x"}'))).toEqual({ v: 1, id: 'x', heartbeat: 0, maxFrame: 0 });
    expect(parseServerHello(utf8('{"v":1,"id":"x","heartbeat":"fast"}')).heartbeat).toBe(0);
    for (const bad of ['{"v":1}', '{"id":"x"}', '{"v":1,"id":2}', '[]', 'null']) expectCode(() => parseServerHello(utf8(bad)), 'BAD_PAYLOAD');
  });

  it('a __proto__ key in a hello does not pollute prototypes', () => {
    const h = parseServerHello(utf8('{"v":1,"id":"x","__proto__":{"polluted":true}}'));
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect((h as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('error and disconnect bodies', () => {
  it('parseErrorBody: {code, message}; message defaults to empty', () => {
    expect(parseErrorBody(decodeFrame(encodeError('RATE_LIMITED', 'slow')).payload)).toEqual({ code: 'RATE_LIMITED', message: 'slow' });
    expect(parseErrorBody(utf8('{"code":"X"}'))).toEqual({ code: 'X', message: '' });
    expect(parseErrorBody(utf8('{"code":"X","message":5}'))).toEqual({ code: 'X', message: '' });
    for (const bad of ['{}', '{"code":1}', '"X"', '[]', 'null']) expectCode(() => parseErrorBody(utf8(bad)), 'BAD_PAYLOAD');
    expectCode(() => parseErrorBody(new Uint8Array(0)), 'BAD_PAYLOAD');
    expectCode(() => parseErrorBody(utf8('{"code"')), 'BAD_JSON');
  });

  it('parseDisconnect: {code, reason}, or undefined when empty', () => {
    expect(parseDisconnect(new Uint8Array(0))).toBeUndefined();
    expect(parseDisconnect(decodeFrame(encodeDisconnect(4001, 'bad token')).payload)).toEqual({ code: 4001, reason: 'bad token' });
    expect(parseDisconnect(utf8('{"code":1000}'))).toEqual({ code: 1000, reason: '' });
    for (const bad of ['{}', '{"code":"1000"}', '1000', 'null']) expectCode(() => parseDisconnect(utf8(bad)), 'BAD_PAYLOAD');
    expectCode(() => parseDisconnect(utf8('{')), 'BAD_JSON');
  });
});
