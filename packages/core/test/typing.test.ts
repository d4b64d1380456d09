// Compile-time checks of the event maps: `tsc -p test/tsconfig.json` (the package's typecheck)
// fails when a line marked @ts-expect-error compiles, or when an unmarked line does not. The
// functions are never called; vitest only checks that they exist.
import { describe, expect, it } from 'vitest';
import { ClientEngine, type Dialer } from '../src/client/index';
import type { Connection } from '../src/connection';
import type { ConnectionHandle } from '../src/handle';
import { Hub } from '../src/hub';

type ClientToServer = {
  sum: (args: { a: number; b: number }) => number;
  ping: () => 'pong';
  maybe: (note?: string) => void;
  blob: (bytes: Uint8Array) => void;
};
type ServerToClient = {
  confirm: (question: string) => boolean;
  tick: () => void;
  either: (n: number | undefined) => number;
};

declare const dialer: Dialer;

function clientSide(): void {
  const c = new ClientEngine<ServerToClient, ClientToServer>(dialer);
  // request: data required when the event takes it
  const n: Promise<number> = c.request('sum', { a: 1, b: 2 });
  void c.request('sum', { a: 1, b: 2 }, { timeout: 100, retry: true });
  // @ts-expect-error sum needs its data
  void c.request('sum');
  // @ts-expect-error and of the right type
  void c.request('sum', { a: 1 });
  // @ts-expect-error undefined is not { a, b }
  void c.request('sum', undefined, { timeout: 100 });
  // @ts-expect-error no such event
  void c.request('nope', 1);
  // events without data: it may be left out, options may follow undefined
  const p: Promise<'pong'> = c.request('ping');
  void c.request('ping', undefined, { timeout: 5 });
  void c.request('maybe');
  void c.request('maybe', 'note');
  // @ts-expect-error a number is not a note
  void c.request('maybe', 1);
  // emit: the same rule
  c.emit('sum', { a: 1, b: 2 }, { volatile: true });
  // @ts-expect-error sum needs its data
  c.emit('sum');
  c.emit('ping');
  c.emit('blob', new Uint8Array(1));
  // @ts-expect-error binary events carry Uint8Array
  c.emit('blob', 'text');
  // handlers of what the client receives answer with the reply type
  c.on('confirm', (q) => q.length > 0);
  // @ts-expect-error the reply of confirm is a boolean
  c.on('confirm', () => 'yes');
  void n;
  void p;
}

function serverSide(hub: Hub<ClientToServer, ServerToClient>, conn: Connection<ClientToServer, ServerToClient>, handle: ConnectionHandle<ServerToClient>): void {
  const yes: Promise<boolean> = conn.request('confirm', 'sure?');
  void conn.request('confirm', 'sure?', { timeout: 10 });
  // @ts-expect-error confirm needs its question
  void conn.request('confirm');
  // @ts-expect-error of the right type
  void conn.request('confirm', 42);
  void conn.request('tick'); // no data: may be left out
  void conn.request('either'); // a parameter that accepts undefined
  void conn.request('either', 3);
  conn.emit('confirm', 'q', { volatile: true });
  // @ts-expect-error emit checks its data too
  conn.emit('confirm');
  conn.emit('tick');
  hub.emit('tick');
  hub.to('room').emit('confirm', 'q');
  // @ts-expect-error a broadcast checks its data too
  hub.to('room').emit('confirm');
  void handle.request('confirm', 'q', { timeout: 5 });
  void handle.request('tick');
  // @ts-expect-error a handle checks its data too
  void handle.request('confirm');
  // @ts-expect-error and its emit
  handle.emit('confirm');
  hub.on('sum', ({ a, b }) => a + b);
  // @ts-expect-error the reply of sum is a number
  hub.on('sum', () => 'three');
  void yes;
}

describe('typed event maps (checked by the typecheck, not at run time)', () => {
  it('request and emit need the data an event takes, on the client, a connection, a broadcast and a handle', () => {
    expect(clientSide).toBeTypeOf('function');
    expect(serverSide).toBeTypeOf('function');
  });
});
