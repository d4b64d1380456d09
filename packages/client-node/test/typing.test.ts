// Compile-time checks of StelarClient's event typing: the package's typecheck
// (`tsc -p test/tsconfig.json`) fails when a line marked @ts-expect-error compiles. The function
// is never called; vitest only checks that it exists.
import { describe, expect, it } from 'vitest';
import { connect, StelarClient } from '../src/index';

type ClientToServer = {
  sum: (args: { a: number; b: number }) => number;
  whoami: () => { id: string };
};
type ServerToClient = {
  confirm: (question: string) => boolean;
};

function usage(): void {
  const c = connect<ServerToClient, ClientToServer>('tcp://127.0.0.1:1', { autoConnect: false });
  const n: Promise<number> = c.request('sum', { a: 1, b: 2 }, { timeout: 100 });
  // @ts-expect-error sum needs its data (issue 15: this used to compile)
  void c.request('sum');
  // @ts-expect-error the data has both fields
  void c.request('sum', { a: 1 });
  const me: Promise<{ id: string }> = c.request('whoami');
  void c.request('whoami', undefined, { retry: true });
  // @ts-expect-error emit checks its data as well
  c.emit('sum');
  c.emit('whoami');
  c.on('confirm', (q) => q === 'ok');
  const untyped = new StelarClient('ws://127.0.0.1:1/');
  void untyped.request('anything'); // no map: any event, data optional
  void untyped.request('anything', { x: 1 }, { timeout: 5 });
  void n;
  void me;
}

describe('StelarClient typing (checked by the typecheck)', () => {
  it('request and emit need the data an event takes', () => {
    expect(usage).toBeTypeOf('function');
  });
});
