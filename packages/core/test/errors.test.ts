import { describe, expect, it } from 'vitest';
import { AuthError, publicErrorBody, StelarError, toErrorBody } from '../src/errors';

describe('errors', () => {
  it('StelarError carries a code and details; AuthError is UNAUTHORIZED', () => {
    const e = new StelarError('MY_CODE', 'msg', { extra: 1 });
    expect(e).toBeInstanceOf(Error);
    expect([e.name, e.code, e.message, e.details]).toEqual(['StelarError', 'MY_CODE', 'msg', { extra: 1 }]);
    const a = new AuthError();
    expect(a).toBeInstanceOf(StelarError);
    expect([a.name, a.code, a.message]).toEqual(['AuthError', 'UNAUTHORIZED', 'unauthorized']);
  });

  it('toErrorBody: the code of a StelarError or of an Error with a string code, else the fallback', () => {
    expect(toErrorBody(new StelarError('X', 'x'))).toEqual({ code: 'X', message: 'x' });
    expect(toErrorBody(Object.assign(new Error('e'), { code: 'ECONNRESET' }))).toEqual({ code: 'ECONNRESET', message: 'e' });
    expect(toErrorBody(Object.assign(new Error('e'), { code: 42 }))).toEqual({ code: 'HANDLER_ERROR', message: 'e' });
    expect(toErrorBody(Object.assign(new Error('e'), { code: '' }), 'REJECTED')).toEqual({ code: 'REJECTED', message: 'e' });
    expect(toErrorBody('text')).toEqual({ code: 'HANDLER_ERROR', message: 'text' });
    expect(toErrorBody({ code: 'NOT_AN_ERROR' }, 'PROTOCOL')).toEqual({ code: 'PROTOCOL', message: 'failed' });
  });

  it('publicErrorBody: a StelarError (AuthError too) as it is; anything else INTERNAL_ERROR, its message only with expose', () => {
    expect(publicErrorBody(new StelarError('NOT_FOUND', 'no such room'), false)).toEqual({ code: 'NOT_FOUND', message: 'no such room' });
    expect(publicErrorBody(new AuthError('bad token'), false)).toEqual({ code: 'UNAUTHORIZED', message: 'bad token' });
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open 'secrets/db.json'"), { code: 'ENOENT' });
    const generic = { code: 'INTERNAL_ERROR', message: 'internal server error' };
    expect(publicErrorBody(enoent, false)).toEqual(generic);
    expect(publicErrorBody(new Error('db password hunter2'), false)).toEqual(generic);
    expect(publicErrorBody('a string', false)).toEqual(generic);
    expect(publicErrorBody({ code: 'LOOKS_TYPED', message: 'but is not a StelarError' }, false)).toEqual(generic);
    expect(publicErrorBody(enoent, true)).toEqual({ code: 'INTERNAL_ERROR', message: enoent.message });
    expect(publicErrorBody('a string', true)).toEqual({ code: 'INTERNAL_ERROR', message: 'a string' });
    expect(publicErrorBody(42, true)).toEqual(generic);
  });
});
