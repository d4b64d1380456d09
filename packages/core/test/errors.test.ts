import { describe, expect, it } from 'vitest';
import { AuthError, StelarError, toErrorBody } from '../src/errors';

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
});
