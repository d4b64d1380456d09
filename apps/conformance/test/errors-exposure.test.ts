/**
 * What the wire carries of server errors (issue 15 items 2 and 3; docs/protocol.md §4 and §6,
 * docs/security.md "Errors clients see"), checked on the bytes of both transports:
 * - an error thrown by a handler that is not a StelarError reaches the client as INTERNAL_ERROR
 *   "internal server error": neither its message nor its `code` (ENOENT and its path) is on the wire;
 * - a StelarError carries its code and message;
 * - a crash in connection middleware is ERROR INTERNAL_ERROR then close 1011 (WebSocket close
 *   frame, TCP DISCONNECT), not UNAUTHORIZED/4001; AuthError is still 4001.
 */
import { decodeMessage, encodeAckRequest, encodeClientConnect, FrameType, parseAckResponse, parseErrorBody } from '@stelar/codec-tcp';
import { AuthError, StelarError } from '@stelar/server';
import { afterEach, describe, expect, it } from 'vitest';
import { OP } from '../src/wire';
import { RawTcp, rawWs, startServer, until, wsMessage } from './helpers';

const SECRET = 'hunter2';

describe('server errors on the wire', { timeout: 20_000 }, () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  async function server() {
    const h = await startServer();
    cleanups.push(() => h.close());
    const reported: string[] = [];
    h.server.onError((err) => void reported.push((err as Error).message));
    h.server.use(async (conn, next) => {
      if (conn.auth === 'crash') throw new Error(`redis auth failed, password ${SECRET}`);
      if (conn.auth === 'denied') throw new AuthError('bad token');
      await next();
    });
    h.server.on('plain', () => {
      throw new Error(`SELECT * FROM users WHERE password='${SECRET}'`);
    });
    h.server.on('enoent', () => {
      throw Object.assign(new Error(`ENOENT: no such file or directory, open 'keys/${SECRET}.pem'`), { code: 'ENOENT' });
    });
    h.server.on('typed', async () => {
      throw new StelarError('NOT_FOUND', 'no such order');
    });
    return { ...h, reported };
  }

  it('TCP: handler errors are INTERNAL_ERROR without message or code; StelarError as thrown; no secret in any byte', async () => {
    const h = await server();
    const tcp = await RawTcp.open(h.tcpPort);
    cleanups.push(() => tcp.destroy());
    const bytes: Buffer[] = [];
    tcp.socket.on('data', (c: Buffer) => void bytes.push(c));
    tcp.hello();
    await until(() => tcp.frames.some((f) => f.type === FrameType.CONNECT), 'CONNECT answer');
    tcp.write(encodeAckRequest(1, 'plain', null));
    tcp.write(encodeAckRequest(2, 'enoent', null));
    tcp.write(encodeAckRequest(3, 'typed', null));
    await until(() => tcp.frames.filter((f) => f.type === FrameType.ACK_RES).length === 3, 'three answers');
    const answers = tcp.frames.filter((f) => f.type === FrameType.ACK_RES).map((f) => parseAckResponse(f.payload));
    expect(answers.map((a) => [a.id, a.ok, parseErrorBody(a.body)])).toEqual([
      [1, false, { code: 'INTERNAL_ERROR', message: 'internal server error' }],
      [2, false, { code: 'INTERNAL_ERROR', message: 'internal server error' }],
      [3, false, { code: 'NOT_FOUND', message: 'no such order' }],
    ]);
    const wire = Buffer.concat(bytes).toString('latin1');
    expect(wire).not.toContain(SECRET);
    expect(wire).not.toContain('ENOENT');
    expect(h.reported).toHaveLength(2);
    expect(h.reported.every((m) => m.includes(SECRET))).toBe(true);
  });

  it('TCP: a middleware crash is ERROR INTERNAL_ERROR then DISCONNECT 1011; AuthError is UNAUTHORIZED then 4001', async () => {
    const h = await server();
    for (const [auth, code, message, close] of [
      ['crash', 'INTERNAL_ERROR', 'internal server error', 1011],
      ['denied', 'UNAUTHORIZED', 'bad token', 4001],
    ] as const) {
      const tcp = await RawTcp.open(h.tcpPort);
      cleanups.push(() => tcp.destroy());
      tcp.write(encodeClientConnect(auth));
      await until(() => tcp.closed, 'closed by the server');
      const err = tcp.frames.find((f) => f.type === FrameType.ERROR);
      expect(err && parseErrorBody(err.payload)).toEqual({ code, message });
      expect(tcp.disconnectCode).toBe(close);
    }
    expect(h.reported).toEqual([`redis auth failed, password ${SECRET}`]);
  });

  it('WebSocket: a middleware crash is an ERROR message then close 1011; a handler error is INTERNAL_ERROR', async () => {
    const h = await server();
    const { tester } = await rawWs(h.port);
    cleanups.push(() => tester.destroy());
    tester.send({ opcode: OP.BINARY, payload: wsMessage(encodeClientConnect('crash')) });
    expect(await tester.waitPeerGone(5000)).toBe(true);
    expect(tester.peerClosed?.code).toBe(1011);
    const messages = tester.log.filter((e) => e.kind === 'message').map((e) => decodeMessage((e as { data: Buffer }).data));
    expect(messages.map((f) => [f.type, parseErrorBody(f.payload)])).toEqual([[FrameType.ERROR, { code: 'INTERNAL_ERROR', message: 'internal server error' }]]);

    const ok = await rawWs(h.port);
    cleanups.push(() => ok.tester.destroy());
    ok.tester.send({ opcode: OP.BINARY, payload: wsMessage(encodeClientConnect('fine')) });
    ok.tester.send({ opcode: OP.BINARY, payload: wsMessage(encodeAckRequest(9, 'enoent', null)) });
    expect(await ok.tester.waitData(2, 5000)).toBe(true);
    const frames = ok.tester.log.filter((e) => e.kind === 'message').map((e) => decodeMessage((e as { data: Buffer }).data));
    const reply = parseAckResponse(frames[1]!.payload);
    expect([reply.id, reply.ok, parseErrorBody(reply.body)]).toEqual([9, false, { code: 'INTERNAL_ERROR', message: 'internal server error' }]);
  });
});
